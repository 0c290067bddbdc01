"""The runbook engine's progress reporter for Slack: one checklist message, updated in place.

The first update posts the checklist (it becomes the thread's parent unless the run was started
inside a thread); every later change edits it with chat.update; when the run ends, the final
report goes into the thread as a reply.
"""

from __future__ import annotations

import logging

from slack_sdk.web.async_client import AsyncWebClient

from bot.messages import TemplateRenderer
from bot.runbook import RunState, build_checklist

log = logging.getLogger(__name__)


class SlackRunbookReporter:
    def __init__(self, client: AsyncWebClient, renderer: TemplateRenderer, *, slash: str) -> None:
        self.client = client
        self.renderer = renderer
        self.slash = slash
        # Runs whose final report was posted by this process (the engine reports a finish once).
        self._reported: set[int] = set()

    async def update(self, run: RunState) -> str | None:
        if not run.channel:
            return None
        view = build_checklist(run)
        message = self.renderer.render("runbook_run", slash=self.slash, run=run, view=view)
        if run.message_ts is None:
            response = await self.client.chat_postMessage(
                channel=run.channel, thread_ts=run.thread_ts, **message.as_kwargs()
            )
            ts = str(response["ts"])
        else:
            await self.client.chat_update(
                channel=run.channel, ts=run.message_ts, **message.as_kwargs()
            )
            ts = run.message_ts
        if view.finished and run.id not in self._reported:
            self._reported.add(run.id)
            report = self.renderer.render("runbook_done", slash=self.slash, run=run, view=view)
            await self.client.chat_postMessage(
                channel=run.channel, thread_ts=run.thread_ts or ts, **report.as_kwargs()
            )
        return ts if run.message_ts is None else None
