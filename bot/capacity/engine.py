"""The serving-engine interface the capacity domain speaks to, and the status it returns.

Two engines implement it: `LocalEngine` (worker processes behind the local front) and
`RayServeEngine` (a Ray Serve application). No Slack here: plain values in, plain values out.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

from bot import engine_outage

Mode = Literal["manual", "auto"]


class EngineUnavailable(engine_outage.EngineUnavailable):
    """The serving engine did not answer (Ray unreachable, model server down); the card says so."""


class EngineRefused(Exception):
    """The engine refused a change (out of its bounds); `problem` says why."""

    def __init__(self, problem: str) -> None:
        super().__init__(problem)
        self.problem = problem


@dataclass(frozen=True)
class AutoscalePolicy:
    min_replicas: int = 1
    max_replicas: int = 4
    target_ongoing_requests: float = 2.0


@dataclass(frozen=True)
class CapacityStatus:
    """What the engine runs now and how it copes (latencies in seconds, rates as shares)."""

    engine: str
    reachable: bool = True
    problem: str | None = None  # technical, for logs; people read `unavailable` (its template)
    unavailable: dict[str, Any] | None = None  # EngineUnavailable.as_facts() when not reachable
    mode: Mode = "manual"
    wanted: int = 0
    running: int = 0
    starting: int = 0
    autoscale: AutoscalePolicy = field(default_factory=AutoscalePolicy)
    in_flight: int = 0
    queued: int = 0
    queue_limit: int | None = None
    restarts: int = 0
    events: list[dict[str, Any]] = field(default_factory=list)
    requests: int = 0
    p50: float | None = None
    p95: float | None = None
    p99: float | None = None
    error_rate: float | None = None
    shed_rate: float | None = None

    @property
    def healthy(self) -> bool:
        """Every wanted replica serves."""
        return self.reachable and self.wanted > 0 and self.running >= self.wanted

    def config(self) -> dict[str, Any]:
        """The scaling configuration, as the diff before a change shows it."""
        if self.mode == "auto":
            a = self.autoscale
            return {
                "mode": "auto",
                "min_replicas": a.min_replicas,
                "max_replicas": a.max_replicas,
                "target_ongoing_requests": a.target_ongoing_requests,
            }
        return {"mode": "manual", "replicas": self.wanted}


def unreachable(engine: str, exc: EngineUnavailable) -> CapacityStatus:
    return CapacityStatus(
        engine=engine, reachable=False, problem=str(exc), unavailable=exc.as_facts()
    )


class ServingEngine(Protocol):
    """What the bot can ask of a serving engine."""

    name: str

    async def status(self) -> CapacityStatus: ...

    async def scale(self, replicas: int) -> CapacityStatus: ...

    async def autoscale(self, policy: AutoscalePolicy) -> CapacityStatus: ...

    async def manual(self) -> CapacityStatus:
        """Stop autoscaling, keeping the replicas running now."""
        ...

    async def shed(self, queue_limit: int) -> CapacityStatus: ...

    async def reload(self) -> None:
        """Load the production version now (after the bot moved the alias)."""
        ...

    async def aclose(self) -> None: ...
