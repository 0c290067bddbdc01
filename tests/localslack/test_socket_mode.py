"""Socket Mode: slack_sdk's aiohttp SocketModeClient connects, receives envelopes and acks."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest
from slack_sdk.socket_mode.aiohttp import SocketModeClient
from slack_sdk.socket_mode.request import SocketModeRequest
from slack_sdk.socket_mode.response import SocketModeResponse
from slack_sdk.web.async_client import AsyncWebClient

from bot.localslack import LocalSlack


class Acker:
    """What a bot does with envelopes: record them, ack (optionally with a payload) or not."""

    def __init__(self) -> None:
        self.requests: list[SocketModeRequest] = []
        self.ack_payload: dict | None = None
        self.silent = False

    async def __call__(self, client: SocketModeClient, req: SocketModeRequest) -> None:
        self.requests.append(req)
        if not self.silent:
            await client.send_socket_mode_response(
                SocketModeResponse(req.envelope_id, self.ack_payload)
            )


@pytest.fixture
async def socket_client(slack: LocalSlack) -> AsyncIterator[tuple[SocketModeClient, Acker]]:
    web_client = AsyncWebClient(token=slack.bot_token, base_url=slack.api_url)
    client = SocketModeClient(app_token=slack.app_token, web_client=web_client)
    acker = Acker()
    client.socket_mode_request_listeners.append(acker)
    await client.connect()
    yield client, acker
    await client.close()


async def test_connects_with_the_app_token(
    slack: LocalSlack, socket_client: tuple[SocketModeClient, Acker]
) -> None:
    client, _ = socket_client
    assert await client.is_connected()
    await slack.wait_for_socket()
    assert slack.socket_connected()
    # SocketModeClient asked for the URL with the app token, not the bot token.
    assert slack.call_count("apps.connections.open") == 1
    assert slack.api_log[0].status == 200


async def test_slash_envelope_delivered_and_acked_with_payload(
    slack: LocalSlack, socket_client: tuple[SocketModeClient, Acker]
) -> None:
    _, acker = socket_client
    acker.ack_payload = {"text": "Status: all models healthy"}
    result = await slack.slash(user="bob", channel="oncall", text="status")
    assert result.ok and result.envelope_id
    [req] = acker.requests
    assert req.type == "slash_commands" and req.accepts_response_payload is True
    assert req.envelope_id == result.envelope_id
    assert req.payload["command"] == "/iris" and req.payload["text"] == "status"
    assert req.retry_attempt == 0
    [ephemeral] = slack.ephemerals("bob", "oncall")
    assert ephemeral.text == "Status: all models healthy"


async def test_event_and_interactive_envelopes(
    slack: LocalSlack, client: AsyncWebClient, socket_client: tuple[SocketModeClient, Acker]
) -> None:
    _, acker = socket_client
    await slack.send_message("carol", "oncall", "hello <@U0BOT>")
    posted = await client.chat_postMessage(
        channel="oncall",
        text="Retrain?",
        blocks=[
            {
                "type": "actions",
                "elements": [
                    {
                        "type": "button",
                        "action_id": "retrain",
                        "text": {"type": "plain_text", "text": "Go"},
                    }
                ],
            }
        ],
    )
    await slack.click("alice", posted["ts"], "retrain")
    kinds = [(r.type, r.payload.get("type"), r.accepts_response_payload) for r in acker.requests]
    assert kinds == [
        ("events_api", "event_callback", False),
        ("events_api", "event_callback", False),
        ("interactive", "block_actions", True),
    ]
    assert [r.payload["event"]["type"] for r in acker.requests[:2]] == ["message", "app_mention"]


async def test_missing_ack_times_out(
    slack: LocalSlack, socket_client: tuple[SocketModeClient, Acker]
) -> None:
    _, acker = socket_client
    acker.silent = True
    slack.ack_timeout = 0.2
    result = await slack.slash(user="bob", channel="oncall", text="status")
    assert result.timed_out and result.status == 0 and result.error == "operation_timeout"
    assert len(acker.requests) == 1
    assert slack.ephemerals("bob") == []


async def test_no_connection_times_out(slack: LocalSlack) -> None:
    assert not slack.socket_connected()
    with pytest.raises(AssertionError, match="no Socket Mode connection"):
        await slack.wait_for_socket(timeout=0.05)
    slack.ack_timeout = 0.1
    result = await slack.slash(user="bob", channel="oncall", text="status")
    assert result.timed_out and result.error == "no_socket_connection"


async def test_waits_for_a_connection_that_arrives_late(slack: LocalSlack) -> None:
    web_client = AsyncWebClient(token=slack.bot_token, base_url=slack.api_url)
    client = SocketModeClient(app_token=slack.app_token, web_client=web_client)
    client.socket_mode_request_listeners.append(Acker())
    try:
        pending = asyncio.ensure_future(slack.slash(user="bob", channel="oncall", text="status"))
        await client.connect()
        assert (await pending).ok
    finally:
        await client.close()
