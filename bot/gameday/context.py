"""What faults, probes and clean-ups are given: the running system's parts and the drill's facts."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    import httpx

    from bot.config import Settings
    from bot.db import Database
    from bot.incidents.flows import IncidentFlows
    from bot.messages import TemplateRenderer
    from bot.model_registry.service import ModelService
    from bot.monitoring import MonitoringService
    from bot.runbook import RunbookEngine
    from bot.updates.flows import IncidentUpdates


# The monitors take a moment to run; a drill never asks for them more often than this.
MIN_MONITOR_SECONDS = 0.5


class BotControl(Protocol):
    """The host of the bot (the local runtime, a test harness): restart it in place."""

    async def restart(self) -> None: ...


@dataclass(frozen=True)
class GamedayDeps:
    """The parts of the running system a drill touches, built by the composition root."""

    settings: Settings
    db: Database
    models: ModelService
    engine: RunbookEngine
    monitoring: MonitoringService
    incidents: IncidentFlows
    updates: IncidentUpdates
    http: httpx.AsyncClient
    renderer: TemplateRenderer


@dataclass
class DrillContext:
    """One drill: the system, who runs it, and the facts probes may compare with (`vars`)."""

    deps: GamedayDeps
    run_id: int
    scenario: str
    owner: str
    speed: float
    channel: str | None = None
    thread_ts: str | None = None
    # Facts noted before the fault (production version, say), compared with after it.
    vars: dict[str, Any] = field(default_factory=dict)
    started: float = field(default_factory=time.time)
    fault_at: float | None = None
    control: BotControl | None = None

    def seconds(self, real_seconds: float) -> float:
        """A wait of the real system, compressed by the drill's speed."""
        return real_seconds / self.speed

    @property
    def monitor_interval(self) -> float:
        """The monitors' interval during this drill (compressed)."""
        seconds = self.seconds(self.deps.settings.monitor_interval_seconds or 60.0)
        return max(seconds, MIN_MONITOR_SECONDS)
