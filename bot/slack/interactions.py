"""Buttons and modals: registries of action ids and view callback ids, each with its role.

The role is checked on the clicking user of the signed payload, not on whoever posted the
message, so a confirmation card shared in a channel cannot be confirmed by a viewer. Clicks are
acked at once; the handler runs after the ack. A modal's submission is checked before the ack
(so that a mistake shows in the modal) and handled after it.

A durable button (a runbook's Confirm) is the exception: its handler only writes to the database
(a few milliseconds) and is awaited before the ack, with its audit row, so that once Slack has
shown the click as accepted, a crash of the bot cannot lose it. Its answer still goes after.
"""

from __future__ import annotations

import json
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
    services: Services
    message: dict[str, Any] = field(default_factory=dict)
    slash: str = "/iris"


InteractionHandler = Callable[[Interaction], Awaitable[Rendered | None]]


@dataclass(frozen=True)
class Button:
    """A button: its action id, who may click it, and its handler."""

    action_id: str
    handler: InteractionHandler
    role: Role
    # The handler records the click in the database and does no network I/O: it runs before the
    # ack (see the module docstring).
    durable: bool = False


@dataclass
class Submission:
    """One submitted modal: its input values and the JSON it was opened with."""

    callback_id: str
    user_id: str
    role: Role
    values: dict[str, dict[str, Any]]
    metadata: dict[str, Any]
    reply: SlackReplier
    services: Services
    slash: str = "/iris"

    def text(self, block_id: str, action_id: str) -> str:
        """What was typed into one plain-text input ("" when left empty)."""
        state = self.values.get(block_id, {}).get(action_id) or {}
        return str(state.get("value") or "").strip()


# Before the ack (fast, no I/O): errors to show in the modal by block id, or None to accept.
SubmissionCheck = Callable[[Submission], dict[str, str] | None]
SubmissionHandler = Callable[[Submission], Awaitable[Rendered | None]]


@dataclass(frozen=True)
class Modal:
    """A modal: `check` runs before the ack, the handler after it."""

    callback_id: str
    handler: SubmissionHandler
    role: Role
    check: SubmissionCheck


class InteractionRouter:
    def __init__(self) -> None:
        self.actions: dict[str, Button] = {}
        self.views: dict[str, Modal] = {}

    def add(self, *specs: Button | Modal) -> None:
        for spec in specs:
            if isinstance(spec, Button):
                if spec.action_id in self.actions:
                    raise ValueError(f"button action {spec.action_id!r} is registered twice")
                self.actions[spec.action_id] = spec
            else:
                if spec.callback_id in self.views:
                    raise ValueError(f"modal {spec.callback_id!r} is registered twice")
                self.views[spec.callback_id] = spec


def register_interaction_listener(
    app: AsyncApp, services: Services, registry: InteractionRouter
) -> None:
    listener = InteractionListener(services, registry)
    app.action(re.compile(r".+"))(listener.on_action)
    app.view(re.compile(r".+"))(listener.on_view)


