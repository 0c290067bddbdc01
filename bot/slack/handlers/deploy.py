"""`/iris models`, `/iris deploy <version>` and `/iris rollback [version]`, and `start`: how every
Slack entry point (these commands, `promote`, the Promote button) starts a deploy or a rollback."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

from bot.access.roles import Role
from bot.commands.context import Arg, Command, CommandContext, Opt, UserError
from bot.deploy.flows import (
    DeployContext,
    DeployRefused,
    deploy_history,
    start_deploy,
    start_rollback,
)
from bot.messages import Rendered
from bot.model_registry.errors import RegistryError, UnknownVersion
from bot.runbook import RunState
from bot.services import Services

Ctx = CommandContext[Services]


def deploy_context(services: Services) -> DeployContext:
    """What the deploy flows need, from the services."""
    return DeployContext(engine=services.engine, models=services.models, db=services.db)


async def start(starting: Awaitable[RunState]) -> RunState:
    """Await a deploy or rollback start; the domain's refusals become answers with their templates."""
    try:
        return await starting
    except UnknownVersion as exc:
        raise UserError("unknown_version", wanted=exc.text, available=exc.available) from None
    except DeployRefused as exc:
        raise UserError(exc.template, result="refused", kind=exc.kind, **exc.facts) from None
    except RegistryError as exc:
        raise UserError("registry_unavailable", problem=str(exc)) from None


async def models_command(ctx: Ctx) -> Rendered:
    services = ctx.services
    try:
        versions = await asyncio.to_thread(services.models.list_versions)
    except RegistryError as exc:
        raise UserError("registry_unavailable", problem=str(exc)) from None
    return services.renderer.render(
        "models",
        slash=ctx.slash,
        versions=versions,
        history=deploy_history(services.db, limit=5),
        model_name=services.settings.model_name,
    )


async def _started(ctx: Ctx, starter: Callable[..., Awaitable[RunState]]) -> Rendered:
    """Start the deploy or rollback runbook for the command's version, reason and caller."""
    run = await start(
        starter(
            deploy_context(ctx.services),
            version_text=ctx.arg("version"),
            actor=ctx.user_id,
            role=ctx.role,
            channel=ctx.channel_id,
            reason=ctx.args.option("reason", "") or "",
        )
    )
    return ctx.services.renderer.render("runbook_started", slash=ctx.slash, run=run)


async def deploy_command(ctx: Ctx) -> Rendered:
    return await _started(ctx, start_deploy)


async def rollback_command(ctx: Ctx) -> Rendered:
    return await _started(ctx, start_rollback)


REASON = Opt("reason", value='"..."')

COMMANDS = (
    Command("models", models_command),
    Command("deploy", deploy_command, role=Role.ONCALL, args=(Arg("version"),), options=(REASON,)),
    Command(
        "rollback",
        rollback_command,
        role=Role.ONCALL,
        args=(Arg("version", optional=True),),
        options=(REASON,),
    ),
)
