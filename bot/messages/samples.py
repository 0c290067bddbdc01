"""Sample contexts for every template the bot renders, used to check all of them at start-up.

Each template name maps to a factory that returns one or more `Sample`s: a realistic context (every
variable the template reads, since rendering is strict about undefined names) and, for templates
that show lists or free text, a long variant that proves truncation and splitting stay within
Slack's limits. The real types are used where they are cheap to build (runs, checklists, runbooks,
commands); elsewhere a `SimpleNamespace` stands in for objects the template only reads attributes of.

A new template needs a sample here, or start-up reports it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace as NS
from typing import Any

from bot.access.roles import Role
from bot.commands.registry import Command
from bot.incidents.models import AlertView, EventView, IncidentView
from bot.runbook.checklist import build_checklist
from bot.runbook.schema import (
    OnFailure,
    Parameter,
    ParamType,
    Runbook,
    RunState,
    RunStatus,
    StepPhase,
    StepState,
    StepStatus,
)


@dataclass(frozen=True)
class Sample:
    """One context to render a template with; `label` names the variant in problem reports."""

    label: str
    context: dict[str, Any]


SampleFactory = Callable[[], list[Sample]]
_SAMPLES: dict[str, SampleFactory] = {}

SLASH = "/iris"
NOW = datetime(2024, 5, 14, 9, 30, tzinfo=UTC)
LONG_TEXT = ("Traceback line with a very long explanation of what went wrong. " * 160)[:10_000]


def sample(*names: str) -> Callable[[SampleFactory], SampleFactory]:
    """Register a factory for one or more template names (without `.j2`)."""

    def register(factory: SampleFactory) -> SampleFactory:
        for name in names:
            _SAMPLES[name if name.endswith(".j2") else f"{name}.j2"] = factory
        return factory

    return register


def samples_for(name: str) -> list[Sample] | None:
    """The samples of a template (`audit` or `audit.j2`), or None when it has none."""
    factory = _SAMPLES.get(name if name.endswith(".j2") else f"{name}.j2")
    return None if factory is None else factory()


def known_templates() -> frozenset[str]:
    """File names (`audit.j2`) of every template the bot has sample data for."""
    return frozenset(_SAMPLES)


# --- shared building blocks ----------------------------------------------------------------------


async def _no_handler(ctx: Any) -> None:
    return None


def _command(
    name: str = "deploy", usage: str = 'deploy <version> [--reason "..."]', role: Role = Role.ONCALL
) -> Command:
    return Command(
        path=tuple(name.split()),
        usage=usage,
        summary=f"Run the {name} runbook",
        role=role,
        handler=_no_handler,
        details="Checks the version, asks for confirmation, smoke-tests and rolls back on failure.",
        examples=("deploy v2", 'deploy v3 --reason "fix drift"'),
    )


def _run(status: RunStatus = RunStatus.WAITING_CONFIRMATION, steps: int = 5) -> RunState:
    """A deploy run, `steps` long; the third step waits for confirmation while running."""
    finished = status.finished
    states = []
    for i in range(steps):
        if finished or i < 2:
            step_status = StepStatus.SUCCEEDED
        elif i == 2:
            step_status = (
                StepStatus.WAITING_CONFIRMATION
                if status is RunStatus.WAITING_CONFIRMATION
                else StepStatus.RUNNING
            )
        else:
            step_status = StepStatus.PENDING
        step_id = ["preflight", "lock", "confirm", "deploy", "smoke"][i] if i < 5 else f"step_{i}"
        outputs: dict[str, Any] = {}
        if step_id == "preflight":
            outputs = {"from_version": 1, "to_version": 2}
        elif step_id == "smoke" and finished:
            outputs = {"samples": 12, "latency_ms": 38, "latency_bound_ms": 250}
        states.append(
            StepState(
                index=i,
                step_id=step_id,
                title=step_id.replace("_", " ").capitalize() + (" step" * (i % 3)),
                action="deploy.preflight",
                status=step_status,
                summary="v1 → v2 checked" if step_status is StepStatus.SUCCEEDED else None,
                outputs=outputs,
                started_at=NOW,
                finished_at=NOW + timedelta(seconds=3) if finished or i < 2 else None,
                confirmed_by="U0ADMIN" if i == 2 and finished else None,
            )
        )
    states.append(
        StepState(
            index=steps,
            step_id="restore",
            title="Restore the previous version",
            action="deploy.rollback",
            phase=StepPhase.ROLLBACK,
            status=StepStatus.SUCCEEDED if status is RunStatus.ROLLED_BACK else StepStatus.PENDING,
        )
    )
    return RunState(
        id=42,
        runbook_id="deploy",
        runbook_title="Deploy a model version",
        params={"version": 2, "reason": "fix drift", "dry_run": False},
        actor="U0ONCALL",
        status=status,
        current_step=2,
        steps=states,
        error="smoke test failed: latency 900 ms above 250 ms"
        if status in (RunStatus.ROLLED_BACK, RunStatus.FAILED)
        else None,
        cancelled_by="U0ADMIN" if status is RunStatus.CANCELLED else None,
        created_at=NOW,
        updated_at=NOW,
        finished_at=NOW if finished else None,
    )


def _runbook(steps: int = 4) -> Runbook:
    from bot.runbook.schema import Step

    return Runbook(
        id="deploy",
        title="Deploy a model version",
        scenario="A new version passed the retrain gate.",
        objective="Serve it without downtime, roll back if the smoke test fails.",
        triggers=["ModelAccuracyBelowFloor"],
        parameters={
            "version": Parameter(type=ParamType.VERSION, required=True, description="to deploy"),
            "reason": Parameter(default="", description="why, for the audit trail"),
            "dry_run": Parameter(type=ParamType.BOOL, default=False),
        },
        steps=[
            Step(
                id=f"step_{i}",
                title=f"Step {i} of the deploy",
                action="deploy.preflight",
                confirm=i == 1,
                on_failure=OnFailure.ROLLBACK,
            )
            for i in range(steps)
        ],
        rollback=[Step(id="restore", action="deploy.rollback")],
    )


def _alert(name: str, status: str = "firing") -> AlertView:
    return AlertView(
        fingerprint=f"fp-{name}",
        alertname=name,
        status=status,
        labels={"model": "iris_classifier", "severity": "critical"},
        annotations={
            "summary": f"{name} on iris_classifier",
            "description": "Accuracy on live feedback is 71%, below the floor 85%.",
        },
        starts_at=NOW - timedelta(minutes=20),
        ends_at=None if status == "firing" else NOW,
    )


def _deploy(kind: str = "deploy") -> NS:
    return NS(
        kind=kind,
        from_version=1,
        to_version=2,
        outcome="succeeded",
        actor="U0ONCALL",
        finished_at=NOW - timedelta(hours=3),
        reason="fix drift",
    )


EVENT_KINDS = ["opened", "diagnosis", "alerts_changed", "commander", "rollback_started", "note"]


def _event(i: int, kind: str, data: dict[str, Any] | None = None, text: str = "") -> EventView:
    return EventView(
        id=i,
        kind=kind,
        text=text,
        actor="U0ONCALL",
        at=NOW - timedelta(minutes=20 - i % 20),
        data=data if data is not None else {"run_id": 42, "new": ["ModelInputDrift"]},
    )


def _incident(
    status: str = "investigating", alerts: int = 2, events: int = 4, declared: bool = False
) -> IncidentView:
    """An incident as the incidents service hands it to templates (the real view type)."""
    return IncidentView(
        id=7,
        number=7,
        title="Iris classifier accuracy below floor",
        severity="SEV2",
        status=status,
        commander="U0ONCALL",
        group_key="declared:7" if declared else "model=iris_classifier",
        channel="C0INCIDENTS",
        header_ts="1715678400.000100",
        created_at=NOW - timedelta(minutes=25),
        updated_at=NOW,
        resolved_at=NOW if status == "resolved" else None,
        model="iris_classifier",
        production_version=2,
        runbook_id="rollback",
        last_alert_at=NOW,
        published_event_id=0,
        summary="Rolled back to v1." if status == "resolved" else "",
        alerts=[_alert(f"ModelAccuracyBelowFloor{i or ''}") for i in range(alerts)],
        events=[
            _event(i, EVENT_KINDS[i % len(EVENT_KINDS)], text="looking at it")
            for i in range(events)
        ],
        impact="Predictions for the shop's sorting line are wrong about 1 in 4 times.",
        participants=["U0ONCALL", "U0ADMIN"],
    )


def _feature(name: str, drifted: bool = False) -> NS:
    return NS(
        name=name,
        method="ks",
        status="ok",
        statistic=0.31,
        p_value=0.002 if drifted else 0.4,
        distance=None,
        psi=0.12,
        drifted=drifted,
        window_size=200,
    )


def _drift() -> NS:
    return NS(
        version=2,
        inputs=NS(
            dataset_drifted=False,
            drifted_features=["petal_length"],
            enough_data=True,
            drifted_share=0.25,
            window=200,
            reference=120,
            reason=None,
            features=[
                _feature("sepal_length"),
                _feature("sepal_width"),
                _feature("petal_length", drifted=True),
                _feature("petal_width"),
            ],
        ),
        predictions=NS(
            drifted=False,
            enough_data=True,
            p_value=0.31,
            window_size=200,
            observed={"setosa": 70, "versicolor": 65, "virginica": 65},
            reason=None,
        ),
    )


def _accuracy() -> NS:
    return NS(
        version=2,
        accuracy=0.71,
        floor=0.85,
        correct=71,
        labelled=100,
        holdout_accuracy=0.96,
        enough_data=True,
        below_floor=True,
        reason="",
    )


def _serving() -> NS:
    return NS(
        up=True,
        enough_data=True,
        requests=480,
        errors=3,
        error_rate=0.00625,
        p99_seconds=0.042,
        consecutive_failures=0,
        reason="",
    )


def _monitor_config() -> NS:
    return NS(model="iris_classifier", serving_error_rate_max=0.02, serving_p99_seconds=0.5)


def _evaluation(accuracy: float) -> NS:
    labels = ["setosa", "versicolor", "virginica"]
    return NS(
        accuracy=accuracy,
        macro_f1=accuracy - 0.01,
        per_class_recall={label: accuracy for label in labels},
        labels=labels,
        confusion_matrix=[[10, 0, 0], [0, 9, 1], [0, 1, 9]],
    )


# --- one factory per template --------------------------------------------------------------------


@sample("audit")
def _audit() -> list[Sample]:
    def entries(n: int) -> list[NS]:
        return [
            NS(
                at=NOW - timedelta(minutes=i),
                actor="U0ONCALL",
                action="deploy",
                arguments="v2 --reason fix",
                result="ok",
                detail="run #42",
            )
            for i in range(n)
        ]

    return [
        Sample("one user", {"slash": SLASH, "actor": "U0ONCALL", "entries": entries(3)}),
        Sample("empty", {"slash": SLASH, "actor": None, "entries": []}),
        Sample("2,000 records", {"slash": SLASH, "actor": None, "entries": entries(2000)}),
    ]


@sample("data_ingest")
def _data_ingest() -> list[Sample]:
    report = NS(
        files=["2024-05-14.csv", "2024-05-13.csv"],
        skipped=["2024-05-12.csv"],
        rows_added=180,
        rows_quarantined=4,
        reasons={"missing value": 3, "negative length": 1},
        examples=[{"sepal_length": -1.0, "species": "setosa"}] * 4,
        seconds=0.42,
    )
    empty = NS(
        files=[], skipped=[], rows_added=0, rows_quarantined=0, reasons={}, examples=[], seconds=0
    )
    return [
        Sample("files", {"slash": SLASH, "report": report}),
        Sample("nothing new", {"slash": SLASH, "report": empty}),
    ]


@sample("data_summary")
def _data_summary() -> list[Sample]:
    summary = NS(
        rows_by_source={"base": 150, "feedback": 240},
        rows_by_class={"base": {"setosa": 50, "versicolor": 50, "virginica": 50}},
        new_since=90,
        quarantined=4,
        quarantine_reasons={"missing value": 3, "negative length": 1},
        recent_quarantine=[{"sepal_length": None}],
        files=5,
    )
    empty = NS(
        rows_by_source={},
        rows_by_class={},
        new_since=None,
        quarantined=0,
        quarantine_reasons={},
        recent_quarantine=[],
        files=0,
    )
    production = NS(label="v2")
    return [
        Sample(
            "in production",
            {
                "slash": SLASH,
                "summary": summary,
                "production": production,
                "since": NOW - timedelta(days=2),
            },
        ),
        Sample("empty", {"slash": SLASH, "summary": empty, "production": None, "since": None}),
    ]


@sample("denied")
def _denied() -> list[Sample]:
    return [Sample("viewer", {"slash": SLASH, "command": _command(), "role": "viewer"})]


@sample("denied_action")
def _denied_action() -> list[Sample]:
    return [
        Sample("button", {"action": NS(role=Role.ADMIN), "role": "viewer", "what": "button"}),
        Sample("form", {"action": NS(role=Role.ONCALL), "role": "viewer", "what": "form"}),
    ]


@sample("deploy_refused")
def _deploy_refused() -> list[Sample]:
    lock = NS(holder="U0OTHER", purpose="deploy v3", acquired_at=NOW)
    base = {"slash": SLASH, "version": 2, "lock": lock, "production": 1}
    kinds = ["already_production", "lock_held", "no_history", "nothing_in_production", "other"]
    return [Sample(kind, {**base, "kind": kind}) for kind in kinds]


@sample("drift_row")
def _drift_row() -> list[Sample]:
    return [Sample("feature", {"f": _feature("petal_length", drifted=True)})]


@sample("drift_table")
def _drift_table() -> list[Sample]:
    return [
        Sample(
            "drift",
            {
                "slash": SLASH,
                "drift": _drift(),
                "model_name": "iris_classifier",
                "drift_share": 0.5,
                "ks_pvalue": 0.05,
                "ks_max_rows": 5000,
                "wasserstein": 0.1,
            },
        )
    ]


@sample("error")
def _error() -> list[Sample]:
    return [
        Sample("in a command", {"slash": SLASH, "command": _command(), "error_id": "e-1a2b3c"}),
        Sample("in a button", {"slash": SLASH, "command": None, "error_id": "e-1a2b3c"}),
    ]


@sample("help")
def _help() -> list[Sample]:
    commands = [_command(), _command("status", "status", Role.VIEWER)]
    many = [_command(f"command{i}", f"command{i} <arg> [--flag]") for i in range(300)]
    return [
        Sample("all", {"slash": SLASH, "topic": None, "commands": commands, "role": "oncall"}),
        Sample("300 commands", {"slash": SLASH, "topic": "x", "commands": many, "role": "admin"}),
    ]


@sample("help_command")
def _help_command() -> list[Sample]:
    return [Sample("deploy", {"slash": SLASH, "command": _command(), "role": "oncall"})]


@sample("incident_answer")
def _incident_answer() -> list[Sample]:
    base = {
        "slash": SLASH,
        "wanted": "INC-9",
        "refs": ["INC-7", "INC-8"],
        "incident": _incident(),
        "runbook": "retrain",
        "problem": "version is required",
        "run": _run(),
    }
    base.update(what="severity", value="SEV1", path="var/postmortems/INC-7.md", until=NOW)
    kinds = [
        "not_found",
        "not_set_up",
        "which",
        "declared",
        "changed",
        "unchanged",
        "update_sent",
        "noted",
        "postmortem",
        "resolved",
        "already_resolved",
        "acknowledged",
        "already_commander",
        "no_retrain",
        "runbook_problem",
        "started",
        "snoozed",
        "reminder_answered",
        "update_empty",
        "update_closed",
        "other",
    ]
    return [Sample(kind, {**base, "kind": kind}) for kind in kinds]


@sample("incident_header")
def _incident_header() -> list[Sample]:
    facts = NS(
        last_deploy=_deploy(),
        runbook_title="Roll back",
        diagnosis=NS(title="Accuracy 71% (floor 85%)", lines=["71 right of 100 labelled"]),
        next_update=NOW + timedelta(minutes=30),
    )
    bare = NS(last_deploy=None, runbook_title=None, diagnosis=None, next_update=None)
    return [
        Sample("open", {"slash": SLASH, "incident": _incident(), "facts": facts}),
        Sample("resolved", {"slash": SLASH, "incident": _incident("resolved"), "facts": bare}),
        Sample("80 alerts", {"slash": SLASH, "incident": _incident(alerts=80), "facts": facts}),
        Sample(
            "declared",
            {"slash": SLASH, "incident": _incident(alerts=0, declared=True), "facts": bare},
        ),
    ]


@sample("incident_update")
def _incident_update() -> list[Sample]:
    actions = [
        _event(1, "rollback_started", {"run_id": 42}),
        _event(2, "run_finished", {"run_id": 42, "status": "succeeded"}, "Roll back"),
    ]
    base = {
        "slash": SLASH,
        "incident": _incident(),
        "text": "",
        "next_update": NOW,
        "next_steps": "Watch accuracy for an hour, then close.",
        "actions_taken": actions,
    }
    done = [_event(i, EVENT_KINDS[i % len(EVENT_KINDS)], text="x" * 300) for i in range(40)]
    return [
        Sample("scheduled", {**base, "kind": "scheduled", "done": done[:4]}),
        Sample("manual", {**base, "kind": "manual", "done": [], "text": "rolled back to v1"}),
        Sample("many done", {**base, "kind": "scheduled", "done": done, "text": "y" * 3500}),
        Sample(
            "no next",
            {**base, "kind": "scheduled", "done": [], "next_update": None, "next_steps": None},
        ),
        Sample(
            "resolved",
            {**base, "kind": "resolved", "done": [], "incident": _incident("resolved")},
        ),
        Sample(
            "resolved, nothing done",
            {
                **base,
                "kind": "resolved",
                "done": [],
                "actions_taken": [],
                "incident": _incident("resolved"),
            },
        ),
    ]


def _reminder(answer: str | None = None) -> NS:
    return NS(
        id=3,
        answer=answer,
        answered_by="U0ONCALL" if answer else None,
        snoozed_until=NOW + timedelta(minutes=30) if answer == "snoozed" else None,
    )


@sample("incident_reminder")
def _incident_reminder() -> list[Sample]:
    base = {"slash": SLASH, "silent_for": timedelta(minutes=62), "minutes": 60}
    no_commander = replace(_incident(), commander=None)
    return [
        Sample("ask", {**base, "incident": _incident(), "reminder": _reminder()}),
        Sample("no commander", {**base, "incident": no_commander, "reminder": _reminder()}),
        Sample("snoozed", {**base, "incident": _incident(), "reminder": _reminder("snoozed")}),
        Sample("updated", {**base, "incident": _incident(), "reminder": _reminder("updated")}),
    ]


@sample("incident_update_modal")
def _incident_update_modal() -> list[Sample]:
    news = [_event(i, EVENT_KINDS[i % len(EVENT_KINDS)], text="z" * 400) for i in range(30)]
    return [
        Sample("news", {"slash": SLASH, "incident": _incident(), "news": news[:3]}),
        Sample("nothing new", {"slash": SLASH, "incident": _incident(), "news": []}),
        Sample("long timeline", {"slash": SLASH, "incident": _incident(), "news": news}),
    ]


@sample("incident_subscribe")
def _incident_subscribe() -> list[Sample]:
    base = {
        "slash": SLASH,
        "ref": "INC-7",
        "subscriber": "C0STAKEHOLDERS",
        "subscriber_kind": "user",
        "stakeholder": "ml-stakeholders",
        "refs": {"7": "INC-7"},
        "severity": None,
        "subscriptions": [
            NS(scope="all", min_severity="SEV2"),
            NS(scope="7", min_severity=None),
            NS(scope="99", min_severity=None),
        ],
    }
    kinds = ["subscribed", "changed", "already", "unsubscribed", "not_subscribed", "list", "other"]
    out = [Sample(kind, {**base, "kind": kind}) for kind in kinds]
    every_sev2 = {**base, "ref": None, "severity": "SEV2"}
    out += [
        Sample("channel", {**base, "kind": "subscribed", "subscriber_kind": "channel"}),
        Sample("all", {**base, "kind": "subscribed", "ref": None}),
        Sample("sev2", {**every_sev2, "kind": "subscribed"}),
        Sample("sev2 changed", {**every_sev2, "kind": "changed", "subscriber_kind": "channel"}),
        Sample("sev2 already", {**every_sev2, "kind": "already"}),
        Sample("empty list", {**base, "kind": "list", "subscriptions": [], "stakeholder": None}),
    ]
    return out


@sample("incident_list")
def _incident_list() -> list[Sample]:
    return [
        Sample("two", {"slash": SLASH, "incidents": [_incident(), _incident("resolved")]}),
        Sample("none", {"slash": SLASH, "incidents": []}),
        Sample("500", {"slash": SLASH, "incidents": [_incident() for _ in range(500)]}),
    ]


@sample("incident_show")
def _incident_show() -> list[Sample]:
    return [
        Sample("open", {"slash": SLASH, "incident": _incident()}),
        Sample("resolved", {"slash": SLASH, "incident": _incident("resolved")}),
        Sample("long timeline", {"slash": SLASH, "incident": _incident(events=1500)}),
    ]


@sample("incident_timeline")
def _incident_timeline() -> list[Sample]:
    incident = _incident()
    kinds = [
        ("opened", {"alertnames": ["ModelAccuracyBelowFloor"]}, None),
        ("diagnosis", {"title": "Accuracy 71%", "lines": ["71 of 100"]}, None),
        ("alerts_changed", {"new": ["A"], "refired": ["B"], "resolved": ["C"]}, None),
        ("monitoring", {}, None),
        ("reopened", {}, None),
        ("resolved", {"reason": "quiet"}, None),
        ("resolved", {}, "rolled back"),
        ("commander", {}, None),
        ("rollback_started", {"run_id": 42}, None),
        ("retrain_started", {"run_id": 43}, None),
        ("note", {}, "checked the dashboard"),
        ("opened", {"declared": True, "severity": "SEV1"}, None),
        ("commander", {"by": "U0ADMIN"}, None),
        ("status", {"from": "investigating", "to": "identified"}, "bad deploy"),
        ("severity", {"from": "SEV3", "to": "SEV2"}, None),
        ("impact", {}, "1 in 4 predictions wrong"),
        ("update", {"severity": "SEV2", "status": "identified", "impact": "some"}, "Rolling back"),
        ("pinned", {}, "the deploy at 09:02 <is> the cause"),
        ("update_sent", {"kind": "scheduled", "slot": "every30m@x#1", "recipients": 3}, None),
        ("update_sent", {"kind": "resolved", "slot": "resolved", "recipients": 1}, None),
        ("run_started", {"run_id": 42, "linked": True}, "Roll back"),
        ("run_step", {"run_id": 42, "outcome": "failed", "detail": LONG_TEXT}, "Smoke test"),
        ("run_finished", {"run_id": 42, "status": "rolled_back", "error": "smoke"}, "Deploy"),
        ("some_future_kind", {}, "whatever"),
    ]
    events = [_event(i, k, d, t or "") for i, (k, d, t) in enumerate(kinds)]
    opened = [EventView(1, "opened", "", None, NOW, {"alertnames": ["A"]})]
    return [
        Sample("every kind", {"incident": incident, "events": events, "quiet_minutes": 15}),
        Sample("opened", {"incident": incident, "events": opened, "quiet_minutes": 15}),
        Sample("many", {"incident": incident, "events": events * 300, "quiet_minutes": 15}),
    ]


@sample("mention")
def _mention() -> list[Sample]:
    return [Sample("hello", {"slash": SLASH})]


@sample("models")
def _models() -> list[Sample]:
    def versions(n: int) -> list[NS]:
        return [
            NS(
                version=i + 1,
                is_production=i == 1,
                estimator="LogisticRegression",
                accuracy=0.96 if i else None,
                macro_f1=0.95,
                validation_status="passed",
                trained_by="U0ONCALL",
                created_at=NOW - timedelta(days=n - i),
            )
            for i in range(n)
        ]

    ctx = {"slash": SLASH, "model_name": "iris_classifier"}
    return [
        Sample(
            "two", {**ctx, "versions": versions(2), "history": [_deploy(), _deploy("rollback")]}
        ),
        Sample("none", {**ctx, "versions": [], "history": []}),
        Sample("400 versions", {**ctx, "versions": versions(400), "history": [_deploy()] * 5}),
    ]


@sample("monitor_alert")
def _monitor_alert() -> list[Sample]:
    base = {
        "config": _monitor_config(),
        "acc": _accuracy(),
        "drift": _drift(),
        "h": _serving(),
    }
    names = [
        "ModelAccuracyBelowFloor",
        "ModelInputDrift",
        "ModelPredictionDrift",
        "ModelServerDown",
        "ModelServingErrors",
        "ModelServingLatency",
        "SomethingElse",
    ]
    return [
        Sample(
            f"{name} {'firing' if firing else 'resolved'}",
            {**base, "alertname": name, "firing": firing},
        )
        for name in names
        for firing in (True, False)
    ]


@sample("monitor_diagnosis")
def _monitor_diagnosis() -> list[Sample]:
    snapshot = NS(drift=_drift(), accuracy=_accuracy(), serving=_serving())
    empty = NS(drift=None, accuracy=None, serving=None)
    base = {"config": _monitor_config(), "labels": {"version": "2"}, "alertname": "X"}
    return [
        Sample(
            f"{kind}{' (no check yet)' if snap is empty else ''}",
            {**base, "kind": kind, "snapshot": snap},
        )
        for kind in ("drift", "accuracy", "latency", "other")
        for snap in (snapshot, empty)
    ]


@sample("monitor_report")
def _monitor_report() -> list[Sample]:
    snapshot = NS(
        accuracy=_accuracy(),
        drift=_drift(),
        serving=_serving(),
        firing=["ModelAccuracyBelowFloor"],
        registry_error=None,
    )
    return [
        Sample(
            "firing",
            {
                "slash": SLASH,
                "snapshot": snapshot,
                "model_name": "iris_classifier",
                "error_rate_max": 0.02,
                "p99_max": 0.5,
            },
        )
    ]


@sample("promote_refused")
def _promote_refused() -> list[Sample]:
    base = {"slash": SLASH, "version": "v3"}
    return [Sample(kind, {**base, "kind": kind}) for kind in ("discard_production", "other")]


@sample("production_refused")
def _production_refused() -> list[Sample]:
    base = {
        "slash": SLASH,
        "version": "v3",
        "status": "rejected",
        "reasons": "accuracy 80% below production 96%",
        "discarded_by": "U0ONCALL",
        "action": "deploy",
        "role": "oncall",
        "admin": False,
    }
    kinds = [
        "gate_rejected",
        "discarded",
        "validation_failed",
        "not_passed",
        "never_validated",
        "force_needs_admin",
        "force_needs_reason",
        "other",
    ]
    samples = [Sample(kind, {**base, "kind": kind}) for kind in kinds]
    samples.append(Sample("admin", {**base, "kind": "gate_rejected", "admin": True}))
    samples.append(
        Sample("long reasons", {**base, "kind": "gate_rejected", "reasons": LONG_TEXT[:2500]})
    )
    return samples


@sample("preflight_refused")
def _preflight_refused() -> list[Sample]:
    facts = {
        "slash": SLASH,
        "version": "v3",
        "stored_accuracy": 0.977778,
        "measured_accuracy": 0.311111,
        "difference": 0.666667,
        "tolerance": 0.01,
    }
    return [Sample(k, {**facts, "kind": k}) for k in ("holdout_disagrees", "other")]


@sample("registry_unavailable")
def _registry_unavailable() -> list[Sample]:
    return [
        Sample("refused", {"slash": SLASH, "problem": "connection refused"}),
        Sample("10,000-character error", {"slash": SLASH, "problem": LONG_TEXT}),
    ]


@sample("retrain_discarded")
def _retrain_discarded() -> list[Sample]:
    return [Sample("discarded", {"slash": SLASH, "version": "v3", "user": "U0ONCALL"})]


@sample("retrain_invalid")
def _retrain_invalid() -> list[Sample]:
    command = _command("retrain", "retrain [--force] [--estimator NAME]")
    return [
        Sample("two", {"slash": SLASH, "command": command, "problems": ["a", "b <c>"]}),
        Sample("long", {"slash": SLASH, "command": command, "problems": [LONG_TEXT] * 3}),
    ]


@sample("retrain_nothing_new")
def _retrain_nothing_new() -> list[Sample]:
    return [
        Sample("known", {"slash": SLASH, "version": "v2", "since": NOW}),
        Sample("unknown", {"slash": SLASH, "version": "v2", "since": None}),
    ]


@sample("retrain_report")
def _retrain_report() -> list[Sample]:
    train = NS(
        evaluation=_evaluation(0.95),
        estimator="LogisticRegression",
        params={"C": 1.0},
        rows_by_source={"base": 150, "feedback": 240},
        n_train=360,
        data_hash="0123456789abcdef",
        holdout_version="h1",
    )

    def gate(passed: bool) -> NS:
        return NS(
            candidate=_evaluation(0.97),
            production=_evaluation(0.96),
            production_version=2,
            passed=passed,
            verdict=NS(
                checks=[NS(detail="accuracy 97% ≥ 96%")],
                reasons=["accuracy 80% below production 96%"],
            ),
        )

    base = {"slash": SLASH, "train": train, "run_id": 43, "summary": NS(new_since=90)}
    return [
        Sample("passed", {**base, "gate": gate(True), "version": 3, "actor": "U0ONCALL"}),
        Sample("rejected", {**base, "gate": gate(False), "version": 3, "actor": "scheduler"}),
        Sample("no gate", {**base, "gate": None, "version": None, "actor": "U0ONCALL"}),
    ]


@sample("run_not_waiting")
def _run_not_waiting() -> list[Sample]:
    return [
        Sample("done", {"slash": SLASH, "problem": "run #42 is not waiting for a confirmation"})
    ]


@sample("runbook_done")
def _runbook_done() -> list[Sample]:
    out = []
    for status in (
        RunStatus.SUCCEEDED,
        RunStatus.ROLLED_BACK,
        RunStatus.ROLLBACK_FAILED,
        RunStatus.CANCELLED,
    ):
        run = _run(status)
        out.append(Sample(status.value, {"slash": SLASH, "run": run, "view": build_checklist(run)}))
    return out


@sample("runbook_input_error")
def _runbook_input_error() -> list[Sample]:
    return [
        Sample(
            "missing",
            {"slash": SLASH, "runbook": _runbook(), "problem": "`version` is required <here>"},
        )
    ]


@sample("runbook_list")
def _runbook_list() -> list[Sample]:
    rb = NS(id="deploy", title="Deploy a model version", triggers=["ModelAccuracyBelowFloor"])
    return [
        Sample("loaded", {"slash": SLASH, "runbooks": [rb, NS(id="x", title="X", triggers=[])]}),
        Sample("none", {"slash": SLASH, "runbooks": []}),
        Sample("300", {"slash": SLASH, "runbooks": [rb] * 300}),
    ]


@sample("runbook_run")
def _runbook_run() -> list[Sample]:
    out = []
    for label, run in (
        ("waiting", _run()),
        ("rolled back", _run(RunStatus.ROLLED_BACK)),
        ("cancelled", _run(RunStatus.CANCELLED)),
        ("60 steps", _run(RunStatus.RUNNING, steps=60)),
        ("600 steps", _run(RunStatus.RUNNING, steps=600)),
    ):
        out.append(Sample(label, {"slash": SLASH, "run": run, "view": build_checklist(run)}))
    return out


@sample("runbook_show")
def _runbook_show() -> list[Sample]:
    return [
        Sample("deploy", {"slash": SLASH, "runbook": _runbook()}),
        Sample("60 steps", {"slash": SLASH, "runbook": _runbook(60)}),
    ]


@sample("runbook_started")
def _runbook_started() -> list[Sample]:
    return [Sample("deploy", {"slash": SLASH, "run": _run(RunStatus.RUNNING)})]


@sample("stale_button")
def _stale_button() -> list[Sample]:
    return [Sample("stale", {"slash": SLASH})]


@sample("status")
def _status() -> list[Sample]:
    def facts(sections: int, leader: bool = True) -> dict[str, Any]:
        return {
            "slash": SLASH,
            "version": "0.4.0",
            "mode": "local",
            "uptime_seconds": 3725,
            "database_ok": True,
            "database_kind": "sqlite",
            "scheduler": NS(running=True, leader=leader, jobs=4),
            "sections": [
                NS(title=f"Model {i}", lines=["production v2", "server up"])
                for i in range(sections)
            ],
        }

    return [
        Sample("running", facts(1)),
        Sample("standby", facts(1, leader=False)),
        Sample("60 sections", facts(60)),
    ]


@sample("unknown_runbook")
def _unknown_runbook() -> list[Sample]:
    return [Sample("typo", {"slash": SLASH, "wanted": "deplo<y>", "runbooks": ["deploy"]})]


@sample("unknown_version")
def _unknown_version() -> list[Sample]:
    return [
        Sample("some", {"slash": SLASH, "wanted": "v9", "available": [1, 2]}),
        Sample("none", {"slash": SLASH, "wanted": "v9", "available": []}),
    ]


@sample("usage_error")
def _usage_error() -> list[Sample]:
    return [
        Sample(
            "with suggestion",
            {
                "slash": SLASH,
                "problem": "unknown command `deplyo`",
                "command": _command(),
                "suggestion": _command(),
            },
        ),
        Sample("bare", {"slash": SLASH, "problem": LONG_TEXT, "command": None, "suggestion": None}),
    ]


@sample("working")
def _working() -> list[Sample]:
    return [Sample("deploy", {"slash": SLASH, "text": "deploy v2"})]
