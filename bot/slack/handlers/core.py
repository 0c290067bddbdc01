"""`/iris help` and `/iris status`."""

from __future__ import annotations

import time

import bot
from bot.access.roles import Role
from bot.audit.flows import recent_entries
from bot.commands.context import CommandContext, UserError
from bot.commands.parser import slack_user_id
from bot.commands.registry import CommandRegistry
from bot.messages import Rendered
from bot.scheduling import scheduler_health
from bot.services import Services
from bot.slack.interactions import InteractionRegistry


def register(
    services: Services, commands: CommandRegistry, interactions: InteractionRegistry
) -> None:
    renderer = services.renderer

    @commands.command(
        "help",
        usage="help [command]",
        summary="List the commands, or explain one",
        examples=("help", "help deploy"),
    )
    async def help_command(ctx: CommandContext) -> Rendered:
        if ctx.args.positionals:
            wanted = ctx.args.positionals
            command, rest = commands.match(wanted)
            if command is None or rest:
                group = commands.group(wanted[0].lower())
                if group:
                    return renderer.render(
                        "help",
                        slash=ctx.slash,
                        commands=group,
                        role=ctx.role.value,
                        topic=wanted[0],
                    )
                raise UserError(
                    "usage_error",
                    problem=f"There is no command `{' '.join(wanted)}`.",
                    suggestion=commands.suggest_command(wanted),
                    text=ctx.text,
                )
            return renderer.render(
                "help_command", slash=ctx.slash, command=command, role=ctx.role.value
            )
        return renderer.render(
            "help", slash=ctx.slash, commands=commands.sorted(), role=ctx.role.value, topic=None
        )

    # The rendered answer is reused for a second: status is what people (and dashboards) ask
    # most, and its facts are cached already; uptime to the second is precise enough.
    last: dict[str, object] = {"at": -1.0, "message": None}
    health = _HealthCache()

    @commands.command(
        "status",
        usage="status",
        summary="Bot health: version, mode, uptime, database, scheduler, model",
    )
    async def status_command(ctx: CommandContext) -> Rendered:
        # Within a second when the server answers or refuses; `probe_timeout` when it hangs.
        await services.model_status.current()
        now = time.monotonic()
        if last["message"] is None or now - float(last["at"]) >= 1.0:  # type: ignore[arg-type]
            last["message"] = renderer.render(
                "status", slash=ctx.slash, **status_facts(services, health)
            )
            last["at"] = now
        return last["message"]  # type: ignore[return-value]

    @commands.command(
        "audit",
        usage="audit [count] [@user]",
        summary="The latest audit records: who ran what, with what result",
        role=Role.ADMIN,
        examples=("audit", "audit 50 @bob"),
    )
    async def audit_command(ctx: CommandContext) -> Rendered:
        limit, actor = 20, None
        for word in ctx.args.positionals:
            if word.isdigit():
                limit = max(1, min(int(word), 100))
            elif (user := slack_user_id(word)) is not None:
                actor = user
            else:
                raise UserError(
                    "usage_error",
                    problem=f"`{word}` is neither a count nor a @user.",
                    suggestion=None,
                    text=ctx.text,
                )
        entries = recent_entries(
            services.db, limit=limit, actor=actor, buffer=services.audit_buffer
        )
        return renderer.render("audit", slash=ctx.slash, entries=entries, actor=actor)


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


def status_facts(services: Services, cache: _HealthCache) -> dict[str, object]:
    """Everything `/iris status` shows, the model's facts included."""
    facts: dict[str, object] = {
        "version": bot.__version__,
        "mode": services.mode,
        "uptime_seconds": services.uptime_seconds,
        "database_kind": services.db.engine.dialect.name,
        **cache.get(services),
        "sections": [services.model_status.section(services.settings.model_name)],
    }
    return facts
