"""What an update says besides the timeline: the next steps from the last human update, and
the actions taken (for the resolution message)."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

from bot.incidents.models import EventView, IncidentView
from bot.updates.facts import actions_taken, next_steps

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


def _incident() -> IncidentView:
    return IncidentView(
        id=7,
        number=7,
        title="Iris classifier accuracy below floor",
        severity="SEV2",
        status="investigating",
        commander="U0ONCALL",
        group_key="model=iris_classifier",
        channel="C0INCIDENTS",
        header_ts="1715678400.000100",
        created_at=T0,
        updated_at=T0,
        resolved_at=None,
        model="iris_classifier",
        production_version=2,
        runbook_id="rollback",
        last_alert_at=T0,
        published_event_id=0,
        summary="",
    )


def event(i: int, kind: str, text: str = "", actor: str | None = "U1") -> EventView:
    return EventView(i, kind, text, actor, T0 + timedelta(minutes=i), {"run_id": i})


def test_next_steps_come_from_the_last_human_update() -> None:
    incident = _incident()
    assert next_steps(replace(incident, events=[])) is None
    said = [
        event(1, "update", "Rolled back.\nNext: watch accuracy"),
        event(2, "note", "Next: not an update"),
        event(3, "update", "Cause found.\n\nNext steps: retrain on\nthe fixed features"),
    ]
    assert next_steps(replace(incident, events=said)) == "retrain on\nthe fixed features"
    assert next_steps(replace(incident, events=said[:2])) == "watch accuracy"
    nothing_next = [*said, event(4, "update", "Still looking. Next:  ")]
    assert next_steps(replace(incident, events=nothing_next)) is None
    by_the_bot = [*said[:1], event(5, "update", "Next: automated", actor=None)]
    assert next_steps(replace(incident, events=by_the_bot)) == "watch accuracy"


def test_actions_taken_are_runs_rollbacks_and_retrains() -> None:
    events = [
        event(1, "note"),
        event(2, "rollback_started"),
        event(3, "run_finished", "Roll back"),
        event(4, "status"),
        event(5, "retrain_started"),
    ]
    taken = actions_taken(replace(_incident(), events=events))
    assert [e.kind for e in taken] == ["rollback_started", "run_finished", "retrain_started"]
