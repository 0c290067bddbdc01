"""Where monitor alerts go, and what the monitors can tell an incident about an alert.

`AlertSink` takes an Alertmanager v4 webhook payload: the monitors raise alerts through exactly
the path Alertmanager's webhooks take (the incidents domain implements the real sink).
`DiagnosisProvider` answers "what do the latest checks say about this alert?" for an incident's
first message.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol, runtime_checkable

log = logging.getLogger(__name__)

DiagnosisKind = Literal["drift", "accuracy", "latency", "none"]


@runtime_checkable
class AlertSink(Protocol):
    """Receives Alertmanager v4 webhook payloads (firing or resolved)."""

    # The incidents intake returns what it did with the payload; monitors ignore the result.
    async def deliver(self, payload: dict[str, Any]) -> Any: ...


@dataclass(frozen=True)
class Diagnosis:
    """The first diagnosis of an alert: what kind of problem, a title and a few lines of facts."""

    kind: DiagnosisKind
    title: str
    lines: list[str] = field(default_factory=list)


class DiagnosisProvider(Protocol):
    """Diagnoses an alert (by its name and labels) from the latest monitor results."""

    def diagnose(self, *, alertname: str, labels: dict[str, str]) -> Diagnosis | None: ...


class LoggingAlertSink:
    """The sink when no incident intake is wired: alerts go to the log only."""

    async def deliver(self, payload: dict[str, Any]) -> None:
        labels = payload.get("commonLabels", {})
        summary = payload.get("commonAnnotations", {}).get("summary", "")
        log.warning(
            "monitor alert %s %s (%s): %s",
            labels.get("alertname"),
            payload.get("status"),
            labels.get("severity"),
            summary,
        )
