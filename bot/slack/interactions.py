"""Buttons: a registry of action ids, each with the role its clicker needs.

The role is checked on the clicking user of the signed payload, not on whoever posted the
message, so a confirmation card shared in a channel cannot be confirmed by a viewer. Clicks are
acked at once; the handler runs after the ack.
"""

from __future__ import annotations

import logging
import re
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from slack_bolt.async_app import AsyncAck, AsyncApp
from slack_sdk.web.async_client import AsyncWebClient

from bot.access.roles import Role
from bot.audit import service as audit
from bot.commands.context import UserError
from bot.messages import Rendered
from bot.services import Services
from bot.slack.replier import SlackReplier

log = logging.getLogger(__name__)


@dataclass
class Interaction:
    """One click on one button."""

    action_id: str
    value: str
    user_id: str
    role: Role
    channel_id: str
    message_ts: str | None
    thread_ts: str | None
    trigger_id: str | None
    reply: SlackReplier
    message: dict[str, Any] = field(default_factory=dict)
    slash: str = "/iris"


InteractionHandler = Callable[[Interaction], Awaitable[Rendered | None]]


@dataclass(frozen=True)
class ActionSpec:
    action_id: str
    role: Role
    handler: InteractionHandler
    summary: str


class InteractionRegistry:
    def __init__(self) -> None:
        self.actions: dict[str, ActionSpec] = {}

    def action(
        self, action_id: str, *, role: Role, summary: str
    ) -> Callable[[InteractionHandler], InteractionHandler]:
        def register(handler: InteractionHandler) -> InteractionHandler:
            if action_id in self.actions:
                raise ValueError(f"button action {action_id!r} is registered twice")
            self.actions[action_id] = ActionSpec(action_id, role, handler, summary)
            return handler

        return register


def register_interaction_listener(
    app: AsyncApp, services: Services, registry: InteractionRegistry
) -> None:
    renderer = services.renderer
    slash = services.settings.slash_command

    @app.action(re.compile(r".+"))
    async def on_action(ack: AsyncAck, body: dict[str, Any], client: AsyncWebClient) -> None:
        await ack()
        try:
            interaction = _interaction(body, client)
        except (KeyError, IndexError, TypeError):
            log.warning("ignoring a malformed block_actions payload")
            return
        services.tasks.spawn(_run(interaction), name=f"action {interaction.action_id}")

    def _interaction(body: dict[str, Any], client: AsyncWebClient) -> Interaction:
        action = body["actions"][0]
        user_id = body["user"]["id"]
        channel_id = (body.get("channel") or {}).get("id") or (body.get("container") or {}).get(
            "channel_id", ""
        )
        message = body.get("message") or {}
        return Interaction(
            action_id=action["action_id"],
            value=action.get("value") or "",
            user_id=user_id,
            role=services.roles.role_of(user_id),
            channel_id=channel_id,
            message_ts=message.get("ts"),
            thread_ts=message.get("thread_ts"),
            trigger_id=body.get("trigger_id"),
            reply=SlackReplier(
                client,
                response_url=body.get("response_url"),
                channel_id=channel_id,
                user_id=user_id,
            ),
            message=message,
            slash=slash,
        )

    async def _run(interaction: Interaction) -> None:
        spec = registry.actions.get(interaction.action_id)
        result = "ok"
        answer: Rendered | None = None
        if spec is None:
            result, answer = "invalid", renderer.render("stale_button", slash=slash)
        elif not interaction.role.allows(spec.role):
            result = "denied"
            answer = renderer.render(
                "denied_action", slash=slash, action=spec, role=interaction.role.value
            )
        else:
            try:
                answer = await spec.handler(interaction)
            except UserError as exc:
                result = exc.result
                answer = renderer.render(
                    exc.template, **{"slash": slash, "command": None, **exc.context}
                )
            except Exception:
                error_id = uuid.uuid4().hex[:8]
                log.exception("button %s failed (error id %s)", interaction.action_id, error_id)
                result, answer = (
                    "error",
                    renderer.render("error", slash=slash, command=None, error_id=error_id),
                )
        services.metrics.interactions.labels(interaction.action_id, result).inc()
        try:
            with services.db.connection() as conn:
                audit.record(
                    conn,
                    actor=interaction.user_id,
                    action=f"button {interaction.action_id}",
                    arguments=interaction.value,
                    channel=interaction.channel_id,
                    result=result,
                )
        except Exception:
            log.exception("could not audit button %s", interaction.action_id)
        if answer is not None:
            await interaction.reply.respond(answer)
