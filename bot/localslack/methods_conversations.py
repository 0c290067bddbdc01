"""conversations.* and users.*: looking up and opening channels, reading history and users."""

from __future__ import annotations

from typing import Any

from .api_errors import ApiError
from .methods import Params, method
from .models import BOT_USER_ID, TEAM_ID, Message
from .server import SlackServer


def _page(items: list[Any], params: Params, default_limit: int = 100) -> tuple[list[Any], str]:
    """Cursor pagination: the cursor is the offset, which is all a fixed snapshot needs."""
    limit = max(1, min(params.integer("limit", default_limit), 1000))
    cursor = params.opt("cursor")
    try:
        start = int(cursor) if cursor else 0
    except ValueError:
        raise ApiError("invalid_cursor") from None
    chunk = items[start : start + limit]
    next_cursor = str(start + limit) if start + limit < len(items) else ""
    return chunk, next_cursor


@method("conversations.open")
async def conversations_open(slack: SlackServer, params: Params) -> dict[str, Any]:
    ws = slack.workspace
    if "channel" in params:
        channel = ws.channel(params.req("channel"))
    else:
        users = params.csv("users")
        if not users:
            raise ApiError("users_list_not_supplied")
        channel = ws.open_dm(users)
    if params.flag("return_im"):
        return {"channel": channel.to_api()}
    return {"channel": {"id": channel.id}}


@method("conversations.info")
async def conversations_info(slack: SlackServer, params: Params) -> dict[str, Any]:
    channel = slack.workspace.channel(params.req("channel", "channel_not_found"))
    return {"channel": channel.to_api()}


@method("conversations.list")
async def conversations_list(slack: SlackServer, params: Params) -> dict[str, Any]:
    wanted = set(params.csv("types") or ["public_channel"])
    channels = []
    for channel in slack.workspace.channels.values():
        kind = {"im": "im", "mpim": "mpim", "group": "private_channel"}.get(
            channel.channel_type, "public_channel"
        )
        if kind in wanted:
            channels.append(channel.to_api())
    page, cursor = _page(channels, params)
    return {"channels": page, "response_metadata": {"next_cursor": cursor}}


@method("conversations.join")
async def conversations_join(slack: SlackServer, params: Params) -> dict[str, Any]:
    channel = slack.workspace.channel(params.req("channel", "channel_not_found"))
    if channel.is_im or channel.is_mpim:
        raise ApiError("method_not_supported_for_channel_type")
    if channel.is_private and BOT_USER_ID not in channel.members:
        raise ApiError("channel_not_found")
    channel.members.add(BOT_USER_ID)
    await slack.workspace.commit()
    return {"channel": channel.to_api()}


@method("conversations.members")
async def conversations_members(slack: SlackServer, params: Params) -> dict[str, Any]:
    channel = slack.workspace.channel(params.req("channel", "channel_not_found"))
    page, cursor = _page(sorted(channel.members), params)
    return {"members": page, "response_metadata": {"next_cursor": cursor}}


def _in_window(message: Message, params: Params) -> bool:
    oldest, latest = params.opt("oldest"), params.opt("latest")
    inclusive = params.flag("inclusive")
    if oldest and (message.ts < oldest or (message.ts == oldest and not inclusive)):
        return False
    return not (latest and (message.ts > latest or (message.ts == latest and not inclusive)))


@method("conversations.history")
async def conversations_history(slack: SlackServer, params: Params) -> dict[str, Any]:
    ws = slack.workspace
    channel = ws.channel(params.req("channel", "channel_not_found"))
    # Newest first, as Slack returns it.
    messages = [m for m in reversed(ws.top_level(channel.id)) if _in_window(m, params)]
    page, cursor = _page(messages, params)
    metadata = params.flag("include_all_metadata")
    return {
        "messages": [_with_thread_info(ws.replies(channel.id, m.ts), m, metadata) for m in page],
        "has_more": bool(cursor),
        "response_metadata": {"next_cursor": cursor},
    }


def _with_thread_info(replies: list[Message], message: Message, metadata: bool) -> dict[str, Any]:
    data = _api(message, metadata)
    if replies:
        data.update(
            thread_ts=message.ts,
            reply_count=len(replies),
            latest_reply=replies[-1].ts,
            reply_users=sorted({r.user for r in replies}),
        )
    return data


def _api(message: Message, metadata: bool) -> dict[str, Any]:
    """A message as history returns it: Slack includes message metadata only when the call asks
    for it with `include_all_metadata`."""
    data = message.to_api()
    if not metadata:
        data.pop("metadata", None)
    return data


@method("conversations.replies")
async def conversations_replies(slack: SlackServer, params: Params) -> dict[str, Any]:
    ws = slack.workspace
    channel = ws.channel(params.req("channel", "channel_not_found"))
    parent = ws.find_message(channel.id, params.req("ts", "thread_not_found"))
    if parent is None:
        raise ApiError("thread_not_found")
    root_ts = parent.thread_ts or parent.ts
    root = ws.find_message(channel.id, root_ts) or parent
    replies = ws.replies(channel.id, root_ts)
    metadata = params.flag("include_all_metadata")
    thread = [_with_thread_info(replies, root, metadata)] + [
        _api(r, metadata) for r in replies if _in_window(r, params)
    ]
    page, cursor = _page(thread, params, default_limit=1000)
    return {
        "messages": page,
        "has_more": bool(cursor),
        "response_metadata": {"next_cursor": cursor},
    }


@method("users.info")
async def users_info(slack: SlackServer, params: Params) -> dict[str, Any]:
    user = slack.workspace.users.get(params.req("user", "user_not_found"))
    if user is None:
        raise ApiError("user_not_found")
    return {"user": user.to_api(TEAM_ID)}


@method("users.list")
async def users_list(slack: SlackServer, params: Params) -> dict[str, Any]:
    members = [u.to_api(TEAM_ID) for u in slack.workspace.users.values()]
    page, cursor = _page(members, params)
    return {"members": page, "response_metadata": {"next_cursor": cursor}}


@method("conversations.invite")
async def conversations_invite(slack: SlackServer, params: Params) -> dict[str, Any]:
    channel = slack.workspace.channel(params.req("channel", "channel_not_found"))
    if BOT_USER_ID not in channel.members:
        raise ApiError("not_in_channel")
    users = params.csv("users")
    if not users:
        raise ApiError("no_user")
    for user in users:
        if user not in slack.workspace.users:
            raise ApiError("user_not_found")
        if user in channel.members:
            raise ApiError("already_in_channel")
    channel.members.update(users)
    await slack.workspace.commit()
    return {"channel": channel.to_api()}


@method("conversations.kick")
async def conversations_kick(slack: SlackServer, params: Params) -> dict[str, Any]:
    channel = slack.workspace.channel(params.req("channel", "channel_not_found"))
    user = params.req("user", "user_not_found")
    if user not in channel.members:
        raise ApiError("not_in_channel")
    channel.members.discard(user)
    await slack.workspace.commit()
    return {}
