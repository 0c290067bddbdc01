"""Display names of Slack users for text Slack does not render (files, the status page).

In Slack messages people are mentions (`<@U…>`), which Slack shows as names; a Markdown file has
no such rendering, so the name is asked of `users.info` once per user and kept. When Slack cannot
say (no scope, unknown user, Slack down) the id is the name.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable

from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

log = logging.getLogger(__name__)


class SlackUserNames:
    """`await names.resolve(ids)` → {id: display name}; cached for the life of the bot."""

    def __init__(self, client: AsyncWebClient) -> None:
        self.client = client
        self.cache: dict[str, str] = {}

    async def resolve(self, ids: Iterable[str]) -> dict[str, str]:
        """Display names of these users (the id for anyone Slack cannot name)."""
        for user_id in dict.fromkeys(i for i in ids if i):
            if user_id not in self.cache:
                self.cache[user_id] = await self._ask(user_id)
        return {i: self.cache.get(i, i) for i in ids if i}

    async def _ask(self, user_id: str) -> str:
        try:
            user = (await self.client.users_info(user=user_id)).get("user") or {}
        except (SlackApiError, OSError, ValueError) as exc:
            log.info("users.info %s: %s; showing the id", user_id, exc)
            return user_id
        profile = user.get("profile") or {}
        return (
            profile.get("display_name")
            or profile.get("real_name")
            or user.get("real_name")
            or user.get("name")
            or user_id
        )
