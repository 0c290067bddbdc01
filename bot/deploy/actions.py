"""Runbook actions for deploy and rollback: what the steps in runbooks/deploy.md call.

Each action is idempotent (the engine re-runs the step it was on after a restart): taking a lock
the run already holds, pointing the alias where it already points, recording an outcome twice,
all change nothing the second time. Registry calls block, so they run in a thread.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from functools import partial
from typing import Any

from bot.access.roles import RolePolicy
from bot.config import Settings
from bot.db import Database
from bot.deploy import service
from bot.deploy.guard import check_production_change, record_override
from bot.deploy.model_server import ModelServerClient
from bot.deploy.policy import Decision, ProductionAction
from bot.deploy.preflight import PreflightReport, holdout_agreement, run_checks
from bot.messages import TemplateRenderer
from bot.model_registry.errors import RegistryError, UnknownVersion
from bot.model_registry.service import ModelService
from bot.runbook import ActionCatalog, ActionContext, ActionFailed, ActionResult

# Every line these steps show in the checklist, by `kind`.
STEP_WORDS = "deploy_step"


def _failed(kind: str, **facts: Any) -> ActionFailed:
    """A step failure whose line is `kind` in `templates/deploy_step.j2`."""
    return ActionFailed(template=STEP_WORDS, facts={"kind": kind, **facts})


def _done(kind: str, outputs: dict[str, Any] | None = None, **facts: Any) -> ActionResult:
    """A step result whose line is `kind` in `templates/deploy_step.j2`."""
    return ActionResult(template=STEP_WORDS, facts={"kind": kind, **facts}, outputs=outputs or {})


@dataclass(frozen=True)
class DeployDeps:
    """What the deploy and rollback actions use besides the step's own facts."""

    db: Database
    models: ModelService
    model_server: ModelServerClient
    roles: RolePolicy  # who may change production, for the production policy
    renderer: TemplateRenderer  # the words of a refusal
    settings: Settings  # lock lifetime, accuracy floor, waits, the slash command


def _truthy(value: Any) -> bool:
    return value is True or str(value).strip().lower() in {"true", "1", "yes", "on"}


def _refusal(deps: DeployDeps, template: str, **facts: Any) -> ActionFailed:
    """A step failure whose words come from a template, like the command's own refusals."""
    text = deps.renderer.render(template, slash=deps.settings.slash_command, **facts).text
    return ActionFailed(text)


async def _authorize(
    deps: DeployDeps,
    ctx: ActionContext,
    version: int,
    action: ProductionAction,
    *,
    force: bool = False,
) -> Decision:
    """The production policy for this run's actor; a refusal fails the step with its template."""
    db, models, roles = deps.db, deps.models, deps.roles
    try:
        decision = await asyncio.to_thread(
            check_production_change,
            models,
            db,
            version=version,
            action=action,
            role=roles.role_of(ctx.actor),
            force=force,
            reason=str(ctx.params.get("reason") or ""),
        )
    except UnknownVersion as exc:
        raise ActionFailed(str(exc)) from None
    if not decision.allowed:
        raise _refusal(deps, decision.template, kind=decision.kind, **decision.facts)
    return decision


def _deploy_action(require_gate: Any) -> ProductionAction:
    return ProductionAction.PROMOTE if _truthy(require_gate) else ProductionAction.DEPLOY


def _version(value: Any) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        raise _failed("not_a_version", given=repr(value)) from None


async def acquire_lock(deps: DeployDeps, ctx: ActionContext) -> ActionResult:
    db, settings = deps.db, deps.settings
    purpose = f"{ctx.runbook_id} run #{ctx.run_id}"
    try:
        with db.session() as session:
            lock = service.acquire_lock(
                session,
                run_id=ctx.run_id,
                holder=ctx.actor,
                purpose=purpose,
                ttl_seconds=settings.deploy_lock_ttl_seconds,
            )
    except service.LockHeld as exc:
        raise _failed(
            "lock_held",
            holder=exc.lock.holder,
            purpose=exc.lock.purpose,
            acquired_at=exc.lock.acquired_at,
        ) from None
    return _done("lock_taken", {"holder": lock.holder}, purpose=purpose)


