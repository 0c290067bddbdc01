"""Missing-feature policies: checked against the registry, stored with an audit record.

A policy is refused (nothing changed) when it cannot work: `impute` on a version with no stored
training medians, `fallback` naming a version that does not exist or that needs the feature.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from bot.audit import service as audit
from bot.db import utcnow
from bot.model_registry.errors import UnknownVersion
from bot.model_registry.service import ModelService
from bot.quality.contract import ContractError, contract_from_json
from bot.quality.models import FeaturePolicy
from bot.training.iris import FEATURES

POLICIES = ("reject", "impute", "fallback")
DEFAULT_POLICY = "reject"


class PolicyRefused(Exception):
    """A policy that cannot be put in force; `kind` picks the words in quality_refused.j2."""

    def __init__(self, kind: str, **facts: Any) -> None:
        super().__init__(f"{kind}: {facts}")
        self.kind = kind
        self.facts = facts


@dataclass(frozen=True)
class PolicyInForce:
    """One feature's policy as stored (the default `reject` when none is)."""

    feature: str
    policy: str = DEFAULT_POLICY
    fallback_version: int | None = None
    changed_by: str | None = None
    changed_at: datetime | None = None

    @property
    def label(self) -> str:
        """How people read it: `fallback v4`, `impute`, `reject`."""
        return f"fallback v{self.fallback_version}" if self.policy == "fallback" else self.policy


def policies_in_force(session: Session) -> dict[str, PolicyInForce]:
    """Every feature's policy, defaults included, in feature order."""
    stored = {r.feature: r for r in session.execute(select(FeaturePolicy)).scalars()}
    result = {}
    for name in FEATURES:
        row = stored.get(name)
        result[name] = (
            PolicyInForce(name, row.policy, row.fallback_version, row.changed_by, row.changed_at)
            if row is not None
            else PolicyInForce(name)
        )
    return result


def check_policy(
    models: ModelService, *, feature: str, policy: str, version_text: str | None
) -> dict[str, Any]:
    """The checked policy as plain facts, or PolicyRefused; blocking (registry calls)."""
    if feature not in FEATURES:
        raise PolicyRefused("unknown_feature", feature=feature, features=FEATURES)
    if policy not in POLICIES:
        raise PolicyRefused("unknown_policy", policy=policy, policies=POLICIES)
    production = models.production_version()
    facts: dict[str, Any] = {"feature": feature, "policy": policy, "production": production}
    if policy == "impute":
        if production is None:
            raise PolicyRefused("no_production", **facts)
        described = models.describe(production)
        median = _median(described.quality_contract, described.features, feature)
        if median is None:
            raise PolicyRefused("no_medians", **facts)
        return {**facts, "median": median, "fallback_version": None}
    if policy == "fallback":
        if not version_text:
            raise PolicyRefused("fallback_needs_version", **facts)
        try:
            version = models.resolve(version_text)
        except UnknownVersion as exc:
            raise PolicyRefused(
                "unknown_fallback", wanted=exc.text, available=exc.available, **facts
            ) from None
        features = models.describe(version).features or list(FEATURES)
        if feature in features:
            raise PolicyRefused("fallback_needs_feature", version=version, **facts)
        return {**facts, "fallback_version": version, "fallback_features": features}
    return {**facts, "fallback_version": None}


def _median(contract: str | None, features: list[str] | None, feature: str) -> float | None:
    if not contract:
        return None
    try:
        parsed = contract_from_json(contract, features or FEATURES)
    except ContractError:
        return None
    found = parsed.get(feature)
    return found.median if found is not None else None


def set_policy(
    session: Session,
    *,
    feature: str,
    policy: str,
    fallback_version: int | None,
    actor: str,
    channel: str | None = None,
) -> None:
    """Store the policy (the default `reject` removes the row) and its audit record, together."""
    session.execute(delete(FeaturePolicy).where(FeaturePolicy.feature == feature))
    if policy != DEFAULT_POLICY:
        session.add(
            FeaturePolicy(
                feature=feature,
                policy=policy,
                fallback_version=fallback_version,
                changed_by=actor,
                changed_at=utcnow(),
            )
        )
    label = f"{policy} v{fallback_version}" if fallback_version else policy
    audit.record(
        session,
        actor=actor,
        action="quality.policy",
        arguments=f"{feature} {label}",
        channel=channel,
        result="ok",
    )
