"""`Replier` for Slack: response_url for answers to the person, chat.* for channels and threads."""

from __future__ import annotations

import logging

from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot.commands.context import Posted
from bot.messages import Rendered
from bot.slack.client import make_webhook

log = logging.getLogger(__name__)


class SlackReplier:
    def __init__(
        self, client: AsyncWebClient, *, response_url: str | None, channel_id: str, user_id: str
    ) -> None:
        self.client = client
        self.response_url = response_url
        self.channel_id = channel_id
        self.user_id = user_id

    async def respond(self, message: Rendered, *, in_channel: bool = False) -> None:
        """Answer the person who asked: via response_url, or an ephemeral message when there is none."""
        if self.response_url:
            response = await make_webhook(self.response_url).send(
                text=message.text,
                blocks=message.blocks,
                response_type="in_channel" if in_channel else "ephemeral",
            )
            if response.status_code < 300:
                return
            log.warning("response_url answered %s: %s", response.status_code, response.body)
        try:
            if in_channel:
                await self.client.chat_postMessage(channel=self.channel_id, **message.as_kwargs())
            else:
                await self.client.chat_postEphemeral(
                    channel=self.channel_id, user=self.user_id, **message.as_kwargs()
                )
        except SlackApiError as exc:
            log.warning(
                "could not answer %s in %s: %s",
                self.user_id,
                self.channel_id,
                exc.response.get("error"),
            )

    async def post(
        self, channel: str, message: Rendered, *, thread_ts: str | None = None
    ) -> Posted:
        response = await self.client.chat_postMessage(
            channel=channel, thread_ts=thread_ts, **message.as_kwargs()
        )
        return Posted(channel=str(response["channel"]), ts=str(response["ts"]))

    async def update(self, channel: str, ts: str, message: Rendered) -> None:
        await self.client.chat_update(channel=channel, ts=ts, **message.as_kwargs())