async def release_lock(deps: DeployDeps, ctx: ActionContext) -> ActionResult:
    db = deps.db
    with db.session() as session:
        released = service.release_lock(session, run_id=ctx.run_id)
    return _done("lock_released" if released else "lock_was_free")


async def preflight(
    deps: DeployDeps, ctx: ActionContext, version: Any, require_gate: Any = False
) -> ActionResult:
    db, models, settings = deps.db, deps.models, deps.settings
    number = _version(version)
    force = _truthy(ctx.params.get("force"))
    decision = await _authorize(deps, ctx, number, _deploy_action(require_gate), force=force)
    # Evaluating Iris on the holdout takes milliseconds: a thread is enough, and the step
    # runs long after the Slack ack anyway.
    report = await asyncio.to_thread(
        _preflight, models, number, settings.accuracy_floor, settings.accuracy_tolerance
    )
    disagreement = next((c for c in report.failures if c.name == "holdout_agrees"), None)
    # Without a stored figure there is nothing to disagree with; the floor check says so.
    if disagreement is not None and report.holdout.get("difference") is not None:
        raise _refusal(
            deps,
            "preflight_refused",
            kind="holdout_disagrees",
            version=f"v{number}",
            **report.holdout,
        )
    if not report.passed:
        raise _failed("preflight_failed", problems=[c.as_facts() for c in report.failures])
    if decision.overridden is not None:
        await asyncio.to_thread(
            record_override,
            models,
            db,
            decision=decision,
            version=number,
            actor=ctx.actor,
            reason=str(ctx.params.get("reason") or ""),
            run_id=ctx.run_id,
            channel=ctx.channel,
        )
    outputs = {**report.as_dict(), "forced_over": decision.overridden}
    return _done("preflight_passed", outputs, checks=[c.as_facts() for c in report.checks])


async def resolve_target(deps: DeployDeps, ctx: ActionContext, version: Any = None) -> ActionResult:
    db, models = deps.db, deps.models
    current = await asyncio.to_thread(models.production_version)
    if current is None:
        raise _failed("nothing_in_production")
    if version in (None, ""):
        with db.session() as session:
            target = service.previous_production(session, current=current)
        if target is None:
            raise _failed("no_history", production=current)
    else:
        target = _version(version)
    if target == current:
        raise _failed("already_production", version=target)
    await _authorize(deps, ctx, target, ProductionAction.ROLLBACK)
    try:
        await asyncio.to_thread(models.load, target)
    except UnknownVersion as exc:
        raise ActionFailed(str(exc)) from None
    except RegistryError as exc:
        raise _failed("cannot_load", version=target, problem=str(exc)) from None
    outputs = {"from_version": current, "to_version": target}
    return _done("rollback_target", outputs, **outputs)


async def set_production(
    deps: DeployDeps, ctx: ActionContext, version: Any, policy: Any = None
) -> ActionResult:
    models = deps.models
    target = _version(version)
    if policy not in (None, ""):
        # Asked again at the moment the alias moves: the version may have been discarded
        # while the run waited for its confirmation. Restore steps pass no policy: they put
        # back what was live when the run began.
        try:
            action = ProductionAction(str(policy))
        except ValueError:
            raise _failed("unknown_policy", given=repr(policy)) from None
        await _authorize(deps, ctx, target, action, force=_truthy(ctx.params.get("force")))
    previous = await asyncio.to_thread(models.set_production, target)
    # Reload-now: the server loads the new version at once instead of at its next poll.
    await deps.model_server.reload_now()
    return _done("production_set", {"previous": previous, "version": target}, version=target)


async def wait_for_version(deps: DeployDeps, ctx: ActionContext, version: Any) -> ActionResult:
    server, settings = deps.model_server, deps.settings
    target = _version(version)
    try:
        seconds = await server.wait_for_version(target, timeout=settings.deploy_wait_seconds)
    except TimeoutError as exc:
        raise ActionFailed(str(exc)) from None
    return _done("serving", {"seconds": round(seconds, 3)}, version=target, seconds=seconds)


