"""What the game day domain asks of the outside, as protocols adapters implement:
the reporter (posts the drill thread), the responder (plays the engineer), the pacer (compresses
the scheduler's waits)."""

from __future__ import annotations

from typing import Any, Protocol

from bot.gameday.context import DrillContext
from bot.gameday.scenario import RespondStep, Scenario


class DrillReporter(Protocol):
    """The reporter role: the drill's thread and timeline in chat."""

    async def started(self, *, ctx: DrillContext, scenario: Scenario) -> tuple[str, str] | None:
        """Post the drill's first message (with the owner's Abort button); (channel, ts)."""
        ...

    async def event(self, *, ctx: DrillContext, kind: str, facts: dict[str, Any]) -> None:
        """One line of the drill's timeline, in its thread."""
        ...

    async def finished(self, *, ctx: DrillContext, report: dict[str, Any]) -> None:
        """The report in the thread; the first message loses its Abort button."""
        ...


class Responder(Protocol):
    """The engineer who responds; the scripted one clicks what the runbook offers."""

    async def respond(self, *, ctx: DrillContext, steps: list[RespondStep]) -> int:
        """Carry out the steps; how many chat actions it took."""
        ...

    async def duplicates(self, *, ctx: DrillContext, subscribers: list[str]) -> int:
        """Stakeholder messages the subscribers received twice, as far as it can see."""
        ...


class Pacer(Protocol):
    """Compresses the waits of the running system (monitor interval, update cadence)."""

    def compress(self, speed: float) -> None: ...

    def restore(self) -> None: ...
