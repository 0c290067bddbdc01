"""`/iris quality`, `/iris quality policy <feature> <policy> [version]`, `/iris data quarantine`,
and the buttons of quality incidents and of the quarantine review."""

from __future__ import annotations

import asyncio

from bot.access.roles import Role
from bot.commands.context import Arg, Command, CommandContext, UserError
from bot.data.quarantine import discard, quarantine_summary, release
from bot.messages import Rendered
from bot.model_registry.errors import RegistryError
from bot.quality.policy import PolicyRefused
from bot.runbook import RunbookInputError
from bot.services import Services
from bot.slack.interactions import Button, Interaction

Ctx = CommandContext[Services]
RUNBOOK = "data-quality"
SHOWN_REASONS = 10  # quarantine reasons listed with buttons (templates/quality_quarantine.j2)


async def quality_command(ctx: Ctx) -> Rendered:
    services = ctx.services
    try:
        report = await services.quality.report()
    except RegistryError as exc:
        raise UserError("registry_unavailable", problem=str(exc)) from None
    return services.renderer.render(
        "quality_report", slash=ctx.slash, report=report, model_name=services.settings.model_name
    )


async def start_policy(
    services: Services,
    *,
    feature: str,
    policy: str,
    version: str | None,
    actor: str,
    channel: str,
    thread_ts: str | None = None,
) -> Rendered:
    """Check the policy now (refusals change nothing), then run the data-quality runbook."""
    try:
        await services.quality.check_policy(feature=feature, policy=policy, version_text=version)
        run = await services.engine.start(
            RUNBOOK,
            {"feature": feature, "policy": policy, "version": version or ""},
            actor=actor,
            channel=channel,
            thread_ts=thread_ts,
        )
    except PolicyRefused as exc:
        raise UserError("quality_refused", result="refused", kind=exc.kind, **exc.facts) from None
    except RunbookInputError as exc:
        raise UserError("quality_refused", result="refused", kind=str(exc)) from None
    except RegistryError as exc:
        raise UserError("registry_unavailable", problem=str(exc)) from None
    return services.renderer.render(
        "runbook_started", slash=services.settings.slash_command, run=run
    )


async def quality_policy_command(ctx: Ctx) -> Rendered:
    return await start_policy(
        ctx.services,
        feature=ctx.arg("feature").lower(),
        policy=ctx.arg("policy").lower(),
        version=ctx.arg("version"),
        actor=ctx.user_id,
        channel=ctx.channel_id,
    )


async def _click_policy(click: Interaction, policy: str) -> Rendered:
    feature, _, version = click.value.partition(":")
    return await start_policy(
        click.services,
        feature=feature,
        policy=policy,
        version=version or None,
        actor=click.user_id,
        channel=click.channel_id,
        thread_ts=click.thread_ts or click.message_ts,
    )


async def on_impute(click: Interaction) -> Rendered:
    """Impute the training median (a quality incident's button)."""
    return await _click_policy(click, "impute")


async def on_fallback(click: Interaction) -> Rendered:
    """Answer from the fallback version (a quality incident's button)."""
    return await _click_policy(click, "fallback")


async def on_reject(click: Interaction) -> Rendered:
    """Keep (or go back to) refusing the rows (a quality incident's button)."""
    return await _click_policy(click, "reject")


async def quarantine_command(ctx: Ctx) -> Rendered:
    groups = await asyncio.to_thread(quarantine_summary, ctx.services.db)
    return ctx.services.renderer.render(
        "quality_quarantine", slash=ctx.slash, groups=groups, done=None
    )


async def on_release(click: Interaction) -> Rendered:
    """Re-validate a reason's quarantined rows against the current contract."""
    services = click.services
    contract = await services.quality.current_contract()
    result = await asyncio.to_thread(
        release, services.db, category=click.value, contract=contract, actor=click.user_id
    )
    groups = await asyncio.to_thread(quarantine_summary, services.db)
    done = {"kind": "released", "category": result.category, "released": result.released,
            "kept": result.kept, "reasons": result.reasons}  # fmt: skip
    return services.renderer.render(
        "quality_quarantine", slash=click.slash, groups=groups, done=done
    )


async def on_discard(click: Interaction) -> Rendered:
    """Delete a reason's quarantined rows."""
    services = click.services
    deleted = await asyncio.to_thread(
        discard, services.db, category=click.value, actor=click.user_id
    )
    groups = await asyncio.to_thread(quarantine_summary, services.db)
    done = {"kind": "discarded", "category": click.value, "discarded": deleted}
    return services.renderer.render(
        "quality_quarantine", slash=click.slash, groups=groups, done=done
    )


COMMANDS = (
    Command("quality", quality_command),
    Command(
        "quality policy",
        quality_policy_command,
        role=Role.ONCALL,
        args=(Arg("feature"), Arg("policy"), Arg("version", optional=True)),
    ),
    Command("data quarantine", quarantine_command),
)

BUTTONS = (
    Button("quality.impute", on_impute, role=Role.ONCALL),
    Button("quality.fallback", on_fallback, role=Role.ONCALL),
    Button("quality.reject", on_reject, role=Role.ONCALL),
    # One pair per reason shown (a message may not repeat an action id); the value is the reason.
    *(Button(f"quality.release.{i}", on_release, role=Role.ONCALL) for i in range(SHOWN_REASONS)),
    *(Button(f"quality.discard.{i}", on_discard, role=Role.ONCALL) for i in range(SHOWN_REASONS)),
)
