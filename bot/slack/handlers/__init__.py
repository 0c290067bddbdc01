"""Command and button handlers: thin adapters that parse, call a flow and render a template."""

from __future__ import annotations

from bot.commands.registry import CommandRegistry
from bot.services import Services
from bot.slack.handlers import (
    core,
    incidents,
    models,
    monitoring,
    reminders,
    retrain,
    runbooks,
    subscriptions,
)
from bot.slack.interactions import InteractionRegistry


def register_all(
    services: Services, commands: CommandRegistry, interactions: InteractionRegistry
) -> None:
    """Every handler module registers its commands and buttons here, once."""
    core.register(services, commands, interactions)
    models.register(services, commands, interactions)
    runbooks.register(services, commands, interactions)
    retrain.register(services, commands, interactions)
    monitoring.register(services, commands, interactions)
    incidents.register(services, commands, interactions)
    subscriptions.register(services, commands, interactions)
    reminders.register(services, commands, interactions)
