"""`/iris pipeline [show|rerun|backfill]` and their buttons: the data pipeline runbook in Slack.

Every answer is a template; the engine not answering is `pipeline_unavailable`, within the ack
budget (the backend's timeout is shorter than it). Rerun and backfill preview first; Confirm
launches, then one message shows the progress, edited in place until the work is done.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from bot.access.roles import Role
from bot.commands.context import Arg, Command, CommandContext, Opt, UserError
from bot.messages import Rendered
from bot.pipelines.flows import BACKFILL_MODES, BackfillPlan, facts
from bot.pipelines.models import EngineUnavailable, PipelineRefused
from bot.services import Services
from bot.slack.interactions import Button, Interaction

log = logging.getLogger(__name__)

Ctx = CommandContext[Services]
T = TypeVar("T")
PROGRESS_EVERY = 1.0  # seconds between edits of a progress message
PROGRESS_FOR = 3600.0  # stop following after an hour; the engine's UI has the rest


async def engine(call: Awaitable[T]) -> T:
    """Await an engine call; its refusals and silence become answers with their templates."""
    try:
        return await call
    except EngineUnavailable as exc:
        raise UserError(
            "pipeline_unavailable", result="failed", unavailable=exc.as_facts()
        ) from None
    except PipelineRefused as exc:
        raise UserError("pipeline_refused", result="refused", kind=exc.kind, **exc.facts) from None


async def pipeline_command(ctx: Ctx) -> Rendered:
    p = ctx.services.pipelines
    overview = await engine(p.flows.overview())
    return ctx.services.renderer.render(
        "pipeline_overview", slash=ctx.slash, overview=overview, ui_url=p.ui_url
    )


async def pipeline_show_command(ctx: Ctx) -> Rendered:
    detail = await engine(ctx.services.pipelines.flows.show(target=ctx.arg("target")))
    return ctx.services.renderer.render("pipeline_show", slash=ctx.slash, detail=detail)


async def pipeline_rerun_command(ctx: Ctx) -> Rendered:
    from_failure = not ctx.args.flag("all")
    plan = await engine(
        ctx.services.pipelines.flows.plan_rerun(run_ref=ctx.arg("run"), from_failure=from_failure)
    )
    return ctx.services.renderer.render(
        "pipeline_rerun_preview", slash=ctx.slash, plan=plan, value=json.dumps(facts(plan))
    )


def _mode(ctx: Ctx) -> str:
    chosen = [m for m in BACKFILL_MODES if ctx.args.flag(m)]
    return chosen[0] if len(chosen) == 1 else BACKFILL_MODES[0]


async def pipeline_backfill_command(ctx: Ctx) -> Rendered:
    raw = ctx.args.option("max-parallel", "2") or "2"
    try:
        parallel = int(raw)
    except ValueError:
        raise UserError("pipeline_refused", kind="bad_parallel", given=raw, most=8) from None
    plan = await engine(
        ctx.services.pipelines.flows.plan_backfill(
            job=ctx.arg("job"),
            start=ctx.arg("start"),
            end=ctx.arg("end"),
            mode=_mode(ctx),
            max_parallel=parallel,
        )
    )
    return ctx.services.renderer.render(
        "pipeline_backfill_preview", slash=ctx.slash, plan=plan, value=json.dumps(facts(plan))
    )


# --- buttons -------------------------------------------------------------------------------
def _value(click: Interaction) -> dict[str, Any]:
    try:
        value = json.loads(click.value)
    except ValueError:
        value = None
    if not isinstance(value, dict):
        raise UserError("pipeline_refused", kind="engine_refused", message=click.value[:100])
    return value


async def on_rerun(click: Interaction) -> Rendered:
    """Confirm on a rerun preview: launch it, then follow it in one message."""
    value = _value(click)
    p, renderer = click.services.pipelines, click.services.renderer
    run_id = await engine(p.flows.rerun(run_id=str(value["run"]), from_failure=bool(value["ff"])))
    run = await engine(p.service.run(run_id=run_id))
    message = renderer.render(
        "pipeline_progress", slash=click.slash, run=run, url=p.service.run_url(run_id)
    )
    posted = await click.reply.post(click.channel_id, message, thread_ts=click.thread_ts)
    click.services.tasks.spawn(
        _follow_run(click, run_id, posted.channel, posted.ts), name=f"follow rerun {run_id}"
    )
    return message


async def _follow_run(click: Interaction, run_id: str, channel: str, ts: str) -> None:
    p = click.services.pipelines
    await _follow(
        click,
        channel,
        ts,
        fetch=lambda: p.service.run(run_id=run_id),
        state=lambda run: (run.status, tuple((s.key, s.status) for s in run.steps)),
        context=lambda run: {"run": run, "url": p.service.run_url(run_id)},
    )


async def on_backfill(click: Interaction) -> Rendered:
    """Confirm on a backfill preview: launch it, then a progress bar edited in place."""
    v = _value(click)
    p, renderer = click.services.pipelines, click.services.renderer
    plan = BackfillPlan(
        job=str(v["job"]), start=str(v["start"]), end=str(v["end"]), mode=str(v["mode"]),
        partitions=[], skipped=0, max_parallel=int(v["n"]),
    )  # fmt: skip
    backfill_id = await engine(p.flows.backfill(plan))
    info = await engine(p.flows.progress(backfill_id=backfill_id))
    message = renderer.render("pipeline_progress", slash=click.slash, backfill=info)
    posted = await click.reply.post(click.channel_id, message, thread_ts=click.thread_ts)
    click.services.tasks.spawn(
        _follow_backfill(click, backfill_id, posted.channel, posted.ts),
        name=f"follow backfill {backfill_id}",
    )
    return message


async def _follow_backfill(click: Interaction, backfill_id: str, channel: str, ts: str) -> None:
    p = click.services.pipelines
    await _follow(
        click,
        channel,
        ts,
        fetch=lambda: p.flows.progress(backfill_id=backfill_id),
        state=lambda info: (info.status, tuple(sorted(info.run_status.items()))),
        context=lambda info: {"backfill": info},
    )


async def _follow(
    click: Interaction,
    channel: str,
    ts: str,
    *,
    fetch: Callable[[], Awaitable[Any]],
    state: Callable[[Any], Any],
    context: Callable[[Any], dict[str, Any]],
) -> None:
    """Edit one progress message while a run or backfill changes, until it ends (or an hour)."""
    p, renderer = click.services.pipelines, click.services.renderer
    last = None
    deadline = asyncio.get_running_loop().time() + PROGRESS_FOR
    while asyncio.get_running_loop().time() < deadline:
        await asyncio.sleep(PROGRESS_EVERY)
        try:
            current = await fetch()
        except EngineUnavailable:
            continue
        if current is None:
            return
        if state(current) != last:
            last = state(current)
            message = renderer.render("pipeline_progress", slash=click.slash, **context(current))
            await click.reply.update(channel, ts, message)
        if current.finished:
            # The monitor sees the outcome now, not at its next poll: the incident follows.
            await p.monitor.check()
            return


async def on_cancel(click: Interaction) -> Rendered:
    """Cancel on a backfill's progress message: no new runs; the bar shows it stop."""
    p, renderer = click.services.pipelines, click.services.renderer
    await engine(p.flows.cancel(backfill_id=click.value))
    info = await engine(p.flows.progress(backfill_id=click.value))
    return renderer.render("pipeline_progress", slash=click.slash, backfill=info)


COMMANDS = (
    Command("pipeline", pipeline_command),
    Command("pipeline show", pipeline_show_command, args=(Arg("target", shown="run|job"),)),
    Command(
        "pipeline rerun",
        pipeline_rerun_command,
        role=Role.ONCALL,
        args=(Arg("run"),),
        options=(Opt("from-failure"), Opt("all")),
    ),
    Command(
        "pipeline backfill",
        pipeline_backfill_command,
        role=Role.ONCALL,
        args=(Arg("job"), Arg("start", shown="from"), Arg("end", shown="to")),
        options=(
            Opt("only-missing"),
            Opt("failed"),
            Opt("all"),
            Opt("max-parallel", value="N"),
        ),
    ),
)

BUTTONS = (
    Button("pipeline.rerun", on_rerun, role=Role.ONCALL),
    Button("pipeline.backfill", on_backfill, role=Role.ONCALL),
    Button("pipeline.cancel", on_cancel, role=Role.ONCALL),
)
