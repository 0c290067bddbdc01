"""The stand-in grants the bot token only its scopes, and answers like Slack when one is missing."""

from __future__ import annotations

import pytest
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot.localslack import LocalSlack
from bot.slack.manifest import bot_scopes


async def test_by_default_the_bot_token_has_the_manifests_scopes() -> None:
    async with LocalSlack() as slack:
        assert slack.bot_scopes == set(bot_scopes())


async def test_a_missing_scope_is_refused_per_conversation_kind() -> None:
    async with LocalSlack(bot_scopes={"chat:write", "im:write"}) as slack:
        client = AsyncWebClient(token=slack.bot_token, base_url=slack.api_url)
        private = slack.add_channel("secret", private=True)
        dm = (await client.conversations_open(users="U0VIEWER"))["channel"]["id"]
        await client.chat_postMessage(channel=dm, text="hello")
        for channel, needed in [
            (dm, "im:history"),
            ("C0ONCALL", "channels:history"),
            (private.id, "groups:history"),
        ]:
            with pytest.raises(SlackApiError) as refused:
                await client.conversations_history(channel=channel)
            body = refused.value.response.data
            assert body == {
                "ok": False,
                "error": "missing_scope",
                "needed": needed,
                "provided": "chat:write,im:write",
            }
        slack.bot_scopes.add("im:history")
        history = await client.conversations_history(channel=dm)
        assert [m["text"] for m in history["messages"]] == ["hello"]
        with pytest.raises(SlackApiError, match="missing_scope"):
            await client.reactions_add(channel=dm, timestamp=history["messages"][0]["ts"], name="x")
        # A refused call changes nothing.
        assert slack.dms("U0VIEWER")[0].reactions == {}


async def test_chat_write_public_posts_where_the_bot_was_never_added() -> None:
    async with LocalSlack(bot_scopes={"chat:write"}) as slack:
        client = AsyncWebClient(token=slack.bot_token, base_url=slack.api_url)
        channel = slack.add_channel("elsewhere")
        channel.members.discard("U0BOT")
        with pytest.raises(SlackApiError, match="not_in_channel"):
            await client.chat_postMessage(channel=channel.id, text="hi")
        slack.bot_scopes.add("chat:write.public")
        await client.chat_postMessage(channel=channel.id, text="hi")
        assert [m.text for m in slack.messages(channel.id)] == ["hi"]


async def test_the_app_token_is_not_held_to_bot_scopes() -> None:
    async with LocalSlack(bot_scopes=set()) as slack:
        app = AsyncWebClient(base_url=slack.api_url)
        assert (await app.apps_connections_open(app_token=slack.app_token))["url"]
        bot = AsyncWebClient(token=slack.bot_token, base_url=slack.api_url)
        assert (await bot.auth_test())["ok"]  # needs no scope
