"""The Web API through the real slack_sdk AsyncWebClient: messages, threads, edits, errors."""

from __future__ import annotations

import json
from typing import Any

import aiohttp
import pytest
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot.localslack import LocalSlack

from .helpers import buttons_blocks


async def test_auth_test_identifies_the_bot(client: AsyncWebClient) -> None:
    response = await client.auth_test()
    assert response["user_id"] == "U0BOT"
    assert response["team_id"] == "T0LOCAL"


async def test_seeded_workspace(slack: LocalSlack, client: AsyncWebClient) -> None:
    assert [
        slack.channel_id(n) for n in ("oncall", "#incidents", "ml-stakeholders", "general")
    ] == [
        "C0ONCALL",
        "C0INCIDENTS",
        "C0STAKEHOLDERS",
        "C0GENERAL",
    ]
    listed = await client.conversations_list()
    assert {c["name"] for c in listed["channels"]} >= {"oncall", "incidents", "ml-stakeholders"}
    alice = await client.users_info(user="U0ADMIN")
    assert alice["user"]["name"] == "alice" and alice["user"]["is_admin"] is True
    members = await client.users_list()
    assert {"U0ADMIN", "U0ONCALL", "U0VIEWER", "U0BOT"} <= {m["id"] for m in members["members"]}


async def test_post_by_name_or_id_and_read_back(slack: LocalSlack, client: AsyncWebClient) -> None:
    first = await client.chat_postMessage(channel="oncall", text="one")
    second = await client.chat_postMessage(channel="C0ONCALL", text="two")
    assert first["channel"] == second["channel"] == "C0ONCALL"
    assert [m.text for m in slack.messages("oncall")] == ["one", "two"]
    assert float(first["ts"]) < float(second["ts"])
    history = await client.conversations_history(channel="C0ONCALL")
    assert [m["text"] for m in history["messages"]] == ["two", "one"]  # newest first


async def test_threads_and_broadcast(slack: LocalSlack, client: AsyncWebClient) -> None:
    parent = await client.chat_postMessage(channel="incidents", text="Incident #1 opened")
    await client.chat_postMessage(channel="incidents", text="update 1", thread_ts=parent["ts"])
    await client.chat_postMessage(
        channel="incidents", text="resolved", thread_ts=parent["ts"], reply_broadcast=True
    )
    assert [m.text for m in slack.thread("incidents", parent["ts"])] == ["update 1", "resolved"]
    assert [m.text for m in slack.messages("incidents")] == ["Incident #1 opened", "resolved"]
    replies = await client.conversations_replies(channel="C0INCIDENTS", ts=parent["ts"])
    assert [m["text"] for m in replies["messages"]] == [
        "Incident #1 opened",
        "update 1",
        "resolved",
    ]
    assert replies["messages"][0]["reply_count"] == 2


async def test_update_keeps_edit_history(slack: LocalSlack, client: AsyncWebClient) -> None:
    posted = await client.chat_postMessage(channel="oncall", text="Deploying v7…")
    updated = await client.chat_update(channel="C0ONCALL", ts=posted["ts"], text="Deployed v7")
    assert updated["ts"] == posted["ts"]
    [message] = slack.messages("oncall")
    assert message.text == "Deployed v7"
    assert message.edited and [r.text for r in message.history] == ["Deploying v7…"]
    assert updated["message"]["edited"]["user"] == "U0BOT"


async def test_update_unknown_ts_is_message_not_found(client: AsyncWebClient) -> None:
    with pytest.raises(SlackApiError) as err:
        await client.chat_update(channel="C0ONCALL", ts="1.000001", text="x")
    assert err.value.response["error"] == "message_not_found"


