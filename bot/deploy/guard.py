"""The production policy applied to the registry and the deploy history, and its overrides recorded.

Blocking (registry and database calls): async callers run these in a thread.
"""

from __future__ import annotations

from sqlalchemy import select

from bot.access.roles import Role
from bot.audit import service as audit
from bot.audit.models import AuditRecord
from bot.db import Database
from bot.deploy import service
from bot.deploy.policy import Decision, ProductionAction, decide, gate_facts
from bot.model_registry.mlflow_tags import T_FORCE_REASON, T_FORCED_BY, T_FORCED_OVER
from bot.model_registry.service import ModelService

OVERRIDE_AUDIT_ACTION = "production.force"


def check_production_change(
    models: ModelService,
    db: Database,
    *,
    version: int,
    action: ProductionAction,
    role: Role,
    force: bool = False,
    reason: str = "",
) -> Decision:
    """The policy's decision for this version, from its registry tags and the deploy history."""
    described = models.describe(version)
    with db.session() as session:
        in_history = service.was_in_production(session, version=version)
    facts = gate_facts(described, in_deploy_history=in_history)
    return decide(facts, action=action, role=role, force=force, reason=reason)


def record_override(
    models: ModelService,
    db: Database,
    *,
    decision: Decision,
    version: int,
    actor: str,
    reason: str,
    run_id: int,
    channel: str | None = None,
) -> bool:
    """Write an admin's override to the audit trail and onto the version; once per run."""
    if decision.overridden is None:
        return False
    arguments = f"v{version} run #{run_id}"
    detail = f"{decision.overridden} (validation status {decision.facts['status']}): {reason}"
    with db.session() as session:
        seen = session.scalars(
            select(AuditRecord.id).where(
                AuditRecord.action == OVERRIDE_AUDIT_ACTION, AuditRecord.arguments == arguments
            )
        ).first()
        if seen is None:
            audit.record(
                session,
                actor=actor,
                action=OVERRIDE_AUDIT_ACTION,
                arguments=arguments,
                channel=channel,
                result="ok",
                detail=detail,
            )
    models.set_tags(
        version,
        {T_FORCED_BY: actor, T_FORCE_REASON: reason[:500], T_FORCED_OVER: decision.overridden},
    )
    return seen is None
