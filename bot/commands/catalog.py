"""The registry of subcommands: each is declared once with its arguments and required role.

Help text, usage lines, "did you mean" suggestions and permission checks are all generated from
here, so a command cannot exist without a usage line or without a declared role.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass, field

from bot.commands.context import Command, Handler

__all__ = ["Command", "CommandCatalog", "Handler"]


@dataclass
class CommandCatalog:
    commands: dict[tuple[str, ...], Command] = field(default_factory=dict)

    def add(self, *commands: Command) -> None:
        for command in commands:
            if command.path in self.commands:
                raise ValueError(f"command {command.name!r} is registered twice")
            self.commands[command.path] = command

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
