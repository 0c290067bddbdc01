"""Clean-up kinds a scenario lists besides reverting its fault (which always runs first)."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

from sqlalchemy import select

from bot.gameday.context import DrillContext
from bot.gameday.kinds import CleanUp, KindRegistry, KindSpec
from bot.incidents.models import Incident, IncidentStatus


@dataclass(frozen=True)
class ResolveDrillIncidents:
    """Resolve every open incident tagged DRILL (its updates and reminders stop with it)."""

    async def run(self, ctx: DrillContext) -> str:
        with ctx.deps.db.session() as session:
            ids = list(
                session.scalars(
                    select(Incident.id).where(
                        Incident.drill.is_(True), Incident.status != IncidentStatus.RESOLVED.value
                    )
                )
            )
        summary = ctx.deps.renderer.render("gameday_event", ctx=ctx, kind="drill_over", facts={})
        for incident_id in ids:
            await ctx.deps.incidents.resolve(
                incident_id=incident_id, actor=ctx.owner, summary=summary.text
            )
        return f"resolve_drill_incidents: {len(ids)}"


@dataclass(frozen=True)
class RestoreProduction:
    """Point production back at the version it had before the fault, if it moved."""

    async def run(self, ctx: DrillContext) -> str:
        before = ctx.vars.get("production_before")
        models = ctx.deps.models
        now = await asyncio.to_thread(models.production_version)
        if before is None or now == before:
            return f"restore_production: v{now}"
        await asyncio.to_thread(models.set_production, int(before))
        return f"restore_production: v{now} -> v{before}"


def register_cleanups(cleanups: KindRegistry[CleanUp]) -> None:
    """The clean-up kinds every scenario may use."""
    cleanups.add(
        KindSpec(
            "resolve_drill_incidents",
            "resolve the incidents the drill opened",
            lambda a: ResolveDrillIncidents(),
        )
    )
    cleanups.add(
        KindSpec(
            "restore_production",
            "production back at its version before the fault",
            lambda a: RestoreProduction(),
        )
    )
