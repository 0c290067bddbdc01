"""Command and button handlers: module-level functions that read their arguments from the
context, call a flow and render a template. Each module declares its `COMMANDS` (with their
arguments, so the dispatcher checks them) and its `BUTTONS` (buttons and modals)."""

from __future__ import annotations

from bot.commands.catalog import CommandCatalog
from bot.commands.context import Command
from bot.services import Services
from bot.slack.handlers import (
    access,
    access_buttons,
    capacity,
    core,
    deploy,
    gameday,
    incidents,
    monitoring,
    pipeline,
    quality,
    reminders,
    retrain,
    runbooks,
    subscriptions,
)
from bot.slack.interactions import Button, InteractionRouter, Modal

COMMANDS: tuple[Command, ...] = (
    *core.COMMANDS,
    *deploy.COMMANDS,
    *runbooks.COMMANDS,
    *retrain.COMMANDS,
    *monitoring.COMMANDS,
    *incidents.COMMANDS,
    *subscriptions.COMMANDS,
    *access.COMMANDS,
    *quality.COMMANDS,
    *pipeline.COMMANDS,
    *gameday.COMMANDS,
    *capacity.COMMANDS,
)

BUTTONS: tuple[Button | Modal, ...] = (
    *runbooks.BUTTONS,
    *retrain.BUTTONS,
    *incidents.BUTTONS,
    *subscriptions.BUTTONS,
    *reminders.BUTTONS,
    *access_buttons.BUTTONS,
    *quality.BUTTONS,
    *pipeline.BUTTONS,
    *gameday.BUTTONS,
    *capacity.BUTTONS,
)


def register_all(
    services: Services, commands: CommandCatalog, interactions: InteractionRouter
) -> None:
    """Every command, button and modal, registered once; the handlers are given `services` with
    each call (`ctx.services`, `click.services`), so they hold no reference of their own."""
    commands.add(*COMMANDS)
    interactions.add(*BUTTONS)
