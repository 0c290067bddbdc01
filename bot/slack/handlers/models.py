"""`/iris models`, `/iris deploy <version>` and `/iris rollback [version]`."""

from __future__ import annotations

import asyncio

from bot.access.roles import Role
from bot.commands.context import CommandContext, UserError
from bot.commands.registry import CommandRegistry
from bot.deploy.flows import (
    DeployContext,
    DeployRefused,
    deploy_history,
    start_deploy,
    start_rollback,
)
from bot.messages import Rendered
from bot.registry.errors import RegistryError, UnknownVersion
from bot.runbook import RunState
from bot.services import Services
from bot.slack.interactions import InteractionRegistry


def register(
    services: Services, commands: CommandRegistry, interactions: InteractionRegistry
) -> None:
    renderer = services.renderer

    def deploy_ctx() -> DeployContext:
        return DeployContext(engine=services.engine, models=services.models, db=services.db)

    @commands.command(
        "models",
        usage="models",
        summary="Model versions with their metrics, production, last deploys",
    )
    async def models_command(ctx: CommandContext) -> Rendered:
        try:
            versions = await asyncio.to_thread(services.models.list_versions)
        except RegistryError as exc:
            raise UserError("registry_unavailable", problem=str(exc)) from None
        history = deploy_history(services.db, limit=5)
        return renderer.render(
            "models",
            slash=ctx.slash,
            versions=versions,
            history=history,
            model_name=services.settings.model_name,
        )

    @commands.command(
        "deploy",
        usage='deploy <version> [--reason "..."]',
        summary="Deploy a version to production: preflight, confirm, smoke test, auto-rollback",
        role=Role.ONCALL,
        value_options=("reason",),
        examples=("deploy v2", 'deploy iris_classifier_v3 --reason "retrained on October data"'),
    )
    async def deploy_command(ctx: CommandContext) -> Rendered:
        if len(ctx.args.positionals) != 1:
            raise UserError(
                "usage_error",
                problem="Name one version to deploy.",
                suggestion=None,
                text=ctx.text,
                command=ctx.command,
            )
        run = await _start(
            start_deploy(
                deploy_ctx(),
                version_text=ctx.args.positionals[0],
                actor=ctx.user_id,
                role=ctx.role,
                channel=ctx.channel_id,
                reason=ctx.args.option("reason", "") or "",
            )
        )
        return renderer.render("runbook_started", slash=ctx.slash, run=run)

    @commands.command(
        "rollback",
        usage='rollback [version] [--reason "..."]',
        summary="Roll production back to the previous version (or the one named)",
        role=Role.ONCALL,
        value_options=("reason",),
        examples=("rollback", 'rollback v1 --reason "accuracy alert INC-3"'),
    )
    async def rollback_command(ctx: CommandContext) -> Rendered:
        if len(ctx.args.positionals) > 1:
            raise UserError(
                "usage_error",
                problem="Name at most one version.",
                suggestion=None,
                text=ctx.text,
                command=ctx.command,
            )
        run = await _start(
            start_rollback(
                deploy_ctx(),
                version_text=ctx.args.positionals[0] if ctx.args.positionals else None,
                actor=ctx.user_id,
                role=ctx.role,
                channel=ctx.channel_id,
                reason=ctx.args.option("reason", "") or "",
            )
        )
        return renderer.render("runbook_started", slash=ctx.slash, run=run)


async def _start(starting) -> RunState:  # type: ignore[no-untyped-def]
    """Turn the domain's refusals into user errors with their own templates."""
    try:
        return await starting
    except UnknownVersion as exc:
        raise UserError("unknown_version", wanted=exc.text, available=exc.available) from None
    except DeployRefused as exc:
        raise UserError(exc.template, result="refused", kind=exc.kind, **exc.facts) from None
    except RegistryError as exc:
        raise UserError("registry_unavailable", problem=str(exc)) from None
