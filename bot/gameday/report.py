"""The drill's measurements: time to detect and to mitigate, chat actions, stakeholder messages,
anything lost or duplicated; and the goals they are judged against."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from bot.gameday import service
from bot.gameday.context import DrillContext
from bot.gameday.models import DrillOutcome
from bot.gameday.scenario import Scenario

GOAL_DETECT_INTERVALS = 2.0
GOAL_CHAT_ACTIONS = 3


def _at(seconds: float | None) -> datetime | None:
    return datetime.fromtimestamp(seconds, UTC) if seconds is not None else None


def build_report(
    *,
    ctx: DrillContext,
    scenario: Scenario,
    state: dict[str, Any],
    outcome: DrillOutcome,
    reason: str,
    detail: str,
    steady_after: bool,
    probes: list[list[Any]] | None = None,
    now: datetime,
) -> dict[str, Any]:
    """Everything the report template and the bench table show, as plain JSON values."""
    fault_at, detected_at, mitigated_at = (
        state.get("fault_at"),
        state.get("detected_at"),
        state.get("mitigated_at"),
    )
    detect = detected_at - fault_at if fault_at and detected_at else None
    mitigate = mitigated_at - fault_at if fault_at and mitigated_at else None
    interval = (
        ctx.monitor_interval
        if scenario.detected_by == "monitors"
        else ctx.deps.settings.monitor_interval_seconds or 60.0
    )
    started = datetime.fromtimestamp(ctx.started, UTC)
    with ctx.deps.db.engine.connect() as conn:
        incidents = service.drill_incidents(conn, since=started)
        ledger = service.deliveries(conn, incident_ids=incidents)
        actions = (
            # Until now, not until mitigation: a click's audit row lands just after its effect.
            service.chat_actions(conn, since=_at(fault_at), until=now)  # type: ignore[arg-type]
            if fault_at
            else 0
        )
    sent = ledger.get("sent", 0)
    lost = sum(n for state_, n in ledger.items() if state_ != "sent")
    duplicated = int(state.get("duplicated", 0))
    detect_intervals = detect / interval if detect is not None and interval else None
    goals = {
        "detected": detect_intervals is not None
        and detect_intervals <= scenario.detect_within_intervals,
        "chat_actions": actions <= GOAL_CHAT_ACTIONS,
        "nothing_lost": lost == 0 and duplicated == 0,
    }
    return {
        "run_id": ctx.run_id,
        "scenario": scenario.id,
        "title": scenario.title,
        "runbook": scenario.runbook,
        "hypothesis": scenario.hypothesis,
        "owner": ctx.owner,
        "speed": ctx.speed,
        "outcome": outcome.value,
        "reason": reason,
        "reason_detail": detail,  # technical, for logs and the command line
        "reason_probes": list(probes or []),  # the probes that did not hold, for the report
        "detect_seconds": detect,
        "mitigate_seconds": mitigate,
        "monitor_interval_seconds": interval,
        "detect_intervals": detect_intervals,
        "detect_goal_intervals": scenario.detect_within_intervals,
        "detected_by": scenario.detected_by,
        "chat_actions": actions,
        "messages": sent,
        "lost": lost,
        "duplicated": duplicated,
        "incidents": incidents,
        "steady_state_after": steady_after,
        "goals": goals,
        "events": list(state.get("events", [])),
        "finished_at": now.isoformat(),
    }
