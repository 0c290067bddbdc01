"""End to end with a real Bolt AsyncApp, over signed HTTP and over Socket Mode.

This is the contract the rest of the bot relies on: Bolt verifies the stand-in's signatures,
routes its payloads to listeners, and its ack/say/respond land where Slack would put them.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from aiohttp import web
from slack_bolt.adapter.socket_mode.aiohttp import AsyncSocketModeHandler
from slack_bolt.async_app import AsyncAck, AsyncApp, AsyncRespond, AsyncSay
from slack_sdk.web.async_client import AsyncWebClient

from bot.localslack import LocalSlack

from .helpers import SECRET, buttons_blocks


def build_app(slack: LocalSlack, *, signing_secret: str | None = None) -> AsyncApp:
    app = AsyncApp(
        client=AsyncWebClient(token=slack.bot_token, base_url=slack.api_url),
        signing_secret=signing_secret,
    )

    @app.command("/iris")
    async def iris(ack: AsyncAck, say: AsyncSay, command: dict) -> None:
        await ack(f"Running `{command['text']}`…")
        await say(text="Deploy v7?", blocks=buttons_blocks("Confirm", "Cancel"))

    @app.action("confirm")
    async def confirm(ack: AsyncAck, respond: AsyncRespond, body: dict) -> None:
        await ack()
        await respond(replace_original=True, text=f"Deploy confirmed by <@{body['user']['id']}>")

    @app.event("message")
    async def on_message(event: dict, say: AsyncSay) -> None:
        await say(text="noted", thread_ts=event["ts"])

    return app


async def exercise(slack: LocalSlack) -> None:
    result = await slack.slash(user="bob", channel="oncall", text="deploy v7")
    assert result.ok, result
    assert (await slack.wait_for_text("Running `deploy v7`", user="bob")).ephemeral
    prompt = await slack.wait_for(lambda m: bool(m.buttons))
    assert prompt.channel == "C0ONCALL" and not prompt.ephemeral

    assert (await slack.click("alice", prompt, "confirm")).ok
    done = await slack.wait_for_text("Deploy confirmed by @U0ADMIN")
    assert done is prompt and done.edited and done.buttons == []

    sent = await slack.send_message("carol", "incidents", "is iris down?")
    assert sent.ok
    reply = await slack.wait_for_text("noted", channel="incidents")
    assert reply.thread_ts == slack.messages("incidents")[0].ts


@pytest.fixture
async def http_pair() -> AsyncIterator[LocalSlack]:
    """LocalSlack delivering over HTTP to Bolt's own aiohttp server, which checks signatures."""
    slack = LocalSlack(signing_secret=SECRET, request_url="http://placeholder")
    await slack.start()
    runner = web.AppRunner(build_app(slack, signing_secret=SECRET).web_app(path="/slack/events"))
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    host, port = runner.addresses[0][:2]
    slack.request_url = f"http://{host}:{port}/slack/events"
    yield slack
    await slack.stop()
    await runner.cleanup()


async def test_bolt_over_http(http_pair: LocalSlack) -> None:
    await exercise(http_pair)


async def test_bolt_rejects_wrong_secret(http_pair: LocalSlack) -> None:
    http_pair.signing_secret = "not-the-secret"
    result = await http_pair.slash(user="bob", channel="oncall", text="status")
    assert result.status == 401


async def test_bolt_over_socket_mode(slack: LocalSlack) -> None:
    handler = AsyncSocketModeHandler(build_app(slack), app_token=slack.app_token)
    await handler.connect_async()
    try:
        await exercise(slack)
    finally:
        await handler.close_async()
