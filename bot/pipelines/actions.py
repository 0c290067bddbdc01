"""The pipeline runbook's actions (runbooks/pipeline.md): diagnose, rerun, wait, check fresh."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from functools import partial
from typing import Any

from bot.db import utcnow
from bot.pipelines import freshness as fr
from bot.pipelines.ingest import wait_for_run
from bot.pipelines.models import EngineUnavailable, PipelineRefused
from bot.pipelines.service import PipelineService
from bot.runbook import ActionCatalog, ActionContext, ActionFailed, ActionResult

WORDS = "pipeline_step"


@dataclass(frozen=True)
class PipelineActionDeps:
    pipelines: PipelineService
    run_timeout: float = 1800.0


def _failed(kind: str, **facts: Any) -> ActionFailed:
    return ActionFailed(template=WORDS, facts={"kind": kind, **facts})


def _done(kind: str, outputs: dict[str, Any] | None = None, **facts: Any) -> ActionResult:
    return ActionResult(template=WORDS, facts={"kind": kind, **facts}, outputs=outputs or {})


async def diagnose(deps: PipelineActionDeps, ctx: ActionContext, job: str = "") -> ActionResult:
    """The job's newest failed run, its failed step and error."""
    try:
        runs = await deps.pipelines.runs(job=job or None, limit=20)
        failed = next((r for r in runs if r.finished), None)
        if failed is None or not failed.failed:
            raise _failed("nothing_failed", job=job)
        steps = await deps.pipelines.failures(run_id=failed.run_id)
    except EngineUnavailable as exc:
        raise _failed("unavailable", unavailable=exc.as_facts()) from None
    step = steps[0] if steps else None
    return _done(
        "diagnosed",
        {"run": failed.run_id, "short": failed.short_id, "job": failed.job},
        run=failed.short_id,
        job=failed.job,
        step=step.step_key if step else "",
        error=(step.error if step else "")[:300],
        url=deps.pipelines.run_url(failed.run_id),
    )


async def rerun(
    deps: PipelineActionDeps, ctx: ActionContext, run: str = "", from_failure: Any = True
) -> ActionResult:
    """Rerun a failed run (from its failed step by default) and wait for the result."""
    ff = str(from_failure).lower() not in ("false", "0", "no")
    try:
        new = await deps.pipelines.reexecute(run_id=run, from_failure=ff)
        result = await wait_for_run(deps.pipelines, new, timeout=deps.run_timeout, poll=1.0)
    except EngineUnavailable as exc:
        raise _failed("unavailable", unavailable=exc.as_facts()) from None
    except PipelineRefused as exc:
        raise _failed("refused", problem=exc.kind) from None
    if result.failed:
        steps = await deps.pipelines.failures(run_id=new)
        raise _failed(
            "rerun_failed",
            run=result.short_id,
            step=steps[0].step_key if steps else "",
            error=(steps[0].error if steps else "")[:300],
        )
    return _done("rerun_ok", {"run": new}, run=result.short_id, from_failure=ff)


async def check_fresh(deps: PipelineActionDeps, ctx: ActionContext, job: str = "") -> ActionResult:
    """The job's assets against their freshness SLA: fails while one is stale."""
    try:
        assets = [a for a in await deps.pipelines.assets() if not job or job in a.jobs]
    except EngineUnavailable as exc:
        raise _failed("unavailable", unavailable=exc.as_facts()) from None
    verdicts = [fr.judge(a, now=utcnow()) for a in assets]
    stale = [v.asset for v in verdicts if v.state == fr.STALE]
    if stale:
        raise _failed("still_stale", assets=stale)
    return _done(
        "fresh", {"assets": [v.asset for v in verdicts]}, assets=[v.asset for v in verdicts]
    )


_ACTIONS: tuple[tuple[str, Callable[..., Awaitable[ActionResult]], dict[str, bool], str], ...] = (
    ("pipeline.diagnose", diagnose, {"job": False}, "The job's newest failed run and its error"),
    (
        "pipeline.rerun",
        rerun,
        {"run": True, "from_failure": False},
        "Rerun a failed run from its failed step and wait for it",
    ),
    ("pipeline.check_fresh", check_fresh, {"job": False}, "The job's assets are fresh again"),
)


def register_pipeline_actions(actions: ActionCatalog, deps: PipelineActionDeps) -> None:
    """Register the pipeline actions, each bound to `deps`."""
    for name, fn, params, description in _ACTIONS:
        actions.register(name, partial(fn, deps), params=params, description=description)
