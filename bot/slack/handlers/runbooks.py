"""`/iris runbook list|show|run` and the Confirm / Cancel buttons of every runbook run."""

from __future__ import annotations

from bot.access.roles import Role
from bot.commands.context import CommandContext, UserError
from bot.commands.registry import CommandRegistry
from bot.messages import Rendered
from bot.runbook import (
    AlreadyConfirmedError,
    ConfirmDeniedError,
    RunbookInputError,
    RunError,
    RunState,
)
from bot.services import Services
from bot.slack.interactions import Interaction, InteractionRegistry


def register(
    services: Services, commands: CommandRegistry, interactions: InteractionRegistry
) -> None:
    renderer = services.renderer

    def engine():  # type: ignore[no-untyped-def]
        return services.engine

    @commands.command("runbook list", usage="runbook list", summary="The runbooks the bot can run")
    async def runbook_list(ctx: CommandContext) -> Rendered:
        runbooks = sorted(engine().runbooks.values(), key=lambda r: r.id)
        return renderer.render("runbook_list", slash=ctx.slash, runbooks=runbooks)

    @commands.command(
        "runbook show",
        usage="runbook show <id>",
        summary="A runbook's scenario, parameters and steps",
    )
    async def runbook_show(ctx: CommandContext) -> Rendered:
        runbook = _runbook(ctx)
        return renderer.render("runbook_show", slash=ctx.slash, runbook=runbook)

    @commands.command(
        "runbook run",
        usage="runbook run <id> [key=value ...]",
        summary="Run a runbook step by step, with a checklist in the channel",
        role=Role.ONCALL,
        examples=(
            "runbook run deploy version=v2",
            'runbook run rollback to_version=v1 reason="accuracy drop"',
        ),
    )
    async def runbook_run(ctx: CommandContext) -> Rendered:
        runbook = _runbook(ctx)
        if len(ctx.args.positionals) > 1:
            raise UserError(
                "usage_error",
                problem="Give runbook parameters as key=value.",
                suggestion=None,
                text=ctx.text,
            )
        try:
            run = await engine().start(
                runbook.id, dict(ctx.args.params), actor=ctx.user_id, channel=ctx.channel_id
            )
        except RunbookInputError as exc:
            raise UserError("runbook_input_error", runbook=runbook, problem=str(exc)) from None
        return started_message(ctx.slash, run)

    def _runbook(ctx: CommandContext):  # type: ignore[no-untyped-def]
        if not ctx.args.positionals:
            raise UserError(
                "usage_error",
                problem="Which runbook?",
                suggestion=None,
                text=ctx.text,
                command=ctx.command,
            )
        wanted = ctx.args.positionals[0].lower()
        runbook = engine().runbooks.get(wanted)
        if runbook is None:
            raise UserError("unknown_runbook", wanted=wanted, runbooks=sorted(engine().runbooks))
        return runbook

    def started_message(slash: str, run: RunState) -> Rendered:
        return renderer.render("runbook_started", slash=slash, run=run)

    def authorize(state: RunState, user: str) -> bool:
        return services.roles.allows(user, Role.ONCALL)

    # Durable: the confirmation is committed before the click is acked (engine.confirm writes to
    # the database only), so a crash right after the ack cannot lose it.
    @interactions.action(
        "runbook.confirm", role=Role.ONCALL, summary="Confirm a runbook step", durable=True
    )
    async def on_confirm(click: Interaction) -> Rendered | None:
        run_id, _, step_id = click.value.partition(":")
        try:
            await engine().confirm(int(run_id), step_id, click.user_id, authorize=authorize)
        except AlreadyConfirmedError as exc:
            return renderer.render("run_not_waiting", slash=click.slash, problem=str(exc))
        except ConfirmDeniedError:
            return renderer.render(
                "denied_action",
                slash=click.slash,
                action=interactions.actions["runbook.confirm"],
                role=click.role.value,
            )
        except (RunError, ValueError) as exc:
            return renderer.render("run_not_waiting", slash=click.slash, problem=str(exc))
        return None

    @interactions.action("runbook.cancel", role=Role.ONCALL, summary="Cancel a runbook run")
    async def on_cancel(click: Interaction) -> Rendered | None:
        try:
            await engine().cancel(int(click.value), click.user_id, authorize=authorize)
        except ConfirmDeniedError:
            return renderer.render(
                "denied_action",
                slash=click.slash,
                action=interactions.actions["runbook.cancel"],
                role=click.role.value,
            )
        except (RunError, ValueError) as exc:
            return renderer.render("run_not_waiting", slash=click.slash, problem=str(exc))
        return None
