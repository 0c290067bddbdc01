"""The registry of subcommands: each is declared once with its usage, summary and required role.

Help text, "did you mean" suggestions and permission checks are all generated from here, so a
command cannot exist without documentation or without a declared role.
"""

from __future__ import annotations

import difflib
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from bot.access.roles import Role
from bot.commands.context import Command, Handler

__all__ = ["Command", "CommandRegistry", "Handler"]


@dataclass
class CommandRegistry:
    commands: dict[tuple[str, ...], Command] = field(default_factory=dict)

    def add(self, command: Command) -> Command:
        if command.path in self.commands:
            raise ValueError(f"command {command.name!r} is registered twice")
        self.commands[command.path] = command
        return command

    def command(
        self,
        name: str,
        *,
        usage: str,
        summary: str,
        role: Role = Role.VIEWER,
        value_options: tuple[str, ...] = (),
        answers_in_ack: bool = True,
        details: str = "",
        examples: tuple[str, ...] = (),
    ) -> Callable[[Handler], Handler]:
        """Decorator form of `add`."""

        def register(handler: Handler) -> Handler:
            self.add(
                Command(
                    path=tuple(name.split()),
                    usage=usage,
                    summary=summary,
                    role=role,
                    handler=handler,
                    value_options=frozenset(value_options),
                    answers_in_ack=answers_in_ack,
                    details=details,
                    examples=examples,
                )
            )
            return handler

        return register

    def match(self, words: list[str]) -> tuple[Command | None, list[str]]:
        """Longest registered path that prefixes `words`; returns the command and the remaining words."""
        lowered = [w.lower() for w in words]
        for length in range(min(len(words), 3), 0, -1):
            command = self.commands.get(tuple(lowered[:length]))
            if command is not None:
                return command, words[length:]
        return None, words

    def group(self, prefix: str) -> list[Command]:
        """Commands under a first word (`runbook` → runbook list/show/run)."""
        return [c for c in self.sorted() if c.path[0] == prefix and len(c.path) > 1]

    def sorted(self) -> list[Command]:
        return sorted(self.commands.values(), key=lambda c: c.path)

    def suggest(self, words: list[str]) -> str | None:
        """The closest registered command to a mistyped one."""
        if not words:
            return None
        names = {c.name: c for c in self.commands.values()}
        typed = " ".join(w.lower() for w in words[:2])
        candidates = difflib.get_close_matches(typed, names, n=1, cutoff=0.6)
        if not candidates:
            typed = words[0].lower()
            firsts = sorted({c.path[0] for c in self.commands.values()})
            candidates = difflib.get_close_matches(typed, firsts, n=1, cutoff=0.6)
        return candidates[0] if candidates else None

    def suggest_command(self, words: list[str]) -> Command | None:
        """Like `suggest`, but the registered command itself (for its usage line)."""
        suggestion = self.suggest(words)
        return self.commands.get(tuple(suggestion.split())) if suggestion else None

    def as_help(self) -> list[dict[str, Any]]:
        return [
            {"name": c.name, "usage": c.usage, "summary": c.summary, "role": c.role.value}
            for c in self.sorted()
        ]
