"""What the incident flow asks of a diagnosis provider (the monitoring domain implements it).

The provider is optional (`IncidentFlows.diagnosis`); without one, the first diagnosis in an incident
is the alerts' own annotations. `diagnose` may be a plain or an async function; a plain one runs in
a worker thread, and either is given a few seconds before the incident opens without it.
"""

from __future__ import annotations

from collections.abc import Awaitable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable


@dataclass(frozen=True)
class Diagnosis:
    """A first explanation of an alert: `kind` (drift, accuracy, serving, ...), a title, lines."""

    kind: str
    title: str
    lines: Sequence[str] = field(default_factory=tuple)


@runtime_checkable
class DiagnosisProvider(Protocol):
    def diagnose(
        self, *, alertname: str, labels: Mapping[str, str]
    ) -> Diagnosis | None | Awaitable[Diagnosis | None]: ...


def as_diagnosis(value: Any) -> Diagnosis | None:
    """Any object with kind/title/lines (the provider's own class) as a plain Diagnosis."""
    if value is None:
        return None
    lines = getattr(value, "lines", ()) or ()
    if isinstance(lines, str):
        lines = lines.splitlines()
    return Diagnosis(
        kind=str(getattr(value, "kind", "") or ""),
        title=str(getattr(value, "title", "") or ""),
        lines=tuple(str(line) for line in lines),
    )
