"""Incidents in Slack: the header message and its thread.

The incident publisher (bot/incidents/publisher.py) calls this through the `IncidentReporter`
protocol; nothing here decides anything, it only renders and posts.
"""

from __future__ import annotations

from collections.abc import Sequence

from slack_sdk.web.async_client import AsyncWebClient

from bot.incidents.header_facts import HeaderFacts
from bot.incidents.models import EventView, IncidentView
from bot.messages import Rendered, TemplateRenderer


def _minutes(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else f"{value:g}"


class SlackIncidentReporter:
    """The header message in INCIDENT_CHANNEL (edited in place) and replies in its thread."""

    def __init__(
        self,
        client: AsyncWebClient,
        renderer: TemplateRenderer,
        *,
        channel: str,
        slash: str,
        quiet_minutes: float,
    ) -> None:
        self.client = client
        self.renderer = renderer
        self.channel = channel
        self.slash = slash
        self.quiet_minutes = quiet_minutes

    def _header(self, incident: IncidentView, facts: HeaderFacts) -> Rendered:
        return self.renderer.render(
            "incident_header", slash=self.slash, incident=incident, facts=facts
        )

    async def post_header(self, incident: IncidentView, facts: HeaderFacts) -> tuple[str, str]:
        response = await self.client.chat_postMessage(
            channel=self.channel, **self._header(incident, facts).as_kwargs()
        )
        return str(response["channel"]), str(response["ts"])

    async def update_header(self, incident: IncidentView, facts: HeaderFacts) -> None:
        assert incident.channel and incident.header_ts
        await self.client.chat_update(
            channel=incident.channel,
            ts=incident.header_ts,
            **self._header(incident, facts).as_kwargs(),
        )

    async def post_timeline(
        self, incident: IncidentView, events: Sequence[EventView], facts: HeaderFacts
    ) -> None:
        message = self.renderer.render(
            "incident_timeline",
            slash=self.slash,
            incident=incident,
            events=list(events),
            facts=facts,
            quiet_minutes=_minutes(self.quiet_minutes),
        )
        await self.client.chat_postMessage(
            channel=incident.channel, thread_ts=incident.header_ts, **message.as_kwargs()
        )

    async def post_file(
        self, incident: IncidentView, *, content: str, filename: str, title: str
    ) -> None:
        await self.client.files_upload_v2(
            channel=incident.channel,
            thread_ts=incident.header_ts,
            content=content,
            filename=filename,
            title=title,
        )

    async def message_text(self, channel: str, ts: str) -> tuple[str, str, str | None] | None:
        response = await self.client.conversations_replies(
            channel=channel, ts=ts, oldest=ts, latest=ts, inclusive=True, limit=5
        )
        for message in response.get("messages") or []:
            if message.get("ts") == ts:
                return (
                    str(message.get("text") or ""),
                    str(message.get("user") or message.get("bot_id") or ""),
                    message.get("thread_ts"),
                )
        return None