async def test_delete_and_ephemeral(slack: LocalSlack, client: AsyncWebClient) -> None:
    posted = await client.chat_postMessage(channel="oncall", text="oops")
    await client.chat_delete(channel="C0ONCALL", ts=posted["ts"])
    assert slack.messages("oncall") == []
    eph = await client.chat_postEphemeral(channel="oncall", user="U0VIEWER", text="only you")
    [message] = slack.ephemerals("carol", channel="oncall")
    assert (
        message.ts == eph["message_ts"] and message.ephemeral and message.visible_to == "U0VIEWER"
    )
    assert slack.ephemerals("bob") == []
    assert slack.messages("oncall") == []  # ephemerals never show up in the channel


async def test_dm_via_conversations_open_or_user_id(
    slack: LocalSlack, client: AsyncWebClient
) -> None:
    opened = await client.conversations_open(users="U0ONCALL")
    await client.chat_postMessage(channel=opened["channel"]["id"], text="page: model drift")
    await client.chat_postMessage(channel="U0ONCALL", text="second page")
    assert [m.text for m in slack.dms("bob")] == ["page: model drift", "second page"]
    info = await client.conversations_info(channel=opened["channel"]["id"])
    assert info["channel"]["is_im"] is True and info["channel"]["user"] == "U0ONCALL"


async def test_reactions_and_permalink(slack: LocalSlack, client: AsyncWebClient) -> None:
    posted = await client.chat_postMessage(channel="oncall", text="ack?")
    await client.reactions_add(channel="C0ONCALL", timestamp=posted["ts"], name="eyes")
    assert slack.messages("oncall")[0].reactions == {"eyes": ["U0BOT"]}
    with pytest.raises(SlackApiError, match="already_reacted"):
        await client.reactions_add(channel="C0ONCALL", timestamp=posted["ts"], name="eyes")
    link = await client.chat_getPermalink(channel="C0ONCALL", message_ts=posted["ts"])
    assert link["permalink"].startswith(slack.base_url)


async def test_join_new_channel(slack: LocalSlack, client: AsyncWebClient) -> None:
    private = slack.add_channel("secret-war-room", private=True)
    slack.workspace.channels[private.id].members.discard("U0BOT")
    with pytest.raises(SlackApiError, match="not_in_channel|channel_not_found"):
        await client.chat_postMessage(channel=private.id, text="x")
    public = slack.add_channel("ml-platform")
    assert slack.channel_id("ml-platform") == public.id
    joined = await client.conversations_join(channel=public.id)
    assert joined["channel"]["name"] == "ml-platform"


# --- errors --------------------------------------------------------------------------------


async def test_invalid_and_missing_token(slack: LocalSlack) -> None:
    with pytest.raises(SlackApiError) as err:
        await AsyncWebClient(token="xoxb-wrong", base_url=slack.api_url).auth_test()
    assert err.value.response["error"] == "invalid_auth"
    with pytest.raises(SlackApiError) as err:
        await AsyncWebClient(base_url=slack.api_url).chat_postMessage(channel="oncall", text="x")
    assert err.value.response["error"] == "not_authed"


async def test_app_token_only_opens_connections(slack: LocalSlack) -> None:
    app_client = AsyncWebClient(token=slack.app_token, base_url=slack.api_url)
    with pytest.raises(SlackApiError, match="not_allowed_token_type"):
        await app_client.chat_postMessage(channel="oncall", text="x")
    opened = await app_client.apps_connections_open(app_token=slack.app_token)
    assert opened["url"].startswith("ws://")
    with pytest.raises(SlackApiError, match="not_allowed_token_type"):
        await AsyncWebClient(token=slack.bot_token, base_url=slack.api_url).api_call(
            "apps.connections.open"
        )


async def test_channel_not_found(client: AsyncWebClient) -> None:
    with pytest.raises(SlackApiError) as err:
        await client.chat_postMessage(channel="no-such-channel", text="x")
    assert err.value.response["error"] == "channel_not_found"


