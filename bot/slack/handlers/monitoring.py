"""`/iris monitor` (every check, now) and `/iris drift` (the per-feature drift table)."""

from __future__ import annotations

from bot.commands.context import Command, CommandContext
from bot.messages import Rendered
from bot.services import Services

Ctx = CommandContext[Services]


async def monitor_command(ctx: Ctx) -> Rendered:
    settings = ctx.services.settings
    snapshot = await ctx.services.monitoring.run_all()
    return ctx.services.renderer.render(
        "monitor_report",
        slash=ctx.slash,
        snapshot=snapshot,
        model_name=settings.model_name,
        error_rate_max=settings.serving_error_rate_max,
        p99_max=settings.serving_p99_seconds,
        window_stale=ctx.services.pipelines.monitor.window_stale(),
    )


async def drift_command(ctx: Ctx) -> Rendered:
    settings = ctx.services.settings
    snapshot = await ctx.services.monitoring.run(("drift",))
    return ctx.services.renderer.render(
        "drift_table",
        slash=ctx.slash,
        drift=snapshot.drift,
        model_name=settings.model_name,
        drift_share=settings.drift_share,
        ks_pvalue=settings.drift_ks_pvalue,
        ks_max_rows=settings.drift_reference_ks_max_rows,
        wasserstein=settings.drift_wasserstein_threshold,
    )


COMMANDS = (
    Command("monitor", monitor_command),
    Command("drift", drift_command),
)
