"""The progress reporter seam: the engine reports every state change, the Slack layer renders it.

The Slack implementation keeps ONE checklist message per run and edits it in place (chat.update),
posting it on the first update and returning its ts, which the engine stores on the run so later
updates, and a restarted bot, edit the same message.
"""

from __future__ import annotations

from typing import Protocol

from bot.runbook.schema import RunState


class ProgressReporter(Protocol):
    """Shows a run's progress; the Slack layer keeps ONE checklist message updated in place."""

    async def update(self, run: RunState) -> str | None:
        """Render `run`; return the message ts when a new message was posted, else None."""
        ...


class NullReporter:
    """Reports nothing (CLI, tests that do not care)."""

    async def update(self, run: RunState) -> str | None:
        return None
