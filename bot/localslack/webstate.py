"""The workspace as the web page reads it: one JSON snapshot of users, channels, messages, open
modals and the inspector's logs.

The page re-renders from this snapshot on every change (it is told over server-sent events), so
the server keeps no per-page state and an edit simply shows up as the message's new content.
Everything is data: the page escapes every string it renders.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field
from typing import Any

from . import render
from .api import ApiCall
from .models import BOT_USER_ID, AckResult, Message, StoredFile
from .server import SlackServer

# Who the page lets you act as: the seeded users, and a stakeholder (no bot role: a viewer).
STAKEHOLDER = ("U0STAKEHOLDER", "dana", "Dana Stakeholder")
SWITCHER_ROLES = ("oncall", "viewer", "admin", "stakeholder")
INSPECTOR_SIZE = 200


@dataclass
class Inspector:
    """What the page shows in its inspector: payloads it delivered and the acks that came back."""

    deliveries: deque[dict[str, Any]] = field(default_factory=lambda: deque(maxlen=INSPECTOR_SIZE))
    # response_action errors per open modal, so a re-render still shows them.
    view_errors: dict[str, dict[str, str]] = field(default_factory=dict)
    counter: int = 0

    def record(self, action: str, result: AckResult) -> dict[str, Any]:
        """One payload delivered to the bot and its ack."""
        return self.note(
            action,
            result.request,
            result.status,
            result.payload,
            error=result.error,
            timed_out=result.timed_out,
            latency_ms=result.latency_ms,
        )

    def note(
        self,
        action: str,
        request: Any,
        status: int,
        ack: Any,
        *,
        error: str | None = None,
        timed_out: bool = False,
        latency_ms: float = 0.0,
    ) -> dict[str, Any]:
        self.counter += 1
        entry = {
            "id": self.counter,
            "action": action,
            "request": request,
            "status": status,
            "ack": ack,
            "error": error,
            "timed_out": timed_out,
            "latency_ms": round(latency_ms, 1),
        }
        self.deliveries.append(entry)
        return entry


def ensure_stakeholder(slack: SlackServer) -> None:
    """Add the stakeholder the page's user switcher offers (once; a no-op if already there)."""
    user_id, name, real_name = STAKEHOLDER
    if user_id not in slack.workspace.users:
        slack.workspace.add_user(user_id, name, real_name=real_name, title="stakeholder")


def _file(stored: dict[str, Any], files: dict[str, StoredFile]) -> dict[str, Any]:
    known = files.get(str(stored.get("id")))
    name = str(stored.get("name") or "")
    return {
        "id": stored.get("id"),
        "name": name,
        "title": stored.get("title") or name,
        "size": stored.get("size", 0),
        "image": name.lower().endswith((".png", ".jpg", ".jpeg", ".gif")),
        "url": f"/web/files/{stored.get('id')}" if known else None,
    }


def message_json(message: Message, files: dict[str, StoredFile]) -> dict[str, Any]:
    return {
        "ts": message.ts,
        "channel": message.channel,
        "user": message.user,
        "text": message.text,
        "blocks": message.blocks,
        "attachments": message.attachments,
        "thread_ts": message.thread_ts,
        "is_reply": message.is_reply,
        "broadcast": message.reply_broadcast,
        "ephemeral": message.ephemeral,
        "visible_to": message.visible_to,
        "edited": message.edited,
        "edits": len(message.history),
        "reactions": {name: list(users) for name, users in message.reactions.items()},
        "files": [_file(f, files) for f in message.files],
        "buttons": len(render.find_buttons(message.blocks)),
        "seq": message.seq,
    }


def snapshot(
    slack: SlackServer, inspector: Inspector, api_log: list[ApiCall], *, jobs_hook: bool
) -> dict[str, Any]:
    """Everything the page renders, in one JSON-ready dict."""
    ws = slack.workspace
    users = [
        {
            "id": u.id,
            "name": u.name,
            "real_name": u.real_name or u.name,
            "title": u.title,
            "is_bot": u.is_bot,
        }
        for u in ws.users.values()
    ]
    channels = [
        {
            "id": c.id,
            "name": c.name,
            "label": c.label,
            "is_im": c.is_im,
            "is_mpim": c.is_mpim,
            "is_private": c.is_private,
            "members": sorted(c.members),
        }
        for c in ws.channels.values()
        if BOT_USER_ID in c.members
    ]
    messages = [message_json(m, ws.files) for m in ws.all_messages()]
    views = [
        {
            "id": v.id,
            "user": v.user,
            "hash": v.hash,
            "root": v.root_view_id or v.id,
            "view": v.view,
            "errors": inspector.view_errors.get(v.id, {}),
        }
        for v in ws.views.values()
        if not v.closed
    ]
    calls = [
        {"method": c.method, "params": c.params, "status": c.status, "error": c.error}
        for c in api_log[-INSPECTOR_SIZE:]
    ]
    return {
        "seq": ws.seq,
        "bot_user": BOT_USER_ID,
        "users": users,
        "channels": channels,
        "messages": messages,
        "views": views,
        "api_calls": calls,
        "deliveries": list(inspector.deliveries),
        "jobs_hook": jobs_hook,
    }
