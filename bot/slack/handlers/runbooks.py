"""`/iris runbook list|show|run` and the Confirm / Cancel buttons of every runbook run."""

from __future__ import annotations

from typing import Any

from bot.access.roles import Role
from bot.commands.context import Arg, Command, CommandContext, UserError
from bot.messages import Rendered
from bot.runbook import (
    AlreadyConfirmedError,
    ConfirmDeniedError,
    RunbookInputError,
    RunError,
    RunState,
)
from bot.services import Services
from bot.slack.interactions import Button, Interaction

Ctx = CommandContext[Services]


def _runbook(ctx: Ctx) -> Any:
    """The runbook the `id` argument names, or the answer listing the ones there are."""
    runbooks = ctx.services.engine.runbooks
    wanted = ctx.arg("id").lower()
    runbook = runbooks.get(wanted)
    if runbook is None:
        raise UserError("unknown_runbook", wanted=wanted, runbooks=sorted(runbooks))
    return runbook


async def runbook_list(ctx: Ctx) -> Rendered:
    runbooks = sorted(ctx.services.engine.runbooks.values(), key=lambda r: r.id)
    return ctx.services.renderer.render("runbook_list", slash=ctx.slash, runbooks=runbooks)


async def runbook_show(ctx: Ctx) -> Rendered:
    return ctx.services.renderer.render("runbook_show", slash=ctx.slash, runbook=_runbook(ctx))


async def runbook_run(ctx: Ctx) -> Rendered:
    runbook = _runbook(ctx)
    try:
        run = await ctx.services.engine.start(
            runbook.id, dict(ctx.args.params), actor=ctx.user_id, channel=ctx.channel_id
        )
    except RunbookInputError as exc:
        raise UserError("runbook_input_error", runbook=runbook, problem=str(exc)) from None
    return ctx.services.renderer.render("runbook_started", slash=ctx.slash, run=run)


def _authorizer(services: Services) -> Any:
    def authorize(state: RunState, user: str) -> bool:
        return services.roles.allows(user, Role.ONCALL)

    return authorize


async def on_confirm(click: Interaction) -> Rendered | None:
    """Confirm a runbook step."""
    engine, renderer = click.services.engine, click.services.renderer
    run_id, _, step_id = click.value.partition(":")
    try:
        await engine.confirm(
            int(run_id), step_id, click.user_id, authorize=_authorizer(click.services)
        )
    except AlreadyConfirmedError as exc:
        return renderer.render("run_not_waiting", slash=click.slash, kind=exc.kind, **exc.facts)
    except ConfirmDeniedError:
        return renderer.render(
            "denied_action", slash=click.slash, action=CONFIRM, role=click.role.value
        )
    except RunError as exc:
        return renderer.render("run_not_waiting", slash=click.slash, kind=exc.kind, **exc.facts)
    except ValueError:  # a button value that names no run (hand-made payloads)
        return renderer.render("run_not_waiting", slash=click.slash, kind="no_such_run", run=None)
    return None


async def on_cancel(click: Interaction) -> Rendered | None:
    """Cancel a runbook run."""
    engine, renderer = click.services.engine, click.services.renderer
    try:
        await engine.cancel(int(click.value), click.user_id, authorize=_authorizer(click.services))
    except ConfirmDeniedError:
        return renderer.render(
            "denied_action", slash=click.slash, action=CANCEL, role=click.role.value
        )
    except RunError as exc:
        return renderer.render("run_not_waiting", slash=click.slash, kind=exc.kind, **exc.facts)
    except ValueError:  # a button value that names no run (hand-made payloads)
        return renderer.render("run_not_waiting", slash=click.slash, kind="no_such_run", run=None)
    return None


RUNBOOK = Arg("id")

COMMANDS = (
    Command("runbook list", runbook_list),
    Command("runbook show", runbook_show, args=(RUNBOOK,)),
    Command("runbook run", runbook_run, role=Role.ONCALL, args=(RUNBOOK,), params=True),
)

# Durable: the confirmation is committed before the click is acked (engine.confirm writes to
# the database only), so a crash right after the ack cannot lose it.
CONFIRM = Button("runbook.confirm", on_confirm, role=Role.ONCALL, durable=True)
CANCEL = Button("runbook.cancel", on_cancel, role=Role.ONCALL)
BUTTONS = (CONFIRM, CANCEL)
