"""Scopes per bot token, checked as Slack checks them: a call whose scope was not granted gets
`{"ok": false, "error": "missing_scope", "needed": ..., "provided": ...}` and changes nothing.

These rules are Slack's (its method reference), written independently of the bot's own map in
bot/slack/manifest.py, so a test run against the manifest's scopes proves the manifest right.
Methods that read or write a conversation need the scope of that conversation's kind: reading a
DM needs `im:history`, a private channel `groups:history`.
"""

from __future__ import annotations

from collections.abc import Callable

from .api_errors import ApiError
from .methods import Params
from .models import BOT_USER_ID, Channel
from .server import SlackServer

Rule = Callable[[SlackServer, Params], tuple[str, ...]]

# What a conversation of each kind is called in scope names.
_PREFIX = {"channel": "channels", "group": "groups", "im": "im", "mpim": "mpim"}


def _conversation(slack: SlackServer, params: Params, name: str = "channel") -> str | None:
    """The kind of conversation (channel, group, im, mpim) a call is about; None if unknown
    (the method itself then answers channel_not_found)."""
    ref = params.opt(name)
    if ref is None:
        return None
    ws = slack.workspace
    if ref in ws.users and ref != BOT_USER_ID:  # a user id posts to the bot's DM with them
        return "im"
    found: Channel | None = ws.channels.get(ref) or next(
        (c for c in ws.channels.values() if c.name == ref.lstrip("#")), None
    )
    return found.channel_type if found else None


def _per_conversation(suffix: str, param: str = "channel") -> Rule:
    def rule(slack: SlackServer, params: Params) -> tuple[str, ...]:
        kind = _conversation(slack, params, param)
        return (f"{_PREFIX[kind]}:{suffix}",) if kind else ()

    return rule


def _fixed(*scopes: str) -> Rule:
    return lambda slack, params: scopes


def _open(slack: SlackServer, params: Params) -> tuple[str, ...]:
    if "channel" in params:  # resuming a known conversation
        return ()
    return ("mpim:write",) if len(params.csv("users")) > 1 else ("im:write",)


def _list(slack: SlackServer, params: Params) -> tuple[str, ...]:
    types = params.csv("types") or ["public_channel"]
    kinds = {"public_channel": "channel", "private_channel": "group", "im": "im", "mpim": "mpim"}
    return tuple(f"{_PREFIX[kinds[t]]}:read" for t in types if t in kinds)


# Scopes that must all be granted for a call. Methods not listed need none beyond a bot token
# (auth.test, chat.getPermalink, views.*).
RULES: dict[str, Rule] = {
    "chat.postMessage": _fixed("chat:write"),
    "chat.postEphemeral": _fixed("chat:write"),
    "chat.update": _fixed("chat:write"),
    "chat.delete": _fixed("chat:write"),
    "reactions.add": _fixed("reactions:write"),
    "reactions.remove": _fixed("reactions:write"),
    "conversations.open": _open,
    "conversations.info": _per_conversation("read"),
    "conversations.members": _per_conversation("read"),
    "conversations.list": _list,
    "conversations.join": _fixed("channels:join"),
    "conversations.history": _per_conversation("history"),
    "conversations.replies": _per_conversation("history"),
    "users.info": _fixed("users:read"),
    "users.list": _fixed("users:read"),
    "files.getUploadURLExternal": _fixed("files:write"),
    "files.completeUploadExternal": _fixed("files:write"),
}


# Every scope a rule here can ask for: a workspace that granted them all (the stand-in's own tests).
EVERY_SCOPE = frozenset(
    {
        *(f"{p}:{s}" for p in _PREFIX.values() for s in ("history", "read")),
        *("chat:write", "chat:write.public", "reactions:write", "im:write", "mpim:write"),
        *("channels:join", "users:read", "files:write"),
    }
)


def check(slack: SlackServer, method: str, params: Params, granted: set[str]) -> None:
    """Raise missing_scope when `method` on these arguments needs a scope not in `granted`."""
    rule = RULES.get(method)
    if rule is None:
        return
    for scope in rule(slack, params):
        if scope not in granted:
            raise ApiError("missing_scope", needed=scope, provided=",".join(sorted(granted)))


def may_post_unjoined(slack: SlackServer, channel: Channel) -> bool:
    """chat:write.public lets a bot post in a public channel it was never added to."""
    public = not (channel.is_private or channel.is_im or channel.is_mpim)
    return public and "chat:write.public" in slack.bot_scopes
