"""A command as declared (`Command`), what its handler receives (`CommandContext`), and the errors
it may raise to answer a user. The two types name each other, so they live in one module.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

from bot.access.roles import Role
from bot.commands.parser import ParsedArgs
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


Handler = Callable[["CommandContext"], Awaitable["Rendered | None"]]


@dataclass(frozen=True)
class Command:
    """One subcommand path (`("deploy",)`, `("runbook", "run")`) and how to run it."""

    path: tuple[str, ...]
    usage: str
    summary: str
    role: Role
    handler: Handler
    # Options that take a value (`--reason "..."`); every other `--x` is a boolean flag.
    value_options: frozenset[str] = frozenset()
    # Quick commands answer inside the ack; others ack at once and report back later.
    answers_in_ack: bool = True
    details: str = ""
    examples: tuple[str, ...] = ()

    @property
    def name(self) -> str:
        return " ".join(self.path)


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
