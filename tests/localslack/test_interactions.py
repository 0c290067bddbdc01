"""trigger_id and response_url lifetimes, delete_original, modal updates."""

from __future__ import annotations

from typing import Any

import pytest
from aiohttp import web
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient
from slack_sdk.webhook.async_client import AsyncWebhookClient

from bot.localslack import LocalSlack

from .helpers import Received, Receiver, buttons_blocks

MODAL: dict[str, Any] = {
    "type": "modal",
    "title": {"type": "plain_text", "text": "Retrain"},
    "submit": {"type": "plain_text", "text": "Go"},
    "blocks": [
        {
            "type": "input",
            "block_id": "reason",
            "label": {"type": "plain_text", "text": "Reason"},
            "element": {"type": "plain_text_input", "action_id": "text"},
        }
    ],
}


@pytest.fixture
async def clocked(receiver: Receiver) -> Any:
    now = [1000.0]
    slack = LocalSlack(request_url=receiver.url, clock=lambda: now[0])
    await slack.start()
    yield slack, now, AsyncWebClient(token=slack.bot_token, base_url=slack.api_url)
    await slack.stop()


async def test_trigger_id_expires_after_3_seconds(clocked: Any, receiver: Receiver) -> None:
    slack, now, client = clocked
    await slack.slash(user="bob", channel="oncall", text="retrain")
    trigger_id = (await receiver.wait_for("slash_commands")).payload["trigger_id"]
    now[0] += 3.5
    with pytest.raises(SlackApiError, match="expired_trigger_id"):
        await client.views_open(trigger_id=trigger_id, view=MODAL)
    assert slack.views() == []


async def test_response_url_expires_after_30_minutes(clocked: Any, receiver: Receiver) -> None:
    slack, now, _ = clocked
    await slack.slash(user="bob", channel="oncall", text="status")
    url = (await receiver.wait_for("slash_commands")).payload["response_url"]
    now[0] += 31 * 60
    response = await AsyncWebhookClient(url).send(text="late")
    assert response.status_code == 404 and "expired_url" in response.body


async def test_delete_original_and_invalid_response(
    http_slack: LocalSlack, http_client: AsyncWebClient, receiver: Receiver
) -> None:
    posted = await http_client.chat_postMessage(
        channel="oncall", text="x", blocks=buttons_blocks("Dismiss")
    )
    await http_slack.click("bob", posted["ts"], "dismiss")
    url = (await receiver.wait_for("interactive")).payload["response_url"]
    bad = await AsyncWebhookClient(url).send(blocks=[{"type": "nope"}])
    assert bad.status_code == 400 and "invalid_blocks" in bad.body
    assert (await AsyncWebhookClient(url).send(delete_original=True)).status_code == 200
    assert http_slack.messages("oncall") == []


async def test_slash_response_url_can_replace_its_own_ephemeral(
    http_slack: LocalSlack, receiver: Receiver
) -> None:
    await http_slack.slash(user="bob", channel="oncall", text="train")
    webhook = AsyncWebhookClient(
        (await receiver.wait_for("slash_commands")).payload["response_url"]
    )
    await webhook.send(text="Training… 10%")
    await webhook.send(text="Training… done", replace_original=True)
    [message] = http_slack.ephemerals("bob")
    assert message.text == "Training… done" and [r.text for r in message.history] == [
        "Training… 10%"
    ]


async def test_invalid_ack_body_is_reported(http_slack: LocalSlack, receiver: Receiver) -> None:
    async def bad_ack(_: Received) -> web.Response:
        return web.json_response({"blocks": [{"type": "section"}]})

    receiver.respond = bad_ack
    result = await http_slack.slash(user="bob", channel="oncall", text="status")
    assert result.error == "invalid ack body: invalid_blocks"
    assert http_slack.ephemerals("bob") == []


async def test_response_action_update_and_views_update(
    http_slack: LocalSlack, http_client: AsyncWebClient, receiver: Receiver
) -> None:
    await http_slack.slash(user="bob", channel="oncall", text="retrain")
    trigger_id = (await receiver.wait_for("slash_commands")).payload["trigger_id"]
    view = (await http_client.views_open(trigger_id=trigger_id, view=MODAL))["view"]

    with pytest.raises(SlackApiError, match="hash_conflict"):
        await http_client.views_update(view_id=view["id"], hash="stale", view=MODAL)
    updated = await http_client.views_update(
        view_id=view["id"],
        hash=view["hash"],
        view={**MODAL, "title": {"type": "plain_text", "text": "Retrain v2"}},
    )
    assert updated["view"]["title"]["text"] == "Retrain v2"

    async def update(received: Received) -> web.Response:
        done = {"type": "modal", "title": {"type": "plain_text", "text": "Queued"}, "blocks": []}
        return web.json_response({"response_action": "update", "view": done})

    receiver.respond = update
    await http_slack.submit_view("bob", view["id"], {"reason": "drift"})
    [still_open] = http_slack.views("bob")
    assert still_open.view["title"]["text"] == "Queued"
    with pytest.raises(LookupError):
        await http_slack.submit_view("bob", "V-nope", {})


async def test_modal_validation(slack: LocalSlack, client: AsyncWebClient) -> None:
    trigger = slack.interactions.new_trigger("U0ONCALL")
    no_submit = {**MODAL}
    del no_submit["submit"]
    with pytest.raises(SlackApiError, match="invalid_arguments"):
        await client.views_open(trigger_id=trigger, view=no_submit)
    long_title = {**MODAL, "title": {"type": "plain_text", "text": "x" * 25}}
    with pytest.raises(SlackApiError, match="invalid_arguments"):
        await client.views_open(trigger_id=trigger, view=long_title)
