"""Runbook actions of runbooks/scaling.md: refuse during a deploy, plan (validate + diff), apply,
wait until every replica serves, and put the previous setting back when they do not."""

from __future__ import annotations

from dataclasses import dataclass
from functools import partial
from typing import Any

from bot.capacity.service import CapacityRefused, CapacityService, ScaleChange
from bot.db import Database
from bot.deploy import service as deploy_service
from bot.messages import TemplateRenderer
from bot.runbook import ActionCatalog, ActionContext, ActionFailed, ActionResult

STEP_WORDS = "capacity_step"  # every checklist line of these steps, by `kind`


@dataclass(frozen=True)
class CapacityDeps:
    capacity: CapacityService
    db: Database
    renderer: TemplateRenderer
    slash: str


def _refused(deps: CapacityDeps, exc: CapacityRefused) -> ActionFailed:
    text = deps.renderer.render(
        "capacity_refused", slash=deps.slash, kind=exc.kind, **exc.facts
    ).text
    return ActionFailed(text)


def _change(replicas: Any) -> ScaleChange:
    try:
        return ScaleChange("manual", replicas=int(replicas))
    except (TypeError, ValueError):
        raise CapacityRefused("not_a_number", given=str(replicas)) from None


async def plan(deps: CapacityDeps, ctx: ActionContext, replicas: Any) -> ActionResult:
    """Validate the change (deploy lock, 0, cap, number) and return the before/after configs."""
    with deps.db.session() as session:
        running = deploy_service.current_lock(session) is not None
    try:
        change = _change(replicas)
        deps.capacity.validate(change, deploy_running=running)
    except CapacityRefused as exc:
        raise _refused(deps, exc) from None
    status = await deps.capacity.engine.status()
    if not status.reachable:
        raise _refused(deps, CapacityRefused("engine_unreachable", unavailable=status.unavailable))
    before, after = status.config(), change.config(status)
    return ActionResult(
        template=STEP_WORDS,
        facts={"kind": "planned", "before": before, "after": after},
        outputs={"before": before, "after": after, "replicas": change.replicas},
    )


async def apply(deps: CapacityDeps, ctx: ActionContext, replicas: Any) -> ActionResult:
    try:
        status = await deps.capacity.apply(_change(replicas))
    except CapacityRefused as exc:
        raise _refused(deps, exc) from None
    return ActionResult(
        template=STEP_WORDS,
        facts={"kind": "applied", "wanted": status.wanted},
        outputs={"wanted": status.wanted},
    )


async def wait_healthy(deps: CapacityDeps, ctx: ActionContext) -> ActionResult:
    capacity = deps.capacity
    status = await capacity.wait_healthy(timeout=capacity.check_seconds)
    if not status.healthy:
        raise ActionFailed(
            template=STEP_WORDS,
            facts={
                "kind": "unhealthy",
                "running": status.running,
                "wanted": status.wanted,
                "seconds": capacity.check_seconds,
            },
        )
    return ActionResult(
        template=STEP_WORDS,
        facts={"kind": "healthy", "running": status.running, "p99": status.p99},
        outputs={"running": status.running, "p99": status.p99},
    )


async def restore(deps: CapacityDeps, ctx: ActionContext) -> ActionResult:
    before = (ctx.outputs.get("plan") or {}).get("before")
    if not before:
        raise ActionFailed(template=STEP_WORDS, facts={"kind": "nothing_to_restore"})
    try:
        await deps.capacity.restore(dict(before))
    except CapacityRefused as exc:
        raise _refused(deps, exc) from None
    return ActionResult(
        template=STEP_WORDS,
        facts={"kind": "restored", "before": before},
        outputs={"restored": before},
    )


_ACTIONS = (
    ("capacity.plan", plan, {"replicas": True}, "Check a scaling change and show its diff"),
    ("capacity.apply", apply, {"replicas": True}, "Set the number of serving replicas"),
    ("capacity.wait_healthy", wait_healthy, {}, "Wait until every wanted replica serves"),
    ("capacity.restore", restore, {}, "Put back the scaling setting from before the run"),
)


def register_capacity_actions(actions: ActionCatalog, deps: CapacityDeps) -> None:
    """Register the scaling actions, each bound to `deps`."""
    for name, fn, params, description in _ACTIONS:
        actions.register(name, partial(fn, deps), params=params, description=description)
