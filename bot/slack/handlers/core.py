"""`/iris help`, `/iris status` and `/iris audit`."""

from __future__ import annotations

import time

import bot
from bot.access.roles import Role
from bot.audit.flows import recent_entries
from bot.commands.context import Arg, Command, CommandContext, UserError
from bot.commands.kinds import COUNT, USER
from bot.messages import Rendered
from bot.scheduling import scheduler_health
from bot.services import Services

Ctx = CommandContext[Services]


async def help_command(ctx: Ctx) -> Rendered:
    """The command list, the commands under one word (`help incident`), or one command."""
    renderer, catalog = ctx.services.renderer, ctx.catalog
    wanted = (ctx.arg("command") or "").split()
    if not wanted:
        return renderer.render(
            "help", slash=ctx.slash, commands=catalog.sorted(), role=ctx.role.value, topic=None
        )
    command, rest = catalog.match(wanted)
    if command is not None and not rest:
        # `help data` names `data ingest` too: every subcommand is in its parent's help.
        depth = len(command.path)
        subcommands = [
            c for c in catalog.sorted() if len(c.path) > depth and c.path[:depth] == command.path
        ]
        return renderer.render(
            "help_command",
            slash=ctx.slash,
            command=command,
            role=ctx.role.value,
            subcommands=subcommands,
        )
    group = catalog.group(wanted[0].lower())
    if group:
        return renderer.render(
            "help", slash=ctx.slash, commands=group, role=ctx.role.value, topic=wanted[0]
        )
    raise UserError(
        "usage_error",
        kind="no_command",
        word=" ".join(wanted),
        suggestion=catalog.suggest_command(wanted),
        text=ctx.text,
    )


async def status_command(ctx: Ctx) -> Rendered:
    services = ctx.services
    # Within a second when the server answers or refuses; `probe_timeout` when it hangs.
    await services.model_status.current()
    cache, now = services.status_cache, time.monotonic()
    if cache.answer is None or now - cache.answer_at >= 1.0:
        cache.answer = services.renderer.render("status", slash=ctx.slash, **status_facts(services))
        cache.answer_at = now
    return cache.answer


async def audit_command(ctx: Ctx) -> Rendered:
    services = ctx.services
    limit = max(1, min(ctx.arg("count") or 20, 100))
    actor = ctx.arg("user")
    entries = recent_entries(services.db, limit=limit, actor=actor, buffer=services.audit_buffer)
    return services.renderer.render("audit", slash=ctx.slash, entries=entries, actor=actor)


COMMANDS = (
    Command("help", help_command, args=(Arg("command", optional=True, rest=True),)),
    Command("status", status_command),
    Command(
        "audit",
        audit_command,
        role=Role.ADMIN,
        args=(
            Arg("count", optional=True, kind=COUNT),
            Arg("user", optional=True, kind=USER, shown="@user"),
        ),
        any_order=True,
    ),
)


# Health facts are cached this long: `status` answers inside the ack, many times a second if
# people (or a benchmark) ask, and the database and job store need not be asked every time.
HEALTH_TTL_SECONDS = 2.0


def _health(services: Services) -> dict[str, object]:
    """The database and job store facts, asked at most every HEALTH_TTL_SECONDS."""
    cache, now = services.status_cache, time.monotonic()
    if now - cache.health_at >= HEALTH_TTL_SECONDS:
        cache.health = {
            "database_ok": services.db.ping(),
            "scheduler": scheduler_health(services.scheduler),
        }
        cache.health_at = now
    return cache.health


def status_facts(services: Services) -> dict[str, object]:
    """Everything `/iris status` shows, the model's facts included."""
    facts: dict[str, object] = {
        "version": bot.__version__,
        "mode": services.mode,
        "uptime_seconds": services.uptime_seconds,
        "database_kind": services.db.engine.dialect.name,
        **_health(services),
        "sections": [services.model_status.section(services.settings.model_name)],
    }
    return facts
