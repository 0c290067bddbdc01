"""The production policy: may this person move `production` to this version? One pure function.

Every path that moves the alias asks `decide` (deploy, promote, rollback, the runbook steps behind
them, the buttons that start or confirm them), so a version the regression gate rejected, or that
someone discarded, reaches production only through an admin's recorded `--force --reason`.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from typing import Any

from bot.access.roles import Role
from bot.model_registry.mlflow_tags import (
    T_DEPLOYED_AT,
    T_DISCARDED_BY,
    T_VALIDATION_REASONS,
    decode_reasons,
)
from bot.model_registry.schemas import ModelVersion

REFUSAL_TEMPLATE = "production_refused"


class ProductionAction(enum.StrEnum):
    """What is asked of the alias; each has its own notion of "validated enough"."""

    # Runs the preflight checks itself, so a version nobody gated yet may go if they pass.
    DEPLOY = "deploy"
    # Ships a retrain candidate on the strength of its gate: the gate must have passed.
    PROMOTE = "promote"
    # Skips preflight, so only versions that passed validation or already served production.
    ROLLBACK = "rollback"


@dataclass(frozen=True)
class GateFacts:
    """What the registry remembers about a version's validation, as the policy needs it."""

    version: int
    status: str
    # Why it was rejected, as `{kind, facts}` (templates/validation_reason.j2 words each).
    reasons: list[dict[str, Any]] = field(default_factory=list)
    discarded_by: str | None = None
    ever_in_production: bool = False

    @property
    def label(self) -> str:
        return f"v{self.version}"


@dataclass(frozen=True)
class Decision:
    """Allowed (possibly by overriding a blocker), or refused with a template and its facts."""

    allowed: bool
    kind: str
    facts: dict[str, Any] = field(default_factory=dict)
    # The blocker an admin's --force overrode; None when nothing needed overriding.
    overridden: str | None = None
    template: str = REFUSAL_TEMPLATE


def gate_facts(version: ModelVersion, *, in_deploy_history: bool = False) -> GateFacts:
    """The gate facts stored on a registry version (its validation status and tags)."""
    tags = version.tags
    text = tags.get(T_VALIDATION_REASONS, "")
    discarded_by = tags.get(T_DISCARDED_BY)
    if discarded_by is None and text.startswith("discarded by <@"):
        # Discards recorded before the discarded_by tag existed say so only in their reasons.
        discarded_by = text.removeprefix("discarded by <@").split(">", 1)[0]
    return GateFacts(
        version=version.version,
        status=version.validation_status,
        reasons=decode_reasons(text),
        discarded_by=discarded_by,
        ever_in_production=version.is_production or T_DEPLOYED_AT in tags or in_deploy_history,
    )


def _blocker(facts: GateFacts, action: ProductionAction) -> str | None:
    if facts.discarded_by is not None:
        return "discarded"
    if facts.status == "rejected":
        return "gate_rejected"
    if facts.status == "failed":
        return "validation_failed"
    if action is ProductionAction.PROMOTE and facts.status != "passed":
        return "not_passed"
    if (
        action is ProductionAction.ROLLBACK
        and facts.status != "passed"
        and not facts.ever_in_production
    ):
        return "never_validated"
    return None


def decide(
    facts: GateFacts, *, action: ProductionAction, role: Role, force: bool, reason: str
) -> Decision:
    """Whether `action` may point production at the version; an admin's --force overrides."""
    base: dict[str, Any] = {
        "version": facts.label,
        "status": facts.status,
        "reasons": facts.reasons,
        "discarded_by": facts.discarded_by,
        "action": action.value,
        "role": role.value,
        "admin": role.allows(Role.ADMIN),
    }
    if force and not role.allows(Role.ADMIN):
        return Decision(False, "force_needs_admin", base)
    if force and not reason.strip():
        return Decision(False, "force_needs_reason", base)
    blocker = _blocker(facts, action)
    if blocker is None:
        return Decision(True, "allowed", base)
    if force:
        return Decision(True, "overridden", base, overridden=blocker)
    return Decision(False, blocker, base)
