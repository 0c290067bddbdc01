"""What a command handler receives, and the errors it may raise to answer a user."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

from bot.access.roles import Role
from bot.commands.parser import ParsedArgs

if TYPE_CHECKING:
    from bot.commands.registry import Command
    from bot.messages import Rendered


@dataclass(frozen=True)
class Posted:
    """Where a posted message landed: Slack answers with the channel id even when given a name."""

    channel: str
    ts: str


class Replier(Protocol):
    """How a handler talks back; the Slack layer implements it (response_url, chat.* calls)."""

    async def respond(self, message: Rendered, *, in_channel: bool = False) -> None: ...

    async def post(
        self, channel: str, message: Rendered, *, thread_ts: str | None = None
    ) -> Posted: ...

    async def update(self, channel: str, ts: str, message: Rendered) -> None: ...


class UserError(Exception):
    """An expected problem caused by the request; answered with a template, never a stack trace.

    `template` and `context` pick the message; `result` is what the audit record says.
    """

    def __init__(self, template: str, *, result: str = "invalid", **context: Any) -> None:
        super().__init__(f"{template}: {context}")
        self.template = template
        self.result = result
        self.context = context


@dataclass
class CommandContext:
    """One invocation of one command by one user."""

    command: Command
    args: ParsedArgs
    user_id: str
    role: Role
    channel_id: str
    text: str
    reply: Replier
    audit_id: int | None = None
    trigger_id: str | None = None
    thread_ts: str | None = None
    extras: dict[str, Any] = field(default_factory=dict)

    @property
    def slash(self) -> str:
        return self.extras.get("slash", "/iris")
