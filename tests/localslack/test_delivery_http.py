"""HTTP delivery: signed requests to a receiver that verifies them with SignatureVerifier."""

from __future__ import annotations

import asyncio
import json
import time

from aiohttp import web
from slack_sdk.web.async_client import AsyncWebClient
from slack_sdk.webhook.async_client import AsyncWebhookClient

from bot.localslack import LocalSlack

from .helpers import Received, Receiver, buttons_blocks


async def test_slash_command_payload_is_signed_and_complete(
    http_slack: LocalSlack, receiver: Receiver
) -> None:
    result = await http_slack.slash(
        user="U0ONCALL", channel="oncall", text="status", command="/iris"
    )
    assert result.ok and not result.timed_out and result.latency_ms >= 0
    got = await receiver.wait_for("slash_commands")
    assert receiver.rejected == 0
    assert got.headers["Content-Type"] == "application/x-www-form-urlencoded"
    assert got.headers["X-Slack-Signature"].startswith("v0=")
    payload = got.payload
    assert {k: payload[k] for k in ("command", "text", "user_id", "user_name", "channel_id")} == {
        "command": "/iris",
        "text": "status",
        "user_id": "U0ONCALL",
        "user_name": "bob",
        "channel_id": "C0ONCALL",
    }
    for key in ("token", "team_id", "team_domain", "channel_name", "api_app_id", "trigger_id"):
        assert payload[key]
    assert payload["response_url"].startswith(http_slack.base_url + "/response/")


async def test_ack_text_becomes_an_ephemeral(http_slack: LocalSlack, receiver: Receiver) -> None:
    async def ack(_: Received) -> web.Response:
        return web.json_response({"text": "Working on it…"})

    receiver.respond = ack
    result = await http_slack.slash(user="bob", channel="incidents", text="open")
    assert result.payload == {"text": "Working on it…"}
    [message] = http_slack.ephemerals("bob", channel="incidents")
    assert message.text == "Working on it…"
    assert http_slack.messages("incidents") == []


async def test_in_channel_ack_posts_to_channel(http_slack: LocalSlack, receiver: Receiver) -> None:
    async def ack(_: Received) -> web.Response:
        return web.json_response({"response_type": "in_channel", "text": "Incident #7 opened"})

    receiver.respond = ack
    await http_slack.slash(user="alice", channel="incidents", text="open")
    assert [m.text for m in http_slack.messages("incidents")] == ["Incident #7 opened"]


async def test_response_url_ephemeral_then_in_channel(
    http_slack: LocalSlack, receiver: Receiver
) -> None:
    await http_slack.slash(user="bob", channel="oncall", text="status")
    url = (await receiver.wait_for("slash_commands")).payload["response_url"]
    webhook = AsyncWebhookClient(url)
    assert (await webhook.send(text="all green")).status_code == 200
    assert (await webhook.send(text="for everyone", response_type="in_channel")).status_code == 200
    assert [m.text for m in http_slack.ephemerals("bob")] == ["all green"]
    assert [m.text for m in http_slack.messages("oncall")] == ["for everyone"]


async def test_response_url_limits(http_slack: LocalSlack, receiver: Receiver) -> None:
    await http_slack.slash(user="bob", channel="oncall", text="status")
    url = (await receiver.wait_for("slash_commands")).payload["response_url"]
    webhook = AsyncWebhookClient(url)
    for i in range(5):
        assert (await webhook.send(text=f"update {i}")).status_code == 200
    sixth = await webhook.send(text="one too many")
    assert sixth.status_code == 404 and json.loads(sixth.body)["error"] == "used_url"
    unknown = await AsyncWebhookClient(http_slack.base_url + "/response/R999999").send(text="x")
    assert unknown.status_code == 404


async def test_click_delivers_block_actions_and_replace_original(
    http_slack: LocalSlack, http_client: AsyncWebClient, receiver: Receiver
) -> None:
    posted = await http_client.chat_postMessage(
        channel="oncall", text="Deploy v7?", blocks=buttons_blocks("Confirm", "Cancel")
    )
    result = await http_slack.click("alice", posted["ts"], index=2)
    assert result.ok
    payload = (await receiver.wait_for("interactive")).payload
    assert payload["type"] == "block_actions"
    assert payload["user"]["id"] == "U0ADMIN"
    assert payload["channel"]["id"] == "C0ONCALL"
    assert payload["container"] == {
        "type": "message",
        "message_ts": posted["ts"],
        "channel_id": "C0ONCALL",
        "is_ephemeral": False,
    }
    assert payload["message"]["ts"] == posted["ts"]
    [action] = payload["actions"]
    assert (action["type"], action["action_id"], action["value"]) == (
        "button",
        "cancel",
        "cancel-value",
    )
    assert action["block_id"] and action["action_ts"] and payload["trigger_id"]

    sent = await AsyncWebhookClient(payload["response_url"]).send(
        text="Deploy cancelled by alice", replace_original=True
    )
    assert sent.status_code == 200
    [message] = http_slack.messages("oncall")
    assert message.plain() == "Deploy cancelled by alice"
    assert message.buttons == [] and len(message.history) == 1


