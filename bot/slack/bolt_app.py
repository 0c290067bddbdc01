"""Builds the Bolt AsyncApp and registers every listener."""

from __future__ import annotations

import logging
import secrets
from typing import Any

from slack_bolt.async_app import AsyncApp
from slack_sdk.web.async_client import AsyncWebClient

from bot.commands.catalog import CommandCatalog
from bot.commands.dispatch import Dispatcher
from bot.services import Services
from bot.slack.commands import CommandRunner, register_command_listener
from bot.slack.interactions import InteractionRouter, register_interaction_listener
from bot.slack.response_url import ResponseUrlPolicy

log = logging.getLogger(__name__)

PIN = "pushpin"


def build_bolt_app(
    services: Services,
    *,
    client: AsyncWebClient,
    commands: CommandCatalog,
    interactions: InteractionRouter,
) -> tuple[AsyncApp, CommandRunner]:
    settings = services.settings
    app = AsyncApp(
        client=client,
        # Without a signing secret (Socket Mode), a random one that nobody can sign with: a
        # known placeholder would be a secret anyone could read here.
        signing_secret=settings.slack_signing_secret or secrets.token_hex(32),
        # Respond the moment the listener returns: our listeners ack first and hand slow work
        # to background tasks, so there is no need for Bolt's 10 ms ack polling.
        process_before_response=True,
        # Every mode verifies: Bolt itself skips the check for Socket Mode envelopes, which
        # arrive over the app token's WebSocket, never over HTTP.
        request_verification_enabled=True,
        logger=logging.getLogger("slack_bolt"),
        # Named, or Bolt names the app after its caller's file through inspect.stack(), which
        # resolves the path of every loaded module: a second per bot once MLflow is imported.
        name="oncall-bot",
    )
    app.middleware(ResponseUrlPolicy.from_settings(settings).middleware())
    dispatcher = Dispatcher(
        registry=commands,
        roles=services.roles,
        db=services.db,
        renderer=services.renderer,
        slash=settings.slash_command,
        buffer=services.audit_buffer,
        services=services,
    )
    runner = register_command_listener(app, services, dispatcher)
    register_interaction_listener(app, services, interactions)

    @app.event("message")
    async def on_message(event: dict[str, Any]) -> None:
        """Thread messages reach an incident's timeline when someone pins them (reaction_added)."""

    @app.event("reaction_added")
    async def on_reaction(event: dict[str, Any]) -> None:
        """A :pushpin: on a message in an incident's thread puts it on the timeline."""
        item = event.get("item") or {}
        flows = services.incidents
        if (
            event.get("reaction") != PIN
            or item.get("type") != "message"
            or not item.get("channel")
            or not item.get("ts")
        ):
            return
        channel, ts, user = str(item["channel"]), str(item["ts"]), str(event.get("user") or "")

        async def pin() -> None:
            try:
                await flows.pin(channel=channel, ts=ts, user=user)
            except Exception:
                log.exception("could not pin message %s to an incident", ts)

        # Ack at once; reading the message back from Slack happens afterwards.
        services.tasks.spawn(pin())

    @app.event("reaction_removed")
    async def on_reaction_removed(event: dict[str, Any]) -> None:
        """An unpinned message stays on the timeline (it is a record, not a bookmark)."""

    @app.event("app_mention")
    async def on_mention(event: dict[str, Any], say: Any) -> None:
        await say(
            **services.renderer.render("mention", slash=settings.slash_command).as_kwargs(),
            thread_ts=event.get("thread_ts") or event.get("ts"),
        )

    @app.error
    async def on_error(error: Exception, body: dict[str, Any]) -> None:
        log.error("unhandled error in a Slack listener: %s", error, exc_info=error)

    return app, runner
