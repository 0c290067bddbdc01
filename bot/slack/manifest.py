"""The Slack app manifest: the slash command, URLs or Socket Mode, events and bot scopes.

The scopes are derived, never typed: each Web API method the bot calls and each event it
listens to names the scopes Slack requires for it (Slack's method and event reference pages),
and the manifest asks for their union. tests/test_manifest.py checks that `CALLED_METHODS` is
what the code calls and `LISTENED_EVENTS` what the Bolt app listens to, so a new call or
listener without its scope fails a test rather than a workspace.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import yaml

# The history scope of each kind of conversation the bot reads: public and private channels
# (incident threads, stakeholder channels) and DMs (stakeholder updates to users). The bot
# never reads group DMs, so `mpim:history` is not asked for.
_READ_HISTORY = ("channels:history", "groups:history", "im:history")

# Bot-token scopes per Web API method. A method may appear here before the bot calls it; only
# the methods in CALLED_METHODS reach the manifest.
METHOD_SCOPES: dict[str, tuple[str, ...]] = {
    "auth.test": (),
    # chat:write.public: the bot posts into ONCALL_CHANNEL, INCIDENT_CHANNEL, STAKEHOLDER_CHANNEL
    # and subscribed channels without having to be invited to each first.
    "chat.postMessage": ("chat:write", "chat:write.public"),
    "chat.postEphemeral": ("chat:write",),
    "chat.update": ("chat:write",),
    "chat.delete": ("chat:write",),
    "chat.getPermalink": (),
    # The delivery recovery looks for a stakeholder update in the DM or channel it went to.
    "conversations.history": _READ_HISTORY,
    # A pinned message is read back from the incident thread (a public or private channel).
    "conversations.replies": ("channels:history", "groups:history"),
    "conversations.open": ("im:write",),
    "conversations.info": ("channels:read", "groups:read", "im:read"),
    "conversations.members": ("channels:read", "groups:read", "im:read"),
    "conversations.list": ("channels:read", "groups:read", "im:read"),
    "conversations.join": ("channels:join",),
    # Access grants to private channels (bot/access/channel_provider.py).
    "conversations.invite": ("channels:manage", "groups:write"),
    "conversations.kick": ("channels:manage", "groups:write"),
    "users.info": ("users:read",),
    "users.list": ("users:read",),
    "users.lookupByEmail": ("users:read.email",),
    "views.open": (),
    "views.push": (),
    "views.update": (),
    "views.publish": (),
    "files.getUploadURLExternal": ("files:write",),
    "files.completeUploadExternal": ("files:write",),
    "reactions.add": ("reactions:write",),
    "reactions.remove": ("reactions:write",),
    "reactions.get": ("reactions:read",),
    "pins.add": ("pins:write",),
    "pins.remove": ("pins:write",),
    "pins.list": ("pins:read",),
}

# Every Web API method the bot calls with its bot token (slack_sdk calls in bot/, Bolt's `say`
# and its auth.test on the first request; files_upload_v2 is the two files.* calls).
CALLED_METHODS: tuple[str, ...] = (
    "auth.test",
    "chat.postMessage",
    "chat.postEphemeral",
    "chat.update",
    "conversations.history",
    "conversations.open",
    "conversations.replies",
    "files.getUploadURLExternal",
    "files.completeUploadExternal",
    "views.open",
    # Display names for files and the status page (bot/slack/user_names.py).
    "users.info",
    # The access runbook's channel provider (bot/slack/access_notifier.py).
    "conversations.list",
    "conversations.members",
    "conversations.invite",
    "conversations.kick",
)

# Bot-token scopes per bot event (Slack's event reference).
EVENT_SCOPES: dict[str, tuple[str, ...]] = {
    "app_mention": ("app_mentions:read",),
    "reaction_added": ("reactions:read",),
    "reaction_removed": ("reactions:read",),
    "message.channels": ("channels:history",),
    "message.groups": ("groups:history",),
    "message.im": ("im:history",),
    "message.mpim": ("mpim:history",),
    "app_home_opened": (),
    "member_joined_channel": ("channels:read", "groups:read"),
    "channel_archive": ("channels:read",),
}

# The event type each Bolt listener of bot/slack/bolt_app.py receives -> the manifest events
# Slack delivers as that type. Message events are the incident channel's thread messages,
# public or private.
LISTENED_EVENTS: dict[str, tuple[str, ...]] = {
    "app_mention": ("app_mention",),
    "message": ("message.channels", "message.groups"),
    "reaction_added": ("reaction_added",),
    "reaction_removed": ("reaction_removed",),
}

# A slash command needs this scope whatever it does.
COMMANDS_SCOPE = "commands"


class ManifestError(ValueError):
    """An option the manifest cannot be built from (said in one line)."""


class UnknownMethod(KeyError):
    """A Web API method with no entry in METHOD_SCOPES: its scopes are not known."""


def bot_events() -> list[str]:
    return sorted({e for events in LISTENED_EVENTS.values() for e in events})


def scopes_for(methods: tuple[str, ...] | list[str], events: list[str]) -> list[str]:
    """The bot scopes that `methods` and `events` need, with `commands` for the slash command."""
    needed = {COMMANDS_SCOPE}
    for name in methods:
        if name not in METHOD_SCOPES:
            raise UnknownMethod(name)
        needed.update(METHOD_SCOPES[name])
    for event in events:
        needed.update(EVENT_SCOPES[event])
    return sorted(needed)


def bot_scopes() -> list[str]:
    """Exactly the bot scopes the code needs."""
    return scopes_for(CALLED_METHODS, bot_events())


@dataclass(frozen=True)
class ManifestOptions:
    slash_command: str
    # The bot's public base URL (HTTP mode); None: Socket Mode, no URLs.
    url: str | None
    name: str = "oncall-bot"


def events_url(base: str) -> str:
    """<base>/slack/events, where Slack posts commands, clicks and events; Slack only posts to
    https URLs with a host."""
    parts = urlsplit(base.strip())
    if parts.scheme != "https" or not parts.hostname:
        raise ManifestError(f"--url must be the bot's public https:// address, not {base!r}")
    if parts.query or parts.fragment:
        raise ManifestError(f"--url takes a base address without ?query or #fragment: {base!r}")
    return (
        f"{urlunsplit((parts.scheme, parts.netloc, parts.path.rstrip('/'), '', ''))}/slack/events"
    )


def build_manifest(options: ManifestOptions) -> dict[str, Any]:
    """Slack's app manifest (https://api.slack.com/reference/manifests) as a plain dict."""
    request_url = events_url(options.url) if options.url is not None else None
    command: dict[str, Any] = {"command": options.slash_command}
    if request_url:
        command["url"] = request_url
    command.update(
        description="ML oncall runbooks: deploy, rollback, retrain, incidents",
        usage_hint="help | status | deploy vN | rollback | incident list",
        # Slack then sends users and channels as <@U…> and <#C…>, which the parser reads.
        should_escape=True,
    )
    events: dict[str, Any] = {"bot_events": bot_events()}
    interactivity: dict[str, Any] = {"is_enabled": True}
    if request_url:
        events = {"request_url": request_url, **events}
        interactivity["request_url"] = request_url
    return {
        "display_information": {
            "name": options.name,
            "description": "The ML oncall engineer's runbooks, in Slack",
            "background_color": "#1d3557",
        },
        "features": {
            "bot_user": {"display_name": options.name, "always_online": True},
            "slash_commands": [command],
        },
        "oauth_config": {"scopes": {"bot": bot_scopes()}},
        "settings": {
            "event_subscriptions": events,
            "interactivity": interactivity,
            "org_deploy_enabled": False,
            "socket_mode_enabled": options.url is None,
            "token_rotation_enabled": False,
        },
    }


def manifest_yaml(options: ManifestOptions) -> str:
    return yaml.safe_dump(build_manifest(options), sort_keys=False, allow_unicode=True)
