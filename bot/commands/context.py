"""A command as declared (`Command`, its `Arg`s and `Opt`s), what its handler receives
(`CommandContext`), and the errors it may raise to answer a user. The types name each other, so
they live in one module.

A command declares its arguments where it is registered; the dispatcher binds the words typed to
them (counts, kinds, usage errors) before the handler runs, so a handler starts from values that
are there and of the right kind. Every word a user reads about a command (its summary, examples,
what an argument wants) is in templates/_commands.j2, keyed by the command's name.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Generic, Protocol, TypeVar

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


class ArgRejected(ValueError):
    """The word is meant as this kind of argument (`sev7`) but is not a valid one."""


@dataclass(frozen=True)
class Kind:
    """What an argument accepts: `convert` gives the value, None for a word of another kind, or
    raises ArgRejected for a word of this kind that is wrong."""

    name: str
    convert: Callable[[str], Any]


@dataclass(frozen=True)
class Arg:
    """One positional argument. `rest` takes every word left, joined (titles, notes)."""

    name: str
    optional: bool = False
    kind: Kind | None = None
    rest: bool = False
    # How the usage line shows it, when not `<name>`: `INC-n`, `1-4`, `@user`.
    shown: str = ""
    # Shown as is, without the <...> of a required argument (`@user`, `INC-n`).
    bare: bool = False

    @property
    def usage(self) -> str:
        label = self.shown or self.name
        if self.optional:
            return f"[{label}]"
        return label if self.bare else f"<{label}>"


@dataclass(frozen=True)
class Opt:
    """A `--name` option; with `value` it takes one (`--reason "..."`), else it is a flag."""

    name: str
    value: str = ""

    @property
    def usage(self) -> str:
        return f"[--{self.name} {self.value}]" if self.value else f"[--{self.name}]"


@dataclass(frozen=True)
class Command:
    """One subcommand (`deploy`, `runbook run`), its arguments, its role and its handler."""

    name: str
    handler: Handler
    role: Role = Role.VIEWER
    args: tuple[Arg, ...] = ()
    options: tuple[Opt, ...] = ()
    # Takes `key=value` pairs (runbook parameters, hyperparameters).
    params: bool = False
    # The words as typed: `--x` and `key=value` stay part of the free text of the arguments.
    raw: bool = False
    # Each word goes to the first optional argument whose kind takes it (`audit 50 @bob`).
    any_order: bool = False
    # Quick commands answer inside the ack; others ack at once and report back later.
    answers_in_ack: bool = True

    @property
    def path(self) -> tuple[str, ...]:
        return tuple(self.name.split())

    @property
    def value_options(self) -> frozenset[str]:
        return frozenset(o.name for o in self.options if o.value)

    @property
    def usage(self) -> str:
        """The usage line, from the declaration: `deploy <version> [--reason "..."]`."""
        parts = [self.name, *(a.usage for a in self.args), *(o.usage for o in self.options)]
        if self.params:
            parts.append("[key=value ...]")
        return " ".join(parts)


Handler = Callable[["CommandContext[Any]"], Awaitable[Rendered | None]]


class Catalog(Protocol):
    """The registered commands, as `help` reads them."""

    def match(self, words: list[str]) -> tuple[Command | None, list[str]]: ...

    def group(self, prefix: str) -> list[Command]: ...

    def sorted(self) -> list[Command]: ...

    def suggest_command(self, words: list[str]) -> Command | None: ...


S = TypeVar("S")


@dataclass
class CommandContext(Generic[S]):
    """One invocation of one command by one user; `services` are the handler's dependencies."""

    command: Command
    args: ParsedArgs
    user_id: str
    role: Role
    channel_id: str
    text: str
    reply: Replier
    services: S
    catalog: Catalog
    # The declared arguments, bound: name -> value (None for an optional one not given).
    values: dict[str, Any] = field(default_factory=dict)
    audit_id: int | None = None
    trigger_id: str | None = None
    thread_ts: str | None = None
    slash: str = "/iris"

    def arg(self, name: str) -> Any:
        return self.values.get(name)


class UsageProblem(Exception):
    """The words do not fit the command's arguments; `kind` and `facts` pick the template text."""

    def __init__(self, kind: str, **facts: Any) -> None:
        super().__init__(kind)
        self.kind = kind
        self.facts = facts


def bind(command: Command, words: Sequence[str]) -> dict[str, Any]:
    """Bind typed words to the declared arguments, or raise UsageProblem."""
    if command.any_order:
        return _bind_any_order(command, words)
    values: dict[str, Any] = {}
    left = list(words)
    for arg in command.args:
        if not left:
            if not arg.optional:
                raise UsageProblem("missing", arg=arg)
            values[arg.name] = None
            continue
        if arg.rest:
            values[arg.name] = " ".join(left)
            left = []
            continue
        value = _convert(arg, left[0])
        if value is None:
            if not arg.optional:
                raise UsageProblem("bad", arg=arg, word=left[0])
            values[arg.name] = None
            continue
        values[arg.name] = value
        left.pop(0)
    if left:
        raise UsageProblem("extra", words=left, word=left[0])
    return values


def _bind_any_order(command: Command, words: Sequence[str]) -> dict[str, Any]:
    values: dict[str, Any] = {a.name: None for a in command.args}
    for word in words:
        for arg in command.args:
            if values[arg.name] is None and (value := _convert(arg, word)) is not None:
                values[arg.name] = value
                break
        else:
            raise UsageProblem("unclaimed", word=word, args=command.args)
    return values


def _convert(arg: Arg, word: str) -> Any:
    if arg.kind is None:
        return word
    try:
        return arg.kind.convert(word)
    except ArgRejected:
        raise UsageProblem("bad", arg=arg, word=word) from None
