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
        return renderer.render(
            "help_command", slash=ctx.slash, command=command, role=ctx.role.value
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


class _StatusCache:
    """The rendered status is reused for a second: status is what people (and dashboards) ask
    most, and its facts are cached already; uptime to the second is precise enough."""

    def __init__(self) -> None:
        self.at = -1.0
        self.message: Rendered | None = None


async def status_command(ctx: Ctx) -> Rendered:
    services = ctx.services
    model_status = services.extras.get("model_status")
    if model_status is not None:
        # Within a second when the server answers or refuses; `probe_timeout` when it hangs.
        await model_status.current()
    cache: _StatusCache = services.extras.setdefault("status_cache", _StatusCache())
    now = time.monotonic()
    if cache.message is None or now - cache.at >= 1.0:
        cache.message = services.renderer.render(
            "status", slash=ctx.slash, **status_facts(services)
        )
        cache.at = now
    return cache.message


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


class _HealthCache:
    def __init__(self) -> None:
        self.at = -HEALTH_TTL_SECONDS
        self.facts: dict[str, object] = {}

    def get(self, services: Services) -> dict[str, object]:
        now = time.monotonic()
        if now - self.at >= HEALTH_TTL_SECONDS:
            self.facts = {
                "database_ok": services.db.ping(),
                "scheduler": scheduler_health(services.scheduler),
            }
            self.at = now
        return self.facts


def status_facts(services: Services) -> dict[str, object]:
    """Everything `/iris status` shows; providers in `extras['status_providers']` add model facts."""
    cache = services.extras.setdefault("health_cache", _HealthCache())
    facts: dict[str, object] = {
        "version": bot.__version__,
        "mode": services.mode,
        "uptime_seconds": services.uptime_seconds,
        "database_kind": services.db.engine.dialect.name,
        **cache.get(services),
        "sections": [],
    }
    for provider in services.extras.get("status_providers", []):
        facts["sections"].append(provider())  # type: ignore[union-attr]
    return facts
