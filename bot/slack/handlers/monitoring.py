"""`/iris monitor` (every check, now) and `/iris drift` (the per-feature drift table)."""

from __future__ import annotations

from bot.commands.context import CommandContext
from bot.commands.registry import CommandRegistry
from bot.messages import Rendered
from bot.monitoring import MonitoringService
from bot.services import Services
from bot.slack.interactions import InteractionRegistry


def register(
    services: Services, commands: CommandRegistry, interactions: InteractionRegistry
) -> None:
    renderer, settings = services.renderer, services.settings

    def monitoring() -> MonitoringService:
        return services.monitoring

    @commands.command(
        "monitor",
        usage="monitor",
        summary="Run the accuracy, drift and serving monitors now and report",
    )
    async def monitor_command(ctx: CommandContext) -> Rendered:
        snapshot = await monitoring().run_all()
        return renderer.render(
            "monitor_report",
            slash=ctx.slash,
            snapshot=snapshot,
            model_name=settings.model_name,
            error_rate_max=settings.serving_error_rate_max,
            p99_max=settings.serving_p99_seconds,
        )

    @commands.command(
        "drift",
        usage="drift",
        summary="Per-feature input drift of the production model's recent traffic",
    )
    async def drift_command(ctx: CommandContext) -> Rendered:
        snapshot = await monitoring().run(("drift",))
        return renderer.render(
            "drift_table",
            slash=ctx.slash,
            drift=snapshot.drift,
            model_name=settings.model_name,
            drift_share=settings.drift_share,
            ks_pvalue=settings.drift_ks_pvalue,
            ks_max_rows=settings.drift_reference_ks_max_rows,
            wasserstein=settings.drift_wasserstein_threshold,
        )
