"""From command text to a ready invocation: parse, find the command, check the role, audit.

This runs on the ack path, so it is kept to microseconds plus one small INSERT. It does not know
Slack: the Slack listener hands it text and ids and gets back either an answer to send at once
(usage, denial) or a `CommandContext` to run.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from bot.access.roles import Role, RolePolicy
from bot.audit import service as audit
from bot.audit.buffer import AuditBuffer
from bot.commands.catalog import Command, CommandCatalog
from bot.commands.context import CommandContext, Replier, UsageProblem, bind
from bot.commands.parser import ParseError, normalize, parse_args, tokenize
from bot.db import Database
from bot.messages import Rendered, TemplateRenderer

log = logging.getLogger(__name__)


@dataclass
class Prepared:
    """Either `answer` (send it and stop) or `context` (run its handler)."""

    answer: Rendered | None = None
    context: CommandContext | None = None


class Dispatcher:
    def __init__(
        self,
        *,
        registry: CommandCatalog,
        roles: RolePolicy,
        db: Database,
        renderer: TemplateRenderer,
        slash: str,
        buffer: AuditBuffer,
        services: Any,
    ) -> None:
        self.registry = registry
        self.roles = roles
        self.db = db
        self.renderer = renderer
        self.slash = slash
        self.buffer = buffer
        # What handlers get as `ctx.services` (the Slack layer's Services).
        self.services = services

    def prepare(
        self,
        text: str,
        *,
        user_id: str,
        channel_id: str,
        reply: Replier,
        trigger_id: str | None = None,
    ) -> Prepared:
        """Parse and authorize one command; every outcome is audited."""
        # Normalised once, so what runs, what is audited and what is echoed are the same words.
        text = normalize(text or "").strip()
        try:
            words = tokenize(text)
        except ParseError as exc:
            self._audit(user_id, "(unparsed)", text, channel_id, "invalid", str(exc))
            return self._usage(exc.kind, text=text, **exc.facts)
        if not words:
            words = ["help"]
        command, rest = self.registry.match(words)
        if command is None:
            self._audit(user_id, words[0][:64], text, channel_id, "invalid", "unknown command")
            return self._usage(
                "unknown_command",
                text=text,
                word=words[0],
                suggestion=self.registry.suggest_command(words),
            )
        role = self.roles.role_of(user_id)
        if not role.allows(command.role):
            why = f"needs {command.role.value}, has {role.value}"
            self._audit(user_id, command.name, text, channel_id, "denied", why)
            denied = self.renderer.render(
                "denied",
                slash=self.slash,
                command=command,
                role=role.value,
                holders=self.holders(command.role),
            )
            return Prepared(answer=denied)
        try:
            args = parse_args(rest, value_options=command.value_options)
            values = bind(command, _raw_words(text, command) if command.raw else args.positionals)
        except ParseError as exc:
            self._audit(user_id, command.name, text, channel_id, "invalid", str(exc))
            return self._usage(exc.kind, text=text, command=command, **exc.facts)
        except UsageProblem as exc:
            self._audit(user_id, command.name, text, channel_id, "invalid", exc.kind)
            return self._usage(exc.kind, text=text, command=command, **exc.facts)
        context = CommandContext(
            command=command,
            args=args,
            user_id=user_id,
            role=role,
            channel_id=channel_id,
            text=text,
            reply=reply,
            services=self.services,
            catalog=self.registry,
            values=values,
            trigger_id=trigger_id,
            slash=self.slash,
        )
        if command.role is not Role.VIEWER:
            # Commands that may change something are on the record before they run.
            self.accept(context)
        return Prepared(context=context)

    def holders(self, needed: Role) -> list[str]:
        """Who may run a command that needs `needed` (a denial names them)."""
        people = self.roles.admins | (self.roles.engineers if needed is Role.ONCALL else set())
        return sorted(people) if needed is not Role.VIEWER else []

    def _usage(
        self,
        kind: str,
        *,
        text: str,
        command: Command | None = None,
        suggestion: Command | None = None,
        **facts: Any,
    ) -> Prepared:
        """The short ephemeral usage answer: what was wrong, the usage line, a "did you mean"."""
        answer = self.renderer.render(
            "usage_error",
            slash=self.slash,
            kind=kind,
            command=command,
            suggestion=suggestion,
            text=text,
            **facts,
        )
        return Prepared(answer=answer)

    def accept(self, context: CommandContext) -> None:
        """Write the "accepted" record now; `complete` later sets the outcome."""
        if context.audit_id is None:
            context.audit_id = self._audit(
                context.user_id,
                context.command.name,
                context.text,
                context.channel_id,
                "accepted",
                "",
            )

    def complete(self, context: CommandContext, *, result: str, detail: str = "") -> None:
        """Record how a command ended: one row for quick reads, an update for accepted ones."""
        if context.audit_id is None:
            # A read-only command (nothing was accepted up front): its one row is batched.
            self.buffer.add(
                audit.row(
                    actor=context.user_id,
                    action=context.command.name,
                    arguments=context.text,
                    channel=context.channel_id,
                    result=result,
                    detail=detail,
                )
            )
            return
        try:
            with self.db.connection() as conn:
                audit.complete(conn, record_id=context.audit_id, result=result, detail=detail)
        except Exception:  # the audit trail must never take a command down with it
            log.exception("could not complete audit record %s", context.audit_id)

    def _audit(
        self, actor: str, action: str, text: str, channel: str, result: str, detail: str
    ) -> int | None:
        try:
            with self.db.connection() as conn:
                return audit.record(
                    conn,
                    actor=actor,
                    action=action,
                    arguments=text,
                    channel=channel,
                    result=result,
                    detail=detail,
                )
        except Exception:
            log.exception("could not write audit record for %s %s", actor, action)
            return None


def _raw_words(text: str, command: Command) -> list[str]:
    """The words after the command's name as typed: `--x` and `key=value` are free text here."""
    return tokenize(text)[len(command.path) :]