class InteractionListener:
    """Bolt's listeners for every button and modal: ack, check the role, run, audit, answer."""

    def __init__(self, services: Services, registry: InteractionRouter) -> None:
        self.services = services
        self.registry = registry
        self.renderer = services.renderer
        self.slash = services.settings.slash_command

    async def on_action(self, ack: AsyncAck, body: dict[str, Any], client: AsyncWebClient) -> None:
        try:
            interaction = self._interaction(body, client)
        except (KeyError, IndexError, TypeError):
            await ack()
            log.warning("ignoring a malformed block_actions payload")
            return
        tasks = self.services.tasks
        spec = self.registry.actions.get(interaction.action_id)
        if spec is None or not spec.durable:
            await ack()
            tasks.spawn(self._run(interaction), name=f"action {interaction.action_id}")
            return
        answer = await self._button_outcome(interaction)  # committed before Slack hears "ok"
        await ack()
        if answer is not None:
            tasks.spawn(interaction.reply.respond(answer), name=f"answer {interaction.action_id}")

    def _interaction(self, body: dict[str, Any], client: AsyncWebClient) -> Interaction:
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
            role=self.services.roles.role_of(user_id),
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
            services=self.services,
            message=message,
            slash=self.slash,
        )

    async def _run(self, interaction: Interaction) -> None:
        answer = await self._button_outcome(interaction)
        if answer is not None:
            await interaction.reply.respond(answer)

    async def _button_outcome(self, interaction: Interaction) -> Rendered | None:
        spec = self.registry.actions.get(interaction.action_id)
        return await self._outcome(
            what=f"button {interaction.action_id}",
            spec=spec,
            role=interaction.role,
            call=lambda: spec.handler(interaction),  # type: ignore[union-attr]
            user=interaction.user_id,
            arguments=interaction.value,
            channel=interaction.channel_id,
        )

    async def on_view(self, ack: AsyncAck, body: dict[str, Any], client: AsyncWebClient) -> None:
        try:
            submission = self._submission(body, client)
        except (KeyError, TypeError, ValueError):
            log.warning("ignoring a malformed view_submission payload")
            await ack()
            return
        spec = self.registry.views.get(submission.callback_id)
        errors = None
        if spec is not None and submission.role.allows(spec.role):
            try:
                errors = spec.check(submission)
            except Exception:
                log.exception("check of modal %s failed", submission.callback_id)
        if errors:
            await ack(response_action="errors", errors=errors)  # the modal stays open
            return
        await ack()
        self.services.tasks.spawn(
            self._run_view(submission), name=f"modal {submission.callback_id}"
        )

    def _submission(self, body: dict[str, Any], client: AsyncWebClient) -> Submission:
        view = body["view"]
        user_id = body["user"]["id"]
        metadata = json.loads(view.get("private_metadata") or "{}")
        if not isinstance(metadata, dict):
            raise ValueError("private_metadata is not an object")
        return Submission(
            callback_id=str(view["callback_id"]),
            user_id=user_id,
            role=self.services.roles.role_of(user_id),
            values=(view.get("state") or {}).get("values") or {},
            metadata=metadata,
            # Modals have no response_url: answers are ephemeral in the channel they came from.
            reply=SlackReplier(
                client,
                response_url=None,
                channel_id=str(metadata.get("channel") or ""),
                user_id=user_id,
            ),
            services=self.services,
            slash=self.slash,
        )

    async def _run_view(self, submission: Submission) -> None:
        spec = self.registry.views.get(submission.callback_id)
        answer = await self._outcome(
            what=f"modal {submission.callback_id}",
            spec=spec,
            role=submission.role,
            call=lambda: spec.handler(submission),  # type: ignore[union-attr]
            user=submission.user_id,
            arguments=json.dumps(submission.metadata, sort_keys=True),
            channel=submission.reply.channel_id,
        )
        if answer is not None:
            await submission.reply.respond(answer)

    async def _outcome(
        self,
        *,
        what: str,
        spec: Button | Modal | None,
        role: Role,
        call: Callable[[], Awaitable[Rendered | None]],
        user: str,
        arguments: str,
        channel: str,
    ) -> Rendered | None:
        """Role check, the handler, a metric and an audit record; the answer for the person."""
        result, answer = await self._answer(what, spec, role, call)
        self.services.metrics.interactions.labels(what.split(" ", 1)[1], result).inc()
        try:
            with self.services.db.connection() as conn:
                audit.record(
                    conn,
                    actor=user,
                    action=what,
                    arguments=arguments,
                    channel=channel,
                    result=result,
                )
        except Exception:
            log.exception("could not audit %s", what)
        return answer

    async def _answer(
        self,
        what: str,
        spec: Button | Modal | None,
        role: Role,
        call: Callable[[], Awaitable[Rendered | None]],
    ) -> tuple[str, Rendered | None]:
        """The audit result and the answer of one click or submission."""
        render, slash = self.renderer.render, self.slash
        if spec is None:
            return "invalid", render("stale_button", slash=slash)
        if not role.allows(spec.role):
            what_kind = "form" if isinstance(spec, Modal) else "button"
            roles = self.services.roles
            holders = set(roles.admins)
            if spec.role is Role.ONCALL:
                holders |= roles.engineers
            return "denied", render(
                "denied_action",
                slash=slash,
                action=spec,
                role=role.value,
                what=what_kind,
                holders=sorted(holders),
            )
        try:
            return "ok", await call()
        except UserError as exc:
            return exc.result, render(
                exc.template, **{"slash": slash, "command": None, **exc.context}
            )
        except Exception:
            error_id = uuid.uuid4().hex[:8]
            log.exception("%s failed (error id %s)", what, error_id)
            return "error", render("error", slash=slash, command=None, error_id=error_id)
