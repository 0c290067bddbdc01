"""chat.* and reactions.*: posting, editing, deleting messages and reacting to them."""

from __future__ import annotations

from typing import Any

from .api_errors import ApiError
from .blocks import validate_content
from .methods import Params, method
from .models import BOT_USER_ID, TEAM_ID, Channel
from .scopes import may_post_unjoined
from .server import SlackServer


def _postable(slack: SlackServer, params: Params, *, public_scope: bool = False) -> Channel:
    channel = slack.workspace.channel(params.req("channel", "channel_not_found"))
    if BOT_USER_ID not in channel.members and not (
        public_scope and may_post_unjoined(slack, channel)
    ):
        # Slack refuses posts to channels the bot was never added to.
        raise ApiError("not_in_channel")
    return channel


def _content(slack: SlackServer, params: Params) -> tuple[str, list[Any], list[Any]]:
    return validate_content(
        params.values.get("text"),
        params.structured("blocks", error="invalid_blocks"),
        params.structured("attachments", error="invalid_attachments"),
        seed=slack.workspace.next_ts(),
    )


def _metadata(params: Params) -> dict[str, Any] | None:
    """Message metadata as Slack takes it: an `event_type` string and an `event_payload` object."""
    metadata = params.structured("metadata", error="invalid_metadata_format")
    if metadata is None:
        return None
    if not (
        isinstance(metadata, dict)
        and isinstance(metadata.get("event_type"), str)
        and metadata["event_type"]
        and isinstance(metadata.get("event_payload"), dict)
    ):
        raise ApiError("invalid_metadata_format")
    return {"event_type": metadata["event_type"], "event_payload": metadata["event_payload"]}


@method("chat.postMessage")
async def post_message(slack: SlackServer, params: Params) -> dict[str, Any]:
    channel = _postable(slack, params, public_scope=True)
    text, blocks, attachments = _content(slack, params)
    ws = slack.workspace
    message = ws.new_message(
        channel,
        BOT_USER_ID,
        text=text,
        blocks=blocks,
        attachments=attachments,
        thread_ts=params.opt("thread_ts"),
        reply_broadcast=params.flag("reply_broadcast"),
        username=params.opt("username"),
        metadata=_metadata(params),
    )
    await ws.commit(message, "new")
    return {"channel": channel.id, "ts": message.ts, "message": message.to_api()}


@method("chat.update")
async def update(slack: SlackServer, params: Params) -> dict[str, Any]:
    ws = slack.workspace
    channel = ws.channel(params.req("channel", "channel_not_found"))
    message = ws.find_message(channel.id, params.req("ts", "message_not_found"))
    if message is None:
        raise ApiError("message_not_found")
    if message.user != BOT_USER_ID:
        raise ApiError("cant_update_message")
    # The new content replaces the old one wholesale, as in Slack.
    text, blocks, attachments = _content(slack, params)
    ws.edit(message, text, blocks, attachments)
    await ws.commit(message, "edited")
    return {"channel": channel.id, "ts": message.ts, "text": text, "message": message.to_api()}


@method("chat.postEphemeral")
async def post_ephemeral(slack: SlackServer, params: Params) -> dict[str, Any]:
    channel = _postable(slack, params)
    ws = slack.workspace
    user = params.req("user", "user_not_found")
    if user not in ws.users:
        raise ApiError("user_not_found")
    if user not in channel.members:
        raise ApiError("user_not_in_channel")
    text, blocks, attachments = _content(slack, params)
    message = ws.new_message(
        channel,
        BOT_USER_ID,
        text=text,
        blocks=blocks,
        attachments=attachments,
        thread_ts=params.opt("thread_ts"),
        ephemeral=True,
        visible_to=user,
    )
    await ws.commit(message, "new")
    return {"message_ts": message.ts}


@method("chat.delete")
async def delete(slack: SlackServer, params: Params) -> dict[str, Any]:
    ws = slack.workspace
    channel = ws.channel(params.req("channel", "channel_not_found"))
    message = ws.find_message(channel.id, params.req("ts", "message_not_found"))
    if message is None:
        raise ApiError("message_not_found")
    if message.user != BOT_USER_ID:
        raise ApiError("cant_delete_message")
    message.deleted = True
    await ws.commit(message, "deleted")
    return {"channel": channel.id, "ts": message.ts}


@method("chat.getPermalink")
async def get_permalink(slack: SlackServer, params: Params) -> dict[str, Any]:
    ws = slack.workspace
    channel = ws.channel(params.req("channel", "channel_not_found"))
    ts = params.req("message_ts", "message_not_found")
    message = ws.find_message(channel.id, ts)
    if message is None:
        raise ApiError("message_not_found")
    link = f"{slack.base_url}/archives/{channel.id}/p{ts.replace('.', '')}"
    if message.is_reply:
        link += f"?thread_ts={message.thread_ts}&cid={channel.id}"
    return {"channel": channel.id, "permalink": link}


@method("reactions.add")
async def reactions_add(slack: SlackServer, params: Params) -> dict[str, Any]:
    ws = slack.workspace
    channel = ws.channel(params.req("channel", "channel_not_found"))
    message = ws.find_message(channel.id, params.req("timestamp", "message_not_found"))
    if message is None:
        raise ApiError("message_not_found")
    name = params.req("name", "invalid_name").strip(":")
    users = message.reactions.setdefault(name, [])
    if BOT_USER_ID in users:
        raise ApiError("already_reacted")
    users.append(BOT_USER_ID)
    await ws.commit(message, "reaction")
    return {}


@method("reactions.remove")
async def reactions_remove(slack: SlackServer, params: Params) -> dict[str, Any]:
    ws = slack.workspace
    channel = ws.channel(params.req("channel", "channel_not_found"))
    message = ws.find_message(channel.id, params.req("timestamp", "message_not_found"))
    if message is None:
        raise ApiError("message_not_found")
    name = params.req("name", "invalid_name").strip(":")
    users = message.reactions.get(name, [])
    if BOT_USER_ID not in users:
        raise ApiError("no_reaction")
    users.remove(BOT_USER_ID)
    if not users:
        del message.reactions[name]
    await ws.commit(message, "reaction")
    return {}


@method("auth.test")
async def auth_test(slack: SlackServer, params: Params) -> dict[str, Any]:
    return {
        "url": f"{slack.base_url}/",
        "team": "Local Workspace",
        "user": "oncall-bot",
        "team_id": TEAM_ID,
        "user_id": BOT_USER_ID,
        "bot_id": "B0BOT",
        "is_enterprise_install": False,
    }