async def test_click_by_action_id_and_value(
    http_slack: LocalSlack, http_client: AsyncWebClient
) -> None:
    posted = await http_client.chat_postMessage(
        channel="oncall", text="x", blocks=buttons_blocks("Confirm", "Cancel")
    )
    [message] = http_slack.messages("oncall")
    assert (await http_slack.click("bob", message, "confirm")).request["actions"][0]["value"] == (
        "confirm-value"
    )
    chosen = await http_slack.click("bob", posted["ts"], value="cancel-value")
    assert chosen.request["actions"][0]["action_id"] == "cancel"


async def test_message_event_and_reaction(http_slack: LocalSlack, receiver: Receiver) -> None:
    result = await http_slack.send_message("carol", "oncall", "is the model down?")
    assert result.ok
    event = (await receiver.wait_for("events_api")).payload
    assert event["type"] == "event_callback" and event["event_id"]
    assert event["event"]["type"] == "message"
    assert event["event"]["user"] == "U0VIEWER" and event["event"]["text"] == "is the model down?"
    ts = event["event"]["ts"]
    assert [m.text for m in http_slack.messages("oncall")] == ["is the model down?"]

    await http_slack.add_reaction("bob", "oncall", ts, "eyes")
    reaction = receiver.received[-1].payload["event"]
    assert reaction["type"] == "reaction_added" and reaction["reaction"] == "eyes"
    assert reaction["item"] == {"type": "message", "channel": "C0ONCALL", "ts": ts}
    assert http_slack.messages("oncall")[0].reactions == {"eyes": ["U0ONCALL"]}


async def test_forged_and_replayed_requests_are_rejected(
    http_slack: LocalSlack, receiver: Receiver
) -> None:
    body = b"command=%2Firis&text=deploy"
    forged = {**http_slack.signed_headers(body, "application/x-www-form-urlencoded")}
    forged["X-Slack-Signature"] = "v0=" + "0" * 64
    assert (await http_slack.deliver_raw(body, forged)).status == 401
    stale = http_slack.signed_headers(
        body, "application/x-www-form-urlencoded", timestamp=int(time.time()) - 600
    )
    assert (await http_slack.deliver_raw(body, stale)).status == 401
    good = http_slack.signed_headers(body, "application/x-www-form-urlencoded")
    assert (await http_slack.deliver_raw(body, good)).status == 200
    assert receiver.rejected == 2


async def test_slow_ack_is_reported_as_timeout(receiver: Receiver) -> None:
    release = asyncio.Event()

    async def slow(_: Received) -> web.Response:
        await release.wait()
        return web.Response()

    receiver.respond = slow
    slack = LocalSlack(request_url=receiver.url, ack_timeout=0.2)
    await slack.start()
    try:
        result = await slack.slash(user="bob", channel="oncall", text="status")
        assert result.timed_out and not result.ok
        assert result.error == "operation_timeout"
        assert 150 <= result.latency_ms < 2000
    finally:
        release.set()
        await slack.stop()


async def test_unreachable_bot_is_a_dispatch_failure() -> None:
    slack = LocalSlack(request_url="http://127.0.0.1:9/slack/events", ack_timeout=0.5)
    await slack.start()
    try:
        result = await slack.slash(user="bob", channel="oncall", text="status")
        assert result.status == 0 and result.error and result.error.startswith("dispatch_failed")
    finally:
        await slack.stop()


async def test_views_open_with_trigger_then_submit(
    http_slack: LocalSlack, http_client: AsyncWebClient, receiver: Receiver
) -> None:
    await http_slack.slash(user="alice", channel="incidents", text="new")
    trigger_id = (await receiver.wait_for("slash_commands")).payload["trigger_id"]
    opened = await http_client.views_open(
        trigger_id=trigger_id,
        view={
            "type": "modal",
            "callback_id": "new_incident",
            "title": {"type": "plain_text", "text": "Open incident"},
            "submit": {"type": "plain_text", "text": "Open"},
            "blocks": [
                {
                    "type": "input",
                    "block_id": "summary",
                    "label": {"type": "plain_text", "text": "Summary"},
                    "element": {"type": "plain_text_input", "action_id": "text"},
                },
                {
                    "type": "input",
                    "block_id": "sev",
                    "label": {"type": "plain_text", "text": "Severity"},
                    "element": {
                        "type": "static_select",
                        "action_id": "pick",
                        "options": [
                            {"text": {"type": "plain_text", "text": "SEV1"}, "value": "1"},
                            {"text": {"type": "plain_text", "text": "SEV2"}, "value": "2"},
                        ],
                    },
                },
            ],
        },
    )
    view_id = opened["view"]["id"]
    assert [v.id for v in http_slack.views("alice")] == [view_id]

    async def errors(received: Received) -> web.Response:
        if received.payload.get("type") == "view_submission":
            return web.json_response({"response_action": "errors", "errors": {"sev": "required"}})
        return web.Response()

    receiver.respond = errors
    rejected = await http_slack.submit_view("alice", view_id, {"text": "drift on iris"})
    assert rejected.payload == {"response_action": "errors", "errors": {"sev": "required"}}
    assert http_slack.views("alice")  # still open

    receiver.respond = None
    done = await http_slack.submit_view(
        "alice", view_id, {"summary": {"text": "drift"}, "pick": "2"}
    )
    values = done.request["view"]["state"]["values"]
    assert values["summary"]["text"] == {"type": "plain_text_input", "value": "drift"}
    assert values["sev"]["pick"]["selected_option"]["value"] == "2"
    assert done.request["view"]["callback_id"] == "new_incident"
    assert http_slack.views("alice") == []  # an empty ack closes the modal