@pytest.mark.filterwarnings("ignore:The top-level `text` argument is missing")
async def test_no_text_and_msg_too_long(client: AsyncWebClient) -> None:
    with pytest.raises(SlackApiError, match="no_text"):
        await client.chat_postMessage(channel="oncall")
    with pytest.raises(SlackApiError, match="msg_too_long"):
        await client.chat_postMessage(channel="oncall", text="x" * 40_001)


def _button(**overrides: Any) -> dict[str, Any]:
    button = {"type": "button", "action_id": "go", "text": {"type": "plain_text", "text": "Go"}}
    button.update(overrides)
    return {k: v for k, v in button.items() if v is not None}


def _section(text: str) -> dict[str, Any]:
    return {"type": "section", "text": {"type": "mrkdwn", "text": text}}


INVALID_BLOCKS = {
    "not a list": {"type": "section"},
    "not objects": ["hello"],
    "too many blocks": [_section("x")] * 51,
    "unknown type": [{"type": "carousel"}],
    "section text too long": [_section("x" * 3001)],
    "header too long": [{"type": "header", "text": {"type": "plain_text", "text": "h" * 151}}],
    "button without action_id": [{"type": "actions", "elements": [_button(action_id=None)]}],
    "button without text": [{"type": "actions", "elements": [_button(text=None)]}],
    "too many elements": [
        {"type": "actions", "elements": [_button(action_id=f"b{i}") for i in range(26)]}
    ],
    "duplicate block_id": [{**_section("a"), "block_id": "x"}, {**_section("b"), "block_id": "x"}],
}


@pytest.mark.parametrize("blocks", INVALID_BLOCKS.values(), ids=INVALID_BLOCKS.keys())
async def test_invalid_blocks(slack: LocalSlack, client: AsyncWebClient, blocks: Any) -> None:
    with pytest.raises(SlackApiError) as err:
        await client.chat_postMessage(channel="oncall", text="fallback", blocks=blocks)
    assert err.value.response["error"] == "invalid_blocks"
    assert slack.messages("oncall") == []


async def test_invalid_blocks_points_at_the_problem(client: AsyncWebClient) -> None:
    with pytest.raises(SlackApiError) as err:
        await client.chat_postMessage(
            channel="oncall", text="x", blocks=[_section("ok"), _section("")]
        )
    assert any("/blocks/1/text/text" in e for e in err.value.response["errors"])


async def test_form_encoded_body_with_json_string_blocks(slack: LocalSlack) -> None:
    """Slack accepts form posts where structured arguments are JSON strings."""
    async with (
        aiohttp.ClientSession() as session,
        session.post(
            slack.api_url + "chat.postMessage",
            data={
                "token": slack.bot_token,
                "channel": "oncall",
                "text": "fallback",
                "blocks": json.dumps(buttons_blocks("Confirm", "Cancel")),
            },
        ) as response,
    ):
        body = await response.json()
    assert response.status == 200 and body["ok"] is True
    [message] = slack.messages("oncall")
    assert message.buttons == [
        ("confirm", "Confirm", "confirm-value"),
        ("cancel", "Cancel", "cancel-value"),
    ]
    assert all("block_id" in b for b in message.blocks)  # filled in, as Slack does


async def test_unknown_method(slack: LocalSlack, client: AsyncWebClient) -> None:
    with pytest.raises(SlackApiError) as err:
        await client.api_call("chat.teleport")
    assert err.value.response.status_code == 404
    assert err.value.response["error"] == "unknown_method"


async def test_calls_are_recorded(slack: LocalSlack, client: AsyncWebClient) -> None:
    await client.chat_postMessage(channel="oncall", text="a")
    with pytest.raises(SlackApiError):
        await client.chat_postMessage(channel="nowhere", text="b")
    assert slack.call_count("chat.postMessage") == 2
    assert slack.calls[-1] == ("chat.postMessage", {"channel": "nowhere", "text": "b"})
    assert [c.error for c in slack.api_log] == [None, "channel_not_found"]


