"""Communication drill: a SEV1 with subscribers, and the bot restarted in the middle of it.

The fault subscribes stakeholders, declares a SEV1 (tagged DRILL: it opens while the drill
runs), waits for the first scheduled update to reach every subscriber, then has the host
restart the bot. The drill resumes in the new bot; its probes then check that every scheduled
update reached every subscriber exactly once across the restart and that the silent commander
was reminded.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from typing import Any

from bot.gameday import service
from bot.gameday.context import DrillContext
from bot.gameday.kinds import Fault, KindRegistry, KindSpec, Param

FIRST_UPDATE_WAIT_MINUTES = 90  # cadence minutes (compressed by the drill's speed)


@dataclass(frozen=True)
class Sev1Restart:
    subscribers: list[str]
    restart: bool

    async def inject(self, ctx: DrillContext) -> dict[str, Any]:
        deps = ctx.deps
        for subscriber in self.subscribers:
            await deps.updates.subscribe(subscriber=subscriber, kind="user", incident_id=None)
        title = deps.renderer.render("gameday_event", ctx=ctx, kind="sev1_title", facts={}).text
        incident = await deps.incidents.declare(title=title, severity="SEV1", actor=ctx.owner)
        ctx.vars["subscribers"] = list(self.subscribers)
        state = {"incident_id": incident.id, "subscribers": list(self.subscribers)}
        if self.restart and ctx.control is not None:
            await self._first_update(ctx, incident.id)
            await ctx.control.restart()  # the host restarts the bot; the drill resumes there
        return state

    async def _first_update(self, ctx: DrillContext, incident_id: int) -> None:
        """Until the first scheduled update reached every subscriber (or a generous wait)."""
        deadline = time.monotonic() + ctx.seconds(FIRST_UPDATE_WAIT_MINUTES * 60)
        while time.monotonic() < deadline:
            slots = await asyncio.to_thread(_sent_slots, ctx, incident_id)
            if any(len(who) >= len(self.subscribers) for who in slots.values()):
                return
            await asyncio.sleep(0.05)

    async def revert(self, ctx: DrillContext, state: dict[str, Any]) -> None:
        incident_id = state.get("incident_id")
        if incident_id is not None:  # first, so the subscribers hear it is over
            summary = ctx.deps.renderer.render(
                "gameday_event", ctx=ctx, kind="drill_over", facts={}
            ).text
            await ctx.deps.incidents.resolve(
                incident_id=int(incident_id), actor=ctx.owner, summary=summary
            )
            await ctx.deps.updates.idle(timeout=10.0)
        for subscriber in state.get("subscribers", []):
            await ctx.deps.updates.unsubscribe(subscriber=subscriber, incident_id=None)


def _sent_slots(ctx: DrillContext, incident_id: int) -> dict[str, set[str]]:
    with ctx.deps.db.engine.connect() as conn:
        return service.scheduled_slots(conn, incident_id=incident_id)


def register(faults: KindRegistry[Fault]) -> None:
    faults.add(
        KindSpec(
            "communication.sev1_restart",
            "declare a SEV1 with subscribers, then restart the bot after its first update",
            lambda a: Sev1Restart([str(s) for s in a["subscribers"]], bool(a["restart"])),
            {
                "subscribers": Param("list", default=["U0ONCALL", "U0VIEWER"]),
                "restart": Param("bool", default=True),
            },
        )
    )
