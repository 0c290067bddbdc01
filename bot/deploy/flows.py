"""Starting deploys and rollbacks: answer the cheap refusals at once, then hand over to the runbook.

The refusals a person gets in the same second (unknown version, already in production, the lock
is held, nothing to roll back to) are checked here; the authoritative checks (preflight, the
atomic lock) run again as runbook steps, so a race between two people still ends safely.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

from bot.access.roles import Role
from bot.db import Database
from bot.deploy import service
from bot.deploy.guard import check_production_change
from bot.deploy.models import DeployEntry, LockInfo
from bot.deploy.policy import Decision, ProductionAction
from bot.model_registry.service import ModelService
from bot.runbook import RunbookEngine, RunState


class DeployRefused(Exception):
    """A deploy or rollback that will not start; `kind` picks the message in `template`."""

    template = "deploy_refused"

    def __init__(self, kind: str, **facts: object) -> None:
        super().__init__(kind)
        self.kind = kind
        self.facts = facts


class ProductionRefused(DeployRefused):
    """The production policy said no (gate rejected, discarded, never validated, bad --force)."""

    def __init__(self, decision: Decision) -> None:
        super().__init__(decision.kind, **decision.facts)
        self.template = decision.template


@dataclass(frozen=True)
class DeployContext:
    engine: RunbookEngine
    models: ModelService
    db: Database


async def _check_policy(
    ctx: DeployContext,
    *,
    version: int,
    action: ProductionAction,
    role: Role,
    force: bool,
    reason: str,
) -> None:
    decision = await asyncio.to_thread(
        check_production_change,
        ctx.models,
        ctx.db,
        version=version,
        action=action,
        role=role,
        force=force,
        reason=reason,
    )
    if not decision.allowed:
        raise ProductionRefused(decision)


def _lock(db: Database) -> LockInfo | None:
    with db.session() as session:
        return service.current_lock(session)


async def start_deploy(
    ctx: DeployContext,
    *,
    version_text: str,
    actor: str,
    role: Role,
    channel: str,
    reason: str = "",
    thread_ts: str | None = None,
    require_gate: bool = False,
    force: bool = False,
) -> RunState:
    """Start the deploy runbook for a version, or raise DeployRefused.

    `require_gate` makes it a promotion (the retrain gate must have passed); `force` is an
    admin's override of the production policy and needs a reason.
    """
    version = await asyncio.to_thread(ctx.models.resolve, version_text)
    production = await asyncio.to_thread(ctx.models.production_version)
    if version == production:
        raise DeployRefused("already_production", version=version)
    action = ProductionAction.PROMOTE if require_gate else ProductionAction.DEPLOY
    await _check_policy(ctx, version=version, action=action, role=role, force=force, reason=reason)
    lock = _lock(ctx.db)
    if lock is not None:
        raise DeployRefused("lock_held", lock=lock)
    return await ctx.engine.start(
        "deploy",
        {"version": version, "reason": reason, "require_gate": require_gate, "force": force},
        actor=actor,
        channel=channel,
        thread_ts=thread_ts,
    )


async def start_rollback(
    ctx: DeployContext,
    *,
    version_text: str | None,
    actor: str,
    role: Role,
    channel: str,
    reason: str = "",
    thread_ts: str | None = None,
) -> RunState:
    """Start the rollback runbook (to a version, or to the previous one), or raise DeployRefused."""
    production = await asyncio.to_thread(ctx.models.production_version)
    if production is None:
        raise DeployRefused("nothing_in_production")
    if version_text:
        target = await asyncio.to_thread(ctx.models.resolve, version_text)
    else:
        with ctx.db.session() as session:
            target = service.previous_production(session, current=production)
        if target is None:
            raise DeployRefused("no_history", production=production)
    if target == production:
        raise DeployRefused("already_production", version=target)
    await _check_policy(
        ctx,
        version=target,
        action=ProductionAction.ROLLBACK,
        role=role,
        force=False,
        reason=reason,
    )
    lock = _lock(ctx.db)
    if lock is not None:
        raise DeployRefused("lock_held", lock=lock)
    return await ctx.engine.start(
        "rollback",
        {"to_version": target, "reason": reason},
        actor=actor,
        channel=channel,
        thread_ts=thread_ts,
    )


def deploy_history(db: Database, *, limit: int = 5) -> list[DeployEntry]:
    """The latest deploys and rollbacks."""
    with db.session() as session:
        return service.history(session, limit=limit)