async def smoke_test(deps: DeployDeps, ctx: ActionContext, version: Any = None) -> ActionResult:
    server, settings = deps.model_server, deps.settings
    expected = _version(version) if version not in (None, "") else None
    result = await server.smoke_test(
        expected_version=expected, latency_bound_ms=settings.smoke_latency_ms
    )
    if not result.passed:
        raise _failed("smoke_failed", problems=list(result.problems))
    return _done(
        "smoke_passed",
        result.as_dict(),
        samples=result.samples,
        latency_ms=result.latency_ms,
    )


async def record(
    deps: DeployDeps,
    ctx: ActionContext,
    outcome: str,
    from_version: Any = None,
    to_version: Any = None,
    reason: Any = "",
) -> ActionResult:
    db, models = deps.db, deps.models
    source = int(from_version) if from_version not in (None, "", "None") else None
    target = int(to_version) if to_version not in (None, "", "None") else None
    preflight_out = dict(ctx.outputs.get("preflight", {}) or ctx.outputs.get("resolve", {}))
    smoke_out = dict(ctx.outputs.get("smoke", {}))
    with db.session() as session:
        entry = service.record_deploy(
            session,
            kind=ctx.runbook_id,
            actor=ctx.actor,
            from_version=source,
            to_version=target,
            outcome=str(outcome),
            reason=str(reason or ""),
            preflight=preflight_out,
            smoke=smoke_out,
            run_id=ctx.run_id,
        )
    if target is not None and outcome == "succeeded":
        stamp = entry.finished_at.isoformat(timespec="seconds")
        await asyncio.to_thread(
            models.set_tags,
            target,
            {"deployed_at": stamp, "deployed_by": ctx.actor, "deploy_run": str(ctx.run_id)},
        )
    return _done("recorded", {"record_id": entry.id}, outcome=outcome)


def _preflight(
    models: ModelService, version: int, floor: float, tolerance: float
) -> PreflightReport:
    try:
        candidate = models.describe(version)
    except UnknownVersion as exc:
        raise ActionFailed(str(exc)) from None
    current = models.production_version()
    production = models.describe(current) if current is not None else None
    load_error = None
    measured = None
    try:
        models.load(version)
        measured = holdout_agreement(candidate, models.evaluate(version))
    except RegistryError as exc:
        load_error = str(exc)
    except ValueError as exc:  # loads, but cannot predict the holdout's features
        load_error = f"cannot predict the holdout: {exc}"
    candidate_sig = models.input_signature(version) if load_error is None else None
    production_sig = models.input_signature(current) if current is not None else None
    return run_checks(
        candidate=candidate,
        production=production,
        loads=load_error,
        candidate_signature=candidate_sig,
        production_signature=production_sig,
        floor=floor,
        tolerance=tolerance,
        measured=measured,
    )


# Action name, function, its arguments (name -> required) and its description.
_ACTIONS: tuple[tuple[str, Callable[..., Awaitable[ActionResult]], dict[str, bool], str], ...] = (
    ("deploy.acquire_lock", acquire_lock, {}, "Take the production deploy lock"),
    ("deploy.release_lock", release_lock, {}, "Release the production deploy lock"),
    (
        "model.preflight",
        preflight,
        {"version": True, "require_gate": False},
        "Check a version may go to production",
    ),
    (
        "model.resolve_rollback_target",
        resolve_target,
        {"version": False},
        "Find the version to roll back to",
    ),
    (
        "model.set_production",
        set_production,
        {"version": True, "policy": False},
        "Point the production alias at a version",
    ),
    (
        "serving.wait_for_version",
        wait_for_version,
        {"version": True},
        "Wait until the model server serves a version",
    ),
    (
        "serving.smoke_test",
        smoke_test,
        {"version": False},
        "Golden samples through the model server",
    ),
    (
        "deploy.record",
        record,
        {"from_version": False, "to_version": False, "outcome": True, "reason": False},
        "Write the deploy history and tag the versions",
    ),
)


def register_deploy_actions(actions: ActionCatalog, deps: DeployDeps) -> None:
    """Register the deploy and rollback actions, each bound to `deps`."""
    for name, fn, params, description in _ACTIONS:
        actions.register(name, partial(fn, deps), params=params, description=description)
