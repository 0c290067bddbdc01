"""Runbook actions of data quality: what the steps in runbooks/data-quality.md call.

Changing a policy is check → confirm → store (with its audit record) → wait until the model
server reports it in force. Each is idempotent: storing the same policy twice changes nothing.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from functools import partial
from typing import Any

import httpx

from bot.db import Database
from bot.model_registry.service import ModelService
from bot.quality.policy import PolicyRefused, check_policy, set_policy
from bot.runbook import ActionCatalog, ActionContext, ActionFailed, ActionResult

STEP_WORDS = "quality_step"


@dataclass(frozen=True)
class QualityDeps:
    """What the quality actions use: the registry, the database, the model server."""

    models: ModelService
    db: Database
    model_server_url: str
    apply_timeout_seconds: float = 5.0


def _version_text(version: Any) -> str | None:
    text = str(version or "").strip()
    return text or None


async def check(
    deps: QualityDeps, ctx: ActionContext, feature: str, policy: str, version: Any = ""
) -> ActionResult:
    """Check the policy against the registry: the fallback exists and does not need the feature,
    impute has a stored median."""
    try:
        facts = await asyncio.to_thread(
            check_policy,
            deps.models,
            feature=feature,
            policy=policy,
            version_text=_version_text(version),
        )
    except PolicyRefused as exc:
        raise ActionFailed(template=STEP_WORDS, facts={"kind": exc.kind, **exc.facts}) from None
    return ActionResult(
        template=STEP_WORDS,
        facts={"kind": "checked", **facts},
        outputs={"fallback_version": facts.get("fallback_version")},
    )


async def apply(
    deps: QualityDeps, ctx: ActionContext, feature: str, policy: str, version: Any = None
) -> ActionResult:
    """Store the policy and its audit record (the model server polls it)."""
    fallback = int(version) if version not in (None, "", "None") else None
    actor = ctx.confirmed_by or ctx.actor

    def store() -> None:
        with deps.db.session() as session:
            set_policy(
                session,
                feature=feature,
                policy=policy,
                fallback_version=fallback,
                actor=actor,
                channel=ctx.channel,
            )
            session.commit()

    await asyncio.to_thread(store)
    return ActionResult(
        template=STEP_WORDS,
        facts={
            "kind": "stored",
            "feature": feature,
            "policy": policy,
            "fallback_version": fallback,
        },
    )


async def wait_applied(
    deps: QualityDeps, ctx: ActionContext, feature: str, policy: str, version: Any = None
) -> ActionResult:
    """Wait until the model server reports the policy in force; how long that took."""
    fallback = int(version) if version not in (None, "", "None") else None
    wanted = None if policy == "reject" else {"policy": policy, "fallback_version": fallback}
    started = time.monotonic()
    deadline = started + deps.apply_timeout_seconds
    seen: Any = "unreachable"
    async with httpx.AsyncClient(timeout=2.0) as client:
        while time.monotonic() < deadline:
            try:
                state = (await client.get(f"{deps.model_server_url.rstrip('/')}/v1/quality")).json()
                seen = state.get("policies", {}).get(feature)
                loaded = policy != "fallback" or fallback in state.get("fallbacks_loaded", [])
                if seen == wanted and loaded:
                    return ActionResult(
                        template=STEP_WORDS,
                        facts={
                            "kind": "in_force", "feature": feature, "policy": policy,
                            "fallback_version": fallback,
                            "seconds": round(time.monotonic() - started, 2),
                        },
                    )  # fmt: skip
            except (httpx.HTTPError, ValueError):
                seen = "unreachable"
            await asyncio.sleep(0.1)
    raise ActionFailed(
        template=STEP_WORDS,
        facts={"kind": "not_in_force", "feature": feature, "policy": policy,
               "seconds": deps.apply_timeout_seconds, "seen": str(seen)},
    )  # fmt: skip


ACTIONS = (
    ("quality.check_policy", check, {"feature": True, "policy": True, "version": False},
     "Check a missing-feature policy against the registry"),
    ("quality.set_policy", apply, {"feature": True, "policy": True, "version": False},
     "Store a missing-feature policy with its audit record"),
    ("quality.wait_applied", wait_applied, {"feature": True, "policy": True, "version": False},
     "Wait until the model server has the policy in force"),
)  # fmt: skip


def register_quality_actions(actions: ActionCatalog, deps: QualityDeps) -> None:
    """Every data-quality action, bound to its dependencies."""
    for name, fn, params, description in ACTIONS:
        actions.register(name, partial(fn, deps), params=params, description=description)
