"""`/iris gameday list|run|abort|drills`, and the Abort button on a drill's message."""

from __future__ import annotations

import asyncio

from bot.access.roles import Role
from bot.commands.context import Arg, Command, CommandContext, Opt, UserError
from bot.gameday.flows import DrillRefused
from bot.messages import Rendered
from bot.services import Services
from bot.slack.interactions import Button, Interaction
from bot.updates import subscriptions

Ctx = CommandContext[Services]


def _answer(services: Services, slash: str, kind: str, **facts: object) -> Rendered:
    return services.renderer.render("gameday_answer", slash=slash, kind=kind, **facts)


async def list_command(ctx: Ctx) -> Rendered:
    days = ctx.services.gameday
    return ctx.services.renderer.render(
        "gameday_list", slash=ctx.slash, scenarios=days.listing(), enabled=days.enabled
    )


async def run_command(ctx: Ctx) -> Rendered:
    days, slash = ctx.services.gameday, ctx.slash
    text = ctx.args.option("speed", "1") or "1"
    try:
        speed = float(text)
    except ValueError:
        raise UserError("gameday_refused", kind="speed_word", speed=text, slash=slash) from None
    responder = None
    if ctx.args.flag("scripted"):
        if days.scripted is None:
            raise UserError("gameday_refused", kind="no_scripted", slash=slash)
        responder = days.scripted()
    try:
        run_id = await days.start(
            scenario_id=ctx.arg("scenario"),
            owner=ctx.user_id,
            speed=speed,
            force=ctx.args.flag("force"),
            responder=responder,
        )
    except DrillRefused as exc:
        raise UserError("gameday_refused", kind=exc.kind, slash=slash, **exc.facts) from None
    return _answer(ctx.services, slash, "started", run_id=run_id, scenario=ctx.arg("scenario"))


async def abort_command(ctx: Ctx) -> Rendered:
    run_id = await ctx.services.gameday.abort(user=ctx.user_id)
    kind = "aborted" if run_id is not None else "nothing_running"
    return _answer(ctx.services, ctx.slash, kind, run_id=run_id)


async def drills_command(ctx: Ctx) -> Rendered:
    """`gameday drills off`: no stakeholder updates about drills for you (`on` again)."""
    wanted = (ctx.arg("switch") or "").lower()
    if wanted not in ("on", "off"):
        raise UserError("gameday_refused", kind="switch", slash=ctx.slash, switch=wanted)

    def store() -> int:
        with ctx.services.db.engine.begin() as conn:
            return subscriptions.set_skip_drills(conn, subscriber=ctx.user_id, skip=wanted == "off")

    changed = await asyncio.to_thread(store)
    return _answer(ctx.services, ctx.slash, f"drills_{wanted}", changed=changed)


async def on_abort(click: Interaction) -> Rendered:
    """The owner's Abort button on the drill's message."""
    run_id = await click.services.gameday.abort(user=click.user_id, run_id=int(click.value))
    kind = "aborted" if run_id is not None else "nothing_running"
    return _answer(click.services, click.slash, kind, run_id=run_id)


COMMANDS = (
    Command("gameday list", list_command),
    Command(
        "gameday run",
        run_command,
        role=Role.ADMIN,
        args=(Arg("scenario"),),
        options=(Opt("speed", value="N"), Opt("force"), Opt("scripted")),
    ),
    Command("gameday abort", abort_command, role=Role.ADMIN),
    Command("gameday drills", drills_command, args=(Arg("switch", shown="on|off", bare=True),)),
)

BUTTONS = (Button("gameday.abort", on_abort, role=Role.ADMIN),)
