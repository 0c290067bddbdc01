"""The access domain's words in Slack: request cards, notices to the user, the card's thread and
the admins (`AccessNotifier`), and private-channel membership (`ChannelMembership`) through
conversations.invite / kick / members. Nothing here decides anything."""

from __future__ import annotations

import logging
import re
from typing import Any

from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot.access.models import GrantView
from bot.access.ports import Audience
from bot.messages import Rendered, TemplateRenderer

log = logging.getLogger(__name__)


class SlackAccessNotifier:
    def __init__(
        self,
        client: AsyncWebClient,
        renderer: TemplateRenderer,
        *,
        slash: str,
        admins: frozenset[str],
    ) -> None:
        self.client = client
        self.renderer = renderer
        self.slash = slash
        self.admins = admins

    def _card(self, grant: GrantView, approvers: frozenset[str]) -> Rendered:
        return self.renderer.render(
            "access_request_card", slash=self.slash, grant=grant, approvers=sorted(approvers)
        )

    async def _dm(self, user: str, message: Rendered) -> tuple[str, str]:
        opened = await self.client.conversations_open(users=user)
        channel = str(opened["channel"]["id"])
        posted = await self.client.chat_postMessage(channel=channel, **message.as_kwargs())
        return str(posted["channel"]), str(posted["ts"])

    async def request_card(
        self, grant: GrantView, approvers: frozenset[str], channel: str | None
    ) -> tuple[str, str] | None:
        message = self._card(grant, approvers)
        try:
            if channel:
                posted = await self.client.chat_postMessage(channel=channel, **message.as_kwargs())
                return str(posted["channel"]), str(posted["ts"])
            where = None
            for approver in sorted(approvers):
                where = where or await self._dm(approver, message)
            return where
        except SlackApiError as exc:
            log.warning(
                "could not post access request %s: %s", grant.ref, exc.response.get("error")
            )
            return None

    async def refresh_card(self, grant: GrantView) -> None:
        if not (grant.card_channel and grant.card_ts):
            return
        message = self._card(grant, frozenset())
        try:
            await self.client.chat_update(
                channel=grant.card_channel, ts=grant.card_ts, **message.as_kwargs()
            )
        except SlackApiError as exc:
            log.warning("could not update the card of %s: %s", grant.ref, exc.response.get("error"))

    async def notify(self, kind: str, grant: GrantView, audience: Audience, **facts: Any) -> None:
        message = self.renderer.render(
            "access_notice", slash=self.slash, kind=kind, grant=grant, audience=audience, **facts
        )
        try:
            if audience == "user":
                await self._dm(grant.user_id, message)
            elif audience == "card":
                if grant.card_channel and grant.card_ts:
                    await self.client.chat_postMessage(
                        channel=grant.card_channel, thread_ts=grant.card_ts, **message.as_kwargs()
                    )
            else:
                for admin in sorted(self.admins):
                    await self._dm(admin, message)
        except SlackApiError as exc:
            log.warning(
                "could not send %s about %s: %s", kind, grant.ref, exc.response.get("error")
            )


class SlackChannelMembership:
    """`ChannelMembership` for private channels, by name or id."""

    def __init__(self, client: AsyncWebClient) -> None:
        self.client = client

    async def _id(self, channel: str) -> str:
        """The channel's id: the policy names channels the way people do (`war-room`)."""
        name = channel.lstrip("#")
        if re.fullmatch(r"[CG][A-Z0-9]{2,}", name):
            return name
        cursor = None
        while True:
            page = await self.client.conversations_list(
                types="public_channel,private_channel", limit=200, cursor=cursor
            )
            for found in page.get("channels") or []:
                if found.get("name") == name:
                    return str(found["id"])
            cursor = (page.get("response_metadata") or {}).get("next_cursor")
            if not cursor:
                raise LookupError(f"no channel #{name} the bot is in")

    async def members(self, channel: str) -> set[str]:
        response = await self.client.conversations_members(channel=await self._id(channel))
        return set(response.get("members") or [])

    async def invite(self, channel: str, user: str) -> None:
        await self.client.conversations_invite(channel=await self._id(channel), users=user)

    async def kick(self, channel: str, user: str) -> None:
        await self.client.conversations_kick(channel=await self._id(channel), user=user)
