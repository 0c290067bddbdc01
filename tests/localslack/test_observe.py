"""Waiting and observing: condition-based waits, subscribers, and workspace helpers."""

from __future__ import annotations

import asyncio

import pytest
from slack_sdk.web.async_client import AsyncWebClient

from bot.localslack import LocalSlack, Message


async def test_wait_for_wakes_on_a_later_post(slack: LocalSlack, client: AsyncWebClient) -> None:
    waiter = asyncio.ensure_future(slack.wait_for_text("Retrain finished", channel="oncall"))
    await asyncio.sleep(0)  # let the waiter block first
    assert not waiter.done()
    await client.chat_postMessage(channel="oncall", text="Retrain finished: accuracy 0.97")
    message = await waiter
    assert message.channel == "C0ONCALL"


async def test_wait_for_sees_edits(slack: LocalSlack, client: AsyncWebClient) -> None:
    posted = await client.chat_postMessage(channel="oncall", text="Deploying…")
    waiter = asyncio.ensure_future(slack.wait_for(lambda m: m.text == "Deployed"))
    await client.chat_update(channel="oncall", ts=posted["ts"], text="Deployed")
    assert (await waiter).ts == posted["ts"]


async def test_wait_for_since_ignores_older_matches(
    slack: LocalSlack, client: AsyncWebClient
) -> None:
    await client.chat_postMessage(channel="oncall", text="status: ok")
    mark = slack.seq
    with pytest.raises(AssertionError):
        await slack.wait_for_text("status", since=mark, timeout=0.05)
    await client.chat_postMessage(channel="oncall", text="status: degraded")
    assert (await slack.wait_for_text("status", since=mark)).text == "status: degraded"


async def test_wait_for_timeout_lists_recent_messages(
    slack: LocalSlack, client: AsyncWebClient
) -> None:
    await client.chat_postMessage(channel="incidents", text="Incident #3 opened")
    with pytest.raises(AssertionError) as err:
        await slack.wait_for_text("Incident #4", timeout=0.05)
    assert "Incident #4" in str(err.value)
    assert "#incidents" in str(err.value) and "Incident #3 opened" in str(err.value)


async def test_wait_for_text_filters(slack: LocalSlack, client: AsyncWebClient) -> None:
    await client.chat_postEphemeral(channel="oncall", user="U0VIEWER", text="you lack the role")
    found = await slack.wait_for_text("lack the role", user="carol", channel="oncall")
    assert found.ephemeral
    with pytest.raises(AssertionError):
        await slack.wait_for_text("lack the role", user="bob", timeout=0.05)


async def test_wait_for_call(slack: LocalSlack, client: AsyncWebClient) -> None:
    waiter = asyncio.ensure_future(
        slack.wait_for_call("chat.postMessage", lambda p: p.get("channel") == "incidents")
    )
    await client.chat_postMessage(channel="oncall", text="a")
    await client.chat_postMessage(channel="incidents", text="b")
    assert (await waiter)["text"] == "b"
    with pytest.raises(AssertionError, match="no views.open call"):
        await slack.wait_for_call("views.open", timeout=0.05)


async def test_subscribers_sync_and_async(slack: LocalSlack, client: AsyncWebClient) -> None:
    seen: list[tuple[str, str]] = []
    async_seen: list[str] = []

    def sync_cb(message: Message, change: str) -> None:
        seen.append((message.text, change))

    async def async_cb(message: Message, change: str) -> None:
        async_seen.append(change)

    unsubscribe = slack.subscribe(sync_cb)
    slack.subscribe(async_cb)
    posted = await client.chat_postMessage(channel="oncall", text="v1")
    await client.chat_update(channel="oncall", ts=posted["ts"], text="v2")
    await client.chat_delete(channel="oncall", ts=posted["ts"])
    unsubscribe()
    await client.chat_postMessage(channel="oncall", text="unseen")
    assert seen == [("v1", "new"), ("v2", "edited"), ("v2", "deleted")]
    assert async_seen == ["new", "edited", "deleted", "new"]


async def test_broken_subscriber_does_not_break_the_api(
    slack: LocalSlack, client: AsyncWebClient
) -> None:
    def broken(message: Message, change: str) -> None:
        raise RuntimeError("boom")

    slack.subscribe(broken)
    assert (await client.chat_postMessage(channel="oncall", text="still fine"))["ok"]


async def test_added_users_and_channels(
    http_slack: LocalSlack, http_client: AsyncWebClient
) -> None:
    slack, client = http_slack, http_client
    slack.add_user("U0DAVE", "dave")
    channel = slack.add_channel("#ml-platform")
    assert slack.channel_id("ml-platform") == channel.id
    assert (await client.users_info(user="U0DAVE"))["user"]["name"] == "dave"
    await client.chat_postMessage(channel="ml-platform", text="welcome")
    await slack.send_message("dave", "ml-platform", "hi bot")
    assert [m.text for m in slack.messages(channel.id)] == ["welcome", "hi bot"]
    with pytest.raises(ValueError):
        slack.add_channel("ml-platform")


async def test_user_dm_to_the_bot(http_slack: LocalSlack) -> None:
    slack = http_slack
    await slack.send_message("bob", "oncall-bot", "help")
    assert [m.text for m in slack.dms("bob")] == ["help"]
    assert slack.dms("carol") == []


async def test_click_errors_are_clear(slack: LocalSlack, client: AsyncWebClient) -> None:
    posted = await client.chat_postMessage(channel="oncall", text="no buttons here")
    with pytest.raises(LookupError, match="no button 1"):
        await slack.click("bob", posted["ts"], index=1)
    with pytest.raises(LookupError, match="no message"):
        await slack.click("bob", "1.000000", "x")
    eph = await client.chat_postEphemeral(
        channel="oncall",
        user="U0VIEWER",
        text="x",
        blocks=[
            {
                "type": "actions",
                "elements": [
                    {
                        "type": "button",
                        "action_id": "a",
                        "text": {"type": "plain_text", "text": "A"},
                    }
                ],
            }
        ],
    )
    with pytest.raises(LookupError, match="only U0VIEWER can see"):
        await slack.click("bob", eph["message_ts"], "a")
