"""`/iris monitor` (every check, now) and `/iris drift` (the per-feature drift table).

Both answer in text first; then a chart follows in the channel (bot/slack/charts.py): the drift
distributions for `drift`, accuracy over time per version for `monitor`."""

from __future__ import annotations

import functools

from bot.charts.data import accuracy_chart_data, drift_chart_data
from bot.charts.draw import accuracy_png, drift_png
from bot.commands.context import Command, CommandContext
from bot.messages import Rendered
from bot.monitoring.checks import training_reference
from bot.monitoring.drift import DriftReport
from bot.services import Services
from bot.slack.charts import attach_chart, chart_labels

Ctx = CommandContext[Services]


async def monitor_command(ctx: Ctx) -> Rendered | None:
    settings = ctx.services.settings
    snapshot = await ctx.services.monitoring.run_all()
    answer = ctx.services.renderer.render(
        "monitor_report",
        slash=ctx.slash,
        snapshot=snapshot,
        model_name=settings.model_name,
        error_rate_max=settings.serving_error_rate_max,
        p99_max=settings.serving_p99_seconds,
        window_stale=ctx.services.pipelines.monitor.window_stale(),
    )
    await ctx.reply.respond(answer)  # the text first: the chart only adds to it
    labels = chart_labels(ctx.services.renderer, kind="accuracy", model_name=settings.model_name)
    attach_chart(ctx, functools.partial(_accuracy_chart, ctx.services), labels)
    return None


def _accuracy_chart(services: Services, labels: dict[str, str]) -> bytes | None:
    data = accuracy_chart_data(services.db)
    return None if data.empty else accuracy_png(data, labels)  # no feedback: nothing to draw


async def drift_command(ctx: Ctx) -> Rendered | None:
    settings = ctx.services.settings
    snapshot = await ctx.services.monitoring.run(("drift",))
    answer = ctx.services.renderer.render(
        "drift_table",
        slash=ctx.slash,
        drift=snapshot.drift,
        model_name=settings.model_name,
        drift_share=settings.drift_share,
        ks_pvalue=settings.drift_ks_pvalue,
        ks_max_rows=settings.drift_reference_ks_max_rows,
        wasserstein=settings.drift_wasserstein_threshold,
    )
    await ctx.reply.respond(answer)  # the text first: the chart only adds to it
    if snapshot.drift is not None:
        drift = snapshot.drift
        labels = chart_labels(
            ctx.services.renderer,
            kind="drift",
            model_name=settings.model_name,
            version=drift.version,
            window=drift.inputs.window,
        )
        draw = functools.partial(
            _drift_chart, ctx.services, drift.inputs, drift.version, settings.drift_window
        )
        attach_chart(ctx, draw, labels)
    return None


def _drift_chart(
    services: Services,
    report: DriftReport,
    version: int | None,
    window: int,
    labels: dict[str, str],
) -> bytes:
    reference, _ = training_reference()
    data = drift_chart_data(
        services.db, report=report, version=version, window=window, reference=reference
    )
    return drift_png(data, labels)


COMMANDS = (
    Command("monitor", monitor_command),
    Command("drift", drift_command),
)
