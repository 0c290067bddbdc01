"""Monitor findings as Alertmanager v4 webhook payloads, sent on change (and again while firing).

Each alert name has one state per model. A check that crosses its threshold sends `firing`; one
that recovers sends `resolved`; an alert still firing is sent again every `repeat_seconds`
(like Alertmanager's repeat_interval) and whenever its severity changes. Summaries carry live
numbers, so a changed summary alone does not resend.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

RECEIVER = "oncall-bot"
ZERO_TIME = "0001-01-01T00:00:00Z"  # what Alertmanager sends as endsAt of a firing alert

Severity = Literal["critical", "warning"]

ACCURACY = "ModelAccuracyBelowFloor"
INPUT_DRIFT = "ModelInputDrift"
PREDICTION_DRIFT = "ModelPredictionDrift"
SERVING_ERRORS = "ModelServingErrors"
SERVING_LATENCY = "ModelServingLatency"
SERVER_DOWN = "ModelServerDown"
INPUT_REFUSED = "ModelInputRefused"
ALERT_NAMES = (
    ACCURACY,
    INPUT_DRIFT,
    PREDICTION_DRIFT,
    SERVING_ERRORS,
    SERVING_LATENCY,
    SERVER_DOWN,
    INPUT_REFUSED,
)

# Runbook ids in runbooks/: accuracy → roll back to a version that was good; drift → retrain.
RUNBOOKS = {
    ACCURACY: "rollback",
    INPUT_DRIFT: "retrain",
    PREDICTION_DRIFT: "retrain",
    SERVING_ERRORS: "rollback",
    # Latency is capacity, not a bad version: the runbook whose triggers name it (scaling), if any.
    SERVING_LATENCY: "",
    SERVER_DOWN: "deploy",
    INPUT_REFUSED: "",
}


@dataclass(frozen=True)
class Finding:
    """One check's verdict on one alert: firing or not, and what to say about it."""

    alertname: str
    firing: bool
    severity: Severity = "warning"
    summary: str = ""
    description: str = ""
    labels: dict[str, str] = field(default_factory=dict)


@dataclass
class AlertState:
    firing: bool
    starts_at: datetime
    last_sent: datetime
    severity: str
    summary: str


def _ts(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def fingerprint(labels: dict[str, str]) -> str:
    """Stable id of one alert (alertname + model), 16 hex chars like Alertmanager's."""
    key = f"{labels.get('alertname', '')}\x1f{labels.get('model', '')}"
    return hashlib.sha256(key.encode()).hexdigest()[:16]


def cause_labels(labels: dict[str, str]) -> dict[str, str]:
    """What an alert is grouped by: findings about one model version share a cause (input and
    prediction drift of the same window, accuracy of that version), so they share one incident;
    findings without a version (serving) are grouped by their name."""
    if labels.get("version"):
        return {"model": labels.get("model", ""), "version": labels["version"]}
    return {"alertname": labels["alertname"]}


def worst_first(payloads: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Firing before resolved, critical before warning: the first of a group opens its incident
    (and titles it), the others join it."""
    rank = {"critical": 0, "warning": 1}
    return sorted(
        payloads,
        key=lambda p: (
            p["status"] != "firing",
            rank.get(p["commonLabels"].get("severity", ""), 2),
        ),
    )


def build_payload(
    *,
    status: Literal["firing", "resolved"],
    labels: dict[str, str],
    summary: str,
    description: str,
    starts_at: datetime,
    ends_at: datetime | None = None,
    generator_url: str = "",
) -> dict[str, Any]:
    """An Alertmanager v4 webhook payload carrying one alert."""
    annotations = {"summary": summary, "description": description}
    group_labels = cause_labels(labels)
    group_key = "{}:{" + ",".join(f'{k}="{v}"' for k, v in sorted(group_labels.items())) + "}"
    return {
        "version": "4",
        "groupKey": group_key,
        "status": status,
        "receiver": RECEIVER,
        "groupLabels": group_labels,
        "commonLabels": dict(labels),
        "commonAnnotations": dict(annotations),
        "externalURL": "",
        "alerts": [
            {
                "status": status,
                "labels": dict(labels),
                "annotations": dict(annotations),
                "startsAt": _ts(starts_at),
                "endsAt": _ts(ends_at) if ends_at is not None else ZERO_TIME,
                "generatorURL": generator_url,
                "fingerprint": fingerprint(labels),
            }
        ],
        "truncatedAlerts": 0,
    }


class AlertTracker:
    """Per-alert state: which findings become payloads now."""

    def __init__(self, *, model: str, repeat_seconds: float) -> None:
        self.model = model
        self.repeat = timedelta(seconds=repeat_seconds)
        self.states: dict[str, AlertState] = {}

    def undelivered(self, payload: dict[str, Any]) -> None:
        """The sink failed on this payload: make the next update send it again."""
        state = self.states.get(payload["commonLabels"]["alertname"])
        if state is None:
            return
        state.last_sent = datetime.min.replace(tzinfo=UTC)
        if payload["status"] == "resolved":
            state.firing = True  # still "firing" as far as the receiver knows

    def firing(self) -> list[str]:
        return sorted(name for name, s in self.states.items() if s.firing)

    def update(self, findings: list[Finding], *, now: datetime | None = None) -> list[dict]:
        """Payloads to send for these findings (checks that did not run are not in the list)."""
        now = now or datetime.now(UTC)
        payloads: list[dict] = []
        for finding in findings:
            state = self.states.get(finding.alertname)
            labels = {
                "alertname": finding.alertname,
                "severity": finding.severity,
                "model": self.model,
                "runbook": RUNBOOKS.get(finding.alertname, ""),
                **finding.labels,
            }
            if finding.firing:
                changed = state is None or not state.firing or state.severity != finding.severity
                if not changed and state is not None and now - state.last_sent < self.repeat:
                    continue
                starts = state.starts_at if state is not None and state.firing else now
                self.states[finding.alertname] = AlertState(
                    True, starts, now, finding.severity, finding.summary
                )
                payloads.append(
                    build_payload(
                        status="firing",
                        labels=labels,
                        summary=finding.summary,
                        description=finding.description,
                        starts_at=starts,
                    )
                )
            elif state is not None and state.firing:
                labels["severity"] = state.severity  # resolve the alert that fired, same labels
                self.states[finding.alertname] = AlertState(
                    False, state.starts_at, now, state.severity, finding.summary
                )
                payloads.append(
                    build_payload(
                        status="resolved",
                        labels=labels,
                        summary=finding.summary,
                        description=finding.description,
                        starts_at=state.starts_at,
                        ends_at=now,
                    )
                )
        return payloads