async def test_files_upload_v2(slack: LocalSlack, client: AsyncWebClient) -> None:
    parent = await client.chat_postMessage(channel="incidents", text="Incident #4")
    response = await client.files_upload_v2(
        channel="C0INCIDENTS",
        thread_ts=parent["ts"],
        content="timeline\n12:00 alert fired\n",
        filename="postmortem.md",
        title="Postmortem",
        initial_comment="Draft postmortem attached",
    )
    file_id = response["file"]["id"]
    assert slack.file_content(file_id) == b"timeline\n12:00 alert fired\n"
    [reply] = slack.thread("incidents", parent["ts"])
    assert reply.text == "Draft postmortem attached"
    assert reply.files[0]["id"] == file_id and reply.files[0]["title"] == "Postmortem"
    assert [m for m, _ in slack.calls[-2:]] == [
        "files.getUploadURLExternal",
        "files.completeUploadExternal",
    ]
    async with (
        aiohttp.ClientSession() as session,
        session.get(reply.files[0]["url_private"]) as got,
    ):
        assert await got.read() == b"timeline\n12:00 alert fired\n"


async def test_complete_upload_without_upload_fails(client: AsyncWebClient) -> None:
    url = await client.files_getUploadURLExternal(filename="a.txt", length=3)
    with pytest.raises(SlackApiError, match="file_not_found"):
        await client.files_completeUploadExternal(
            files=[{"id": url["file_id"]}], channel_id="C0ONCALL"
        )


async def test_views_need_a_valid_trigger(slack: LocalSlack, client: AsyncWebClient) -> None:
    modal = {
        "type": "modal",
        "title": {"type": "plain_text", "text": "Open incident"},
        "blocks": [_section("hi")],
    }
    with pytest.raises(SlackApiError, match="invalid_trigger_id"):
        await client.views_open(trigger_id="123.456.bogus", view=modal)
    home = {"type": "home", "blocks": [_section("Oncall: bob")]}
    published = await client.views_publish(user_id="U0ONCALL", view=home)
    assert published["view"]["id"] == slack.home_view("bob").id  # type: ignore[union-attr]


async def test_post_to_a_user_id_lands_in_the_dm_without_opening_it(
    slack: LocalSlack, client: AsyncWebClient
) -> None:
    # As in Slack: a user's ID as `channel` posts to the app's DM with them; the answer names it.
    posted = await client.chat_postMessage(channel="U0VIEWER", text="update")
    assert posted["channel"] == "D0VIEWER"
    assert slack.call_count("conversations.open") == 0
    assert [m.text for m in slack.dms("carol")] == ["update"]


async def test_message_metadata_is_kept_and_read_back_only_on_request(
    slack: LocalSlack, client: AsyncWebClient
) -> None:
    metadata = {"event_type": "incident_update", "event_payload": {"incident_id": 1, "slot": "s"}}
    posted = await client.chat_postMessage(channel="U0VIEWER", text="update", metadata=metadata)
    assert posted["message"]["metadata"] == metadata
    assert slack.dms("carol")[0].metadata == metadata
    plain = await client.conversations_history(channel=posted["channel"])
    assert "metadata" not in plain["messages"][0]  # Slack leaves it out unless asked
    full = await client.conversations_history(channel=posted["channel"], include_all_metadata=True)
    assert full["messages"][0]["metadata"] == metadata
    replies = await client.conversations_replies(
        channel=posted["channel"], ts=posted["ts"], include_all_metadata=True
    )
    assert replies["messages"][0]["metadata"] == metadata


@pytest.mark.parametrize(
    "metadata",
    [{"event_payload": {}}, {"event_type": "x"}, {"event_type": "x", "event_payload": "nope"}],
)
async def test_malformed_metadata(client: AsyncWebClient, metadata: dict[str, Any]) -> None:
    with pytest.raises(SlackApiError) as err:
        await client.chat_postMessage(channel="oncall", text="x", metadata=metadata)
    assert err.value.response["error"] == "invalid_metadata_format"
