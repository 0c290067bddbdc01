"""Commander reminders in Slack: the reminder in the incident's thread and the "Post update" modal.

Nothing here decides anything; `bot.updates.reminders` does, through the `ReminderPoster`
protocol.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import timedelta
from typing import Any

from slack_sdk.web.async_client import AsyncWebClient

from bot.incidents.models import EventView, IncidentView
from bot.messages import Rendered, TemplateRenderer
from bot.messages.blocks import MAX_BUTTON_TEXT, MAX_VIEW_TITLE, plain
from bot.updates.reminders import ReminderView

UPDATE_MODAL = "incident.update"


class SlackReminderPoster:
    def __init__(
        self,
        client: AsyncWebClient,
        renderer: TemplateRenderer,
        *,
        slash: str,
        cadence: Callable[[str], int],
    ) -> None:
        self.client = client
        self.renderer = renderer
        self.slash = slash
        self.cadence = cadence

    def _render(
        self, incident: IncidentView, reminder: ReminderView, silent_for: timedelta
    ) -> Rendered:
        return self.renderer.render(
            "incident_reminder",
            slash=self.slash,
            incident=incident,
            reminder=reminder,
            silent_for=silent_for,
            minutes=self.cadence(incident.severity),
        )

    async def post_reminder(
        self, incident: IncidentView, reminder: ReminderView, *, silent_for: timedelta
    ) -> tuple[str, str]:
        message = self._render(incident, reminder, silent_for)
        response = await self.client.chat_postMessage(
            channel=incident.channel, thread_ts=incident.header_ts, **message.as_kwargs()
        )
        return str(response["channel"]), str(response["ts"])

    async def show_answer(self, incident: IncidentView, reminder: ReminderView) -> None:
        """Replace the buttons with who answered and how."""
        message = self._render(incident, reminder, timedelta(0))
        await self.client.chat_update(
            channel=reminder.channel, ts=reminder.ts, **message.as_kwargs()
        )


def update_modal(
    renderer: TemplateRenderer,
    *,
    slash: str,
    incident: IncidentView,
    news: list[EventView],
    metadata: dict[str, Any],
) -> dict[str, Any]:
    """The "Post update" modal. The template's text is three lines: title, submit, close."""
    rendered = renderer.render("incident_update_modal", slash=slash, incident=incident, news=news)
    title, submit, close = ([*rendered.text.splitlines(), "", "", ""])[:3]
    return {
        "type": "modal",
        "callback_id": UPDATE_MODAL,
        "title": plain(title.strip() or incident.ref, MAX_VIEW_TITLE),
        "submit": plain(submit.strip() or "OK", MAX_BUTTON_TEXT),
        "close": plain(close.strip() or "Cancel", MAX_BUTTON_TEXT),
        "blocks": rendered.blocks,
        "private_metadata": json.dumps(metadata),
    }
