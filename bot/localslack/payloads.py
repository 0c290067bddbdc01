"""The payloads Slack sends an app, field for field, built from workspace objects.

Shapes follow Slack's documented payloads (slash command form, block_actions,
view_submission, event_callback) including the fields Bolt reads to route and authorize
(team/api_app_id/authorizations), so the bot's listeners see what production sends.
"""

from __future__ import annotations

import time
from typing import Any

from . import render
from .models import APP_ID, BOT_USER_ID, TEAM_DOMAIN, TEAM_ID, Channel, Message, User, View

VERIFICATION_TOKEN = "localverificationtoken"


def _user_ref(user: User) -> dict[str, Any]:
    return {"id": user.id, "username": user.name, "name": user.name, "team_id": TEAM_ID}


def _team() -> dict[str, Any]:
    return {"id": TEAM_ID, "domain": TEAM_DOMAIN}


def slash_command(
    *,
    user: User,
    channel: Channel,
    command: str,
    text: str,
    response_url: str,
    trigger_id: str,
) -> dict[str, str]:
    """The form fields of a slash command (all strings, as Slack posts them)."""
    return {
        "token": VERIFICATION_TOKEN,
        "team_id": TEAM_ID,
        "team_domain": TEAM_DOMAIN,
        "channel_id": channel.id,
        "channel_name": "directmessage" if channel.is_im else channel.name,
        "user_id": user.id,
        "user_name": user.name,
        "command": command,
        "text": text,
        "api_app_id": APP_ID,
        "is_enterprise_install": "false",
        "response_url": response_url,
        "trigger_id": trigger_id,
    }


def block_actions(
    *,
    user: User,
    channel: Channel,
    message: Message,
    button: render.Button,
    value: str | None,
    response_url: str,
    trigger_id: str,
    action_ts: str,
) -> dict[str, Any]:
    action: dict[str, Any] = {
        "type": "button",
        "action_id": button.action_id,
        "block_id": button.block_id,
        "text": {"type": "plain_text", "text": button.text, "emoji": True},
        "action_ts": action_ts,
    }
    if value is not None:
        action["value"] = value
    if button.style:
        action["style"] = button.style
    payload: dict[str, Any] = {
        "type": "block_actions",
        "user": _user_ref(user),
        "api_app_id": APP_ID,
        "token": VERIFICATION_TOKEN,
        "container": {
            "type": "message",
            "message_ts": message.ts,
            "channel_id": channel.id,
            "is_ephemeral": message.ephemeral,
        },
        "trigger_id": trigger_id,
        "team": _team(),
        "enterprise": None,
        "is_enterprise_install": False,
        "channel": {"id": channel.id, "name": channel.name},
        "state": {"values": {}},
        "response_url": response_url,
        "actions": [action],
    }
    if message.thread_ts:
        payload["container"]["thread_ts"] = message.thread_ts
    if not message.ephemeral:
        # Slack omits the message for clicks on ephemerals (the app never saw it stored).
        payload["message"] = message.to_api()
    return payload


def _element_state(element: dict[str, Any], raw: Any) -> dict[str, Any]:
    """Slack's state entry for one input element filled with `raw`."""
    kind = element.get("type", "plain_text_input")
    if isinstance(raw, dict) and "type" in raw:
        return raw
    state: dict[str, Any] = {"type": kind}
    if kind in ("static_select", "radio_buttons", "external_select"):
        options = element.get("options") or []
        chosen = next((o for o in options if o.get("value") == raw), None)
        state["selected_option"] = chosen or (
            None
            if raw is None
            else {"text": {"type": "plain_text", "text": str(raw)}, "value": raw}
        )
    elif kind in ("multi_static_select", "checkboxes"):
        wanted = raw if isinstance(raw, list) else [] if raw is None else [raw]
        options = element.get("options") or []
        state["selected_options"] = [o for o in options if o.get("value") in wanted]
    elif kind in ("users_select", "conversations_select", "channels_select", "datepicker"):
        key = {
            "users_select": "selected_user",
            "conversations_select": "selected_conversation",
            "channels_select": "selected_channel",
            "datepicker": "selected_date",
        }[kind]
        state[key] = raw
    else:
        state["value"] = raw
    return state


def view_state(view: dict[str, Any], values: dict[str, Any]) -> dict[str, Any]:
    """`view.state.values` from what a test typed into the modal.

    Accepts Slack's own shape `{block_id: {action_id: {...}}}`, the short form
    `{block_id: {action_id: "text"}}`, or a flat `{action_id_or_block_id: "text"}`; inputs that
    were left empty are present with a null value, as in Slack.
    """
    state: dict[str, dict[str, Any]] = {}
    for block in view.get("blocks", []):
        if block.get("type") != "input" or not isinstance(block.get("element"), dict):
            continue
        element = block["element"]
        block_id, action_id = block["block_id"], element.get("action_id", "")
        raw: Any = None
        nested = values.get(block_id)
        if isinstance(nested, dict) and action_id in nested:
            raw = nested[action_id]
        elif action_id in values:
            raw = values[action_id]
        elif block_id in values and not isinstance(nested, dict):
            raw = nested
        state.setdefault(block_id, {})[action_id] = _element_state(element, raw)
    return state


def view_submission(
    *, user: User, view: View, values: dict[str, Any], trigger_id: str
) -> dict[str, Any]:
    view_data = view.to_api()
    view_data["state"] = {"values": view_state(view.view, values)}
    return {
        "type": "view_submission",
        "team": _team(),
        "user": _user_ref(user),
        "api_app_id": APP_ID,
        "token": VERIFICATION_TOKEN,
        "trigger_id": trigger_id,
        "view": view_data,
        "response_urls": [],
        "is_enterprise_install": False,
        "enterprise": None,
    }


def event_callback(event: dict[str, Any], *, event_id: str) -> dict[str, Any]:
    """Wrap one event the way the Events API delivers it."""
    return {
        "token": VERIFICATION_TOKEN,
        "team_id": TEAM_ID,
        "api_app_id": APP_ID,
        "event": event,
        "type": "event_callback",
        "event_id": event_id,
        "event_time": int(time.time()),
        "authorizations": [
            {
                "enterprise_id": None,
                "team_id": TEAM_ID,
                "user_id": BOT_USER_ID,
                "is_bot": True,
                "is_enterprise_install": False,
            }
        ],
        "is_ext_shared_channel": False,
        "event_context": f"local-{event_id}",
    }


def message_event(
    message: Message, channel: Channel, parent_user: str | None = None
) -> dict[str, Any]:
    event: dict[str, Any] = {
        "type": "message",
        "channel": channel.id,
        "user": message.user,
        "text": message.text,
        "ts": message.ts,
        "event_ts": message.ts,
        "channel_type": channel.channel_type,
        "team": TEAM_ID,
    }
    if message.is_reply:
        event["thread_ts"] = message.thread_ts
        if parent_user:
            event["parent_user_id"] = parent_user
    return event


def app_mention_event(message: Message) -> dict[str, Any]:
    event = {
        "type": "app_mention",
        "channel": message.channel,
        "user": message.user,
        "text": message.text,
        "ts": message.ts,
        "event_ts": message.ts,
        "team": TEAM_ID,
    }
    if message.thread_ts:
        event["thread_ts"] = message.thread_ts
    return event


def reaction_added_event(
    *, user: str, message: Message, name: str, event_ts: str
) -> dict[str, Any]:
    return {
        "type": "reaction_added",
        "user": user,
        "reaction": name,
        "item_user": message.user,
        "item": {"type": "message", "channel": message.channel, "ts": message.ts},
        "event_ts": event_ts,
    }
