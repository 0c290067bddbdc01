"""Posts a quality alert's details in its incident thread (the quality domain's ThreadPoster)."""

from __future__ import annotations

from typing import Any

from slack_sdk.web.async_client import AsyncWebClient

from bot.messages import TemplateRenderer


class SlackQualityPoster:
    """Renders `quality_alert` and posts it as a reply to the incident's header."""

    def __init__(self, client: AsyncWebClient, renderer: TemplateRenderer, *, slash: str) -> None:
        self.client = client
        self.renderer = renderer
        self.slash = slash

    async def post_details(self, *, channel: str, thread_ts: str, facts: dict[str, Any]) -> None:
        message = self.renderer.render("quality_alert", slash=self.slash, **facts)
        await self.client.chat_postMessage(
            channel=channel, thread_ts=thread_ts, text=message.text, blocks=message.blocks
        )
