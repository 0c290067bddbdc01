"""Plain data the stand-in keeps: users, channels, messages, views, files and ack results.

Messages are mutable on purpose: an edit changes the one object tests already hold, and the
previous version goes into `history`, so `wait_for` sees edits without re-querying.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

from . import render

TEAM_ID = "T0LOCAL"
TEAM_DOMAIN = "local"
APP_ID = "A0LOCAL"
BOT_USER_ID = "U0BOT"
BOT_ID = "B0BOT"

Change = Literal["new", "edited", "deleted", "reaction"]
"""What happened to a message; passed to `LocalSlack.subscribe` callbacks."""


@dataclass
class User:
    id: str
    name: str
    real_name: str = ""
    is_admin: bool = False
    is_bot: bool = False
    title: str = ""

    def to_api(self, team_id: str) -> dict[str, Any]:
        """The users.info / users.list shape (trimmed to the fields bots read)."""
        display = self.real_name or self.name
        return {
            "id": self.id,
            "team_id": team_id,
            "name": self.name,
            "deleted": False,
            "real_name": display,
            "tz": "Etc/UTC",
            "tz_offset": 0,
            "is_admin": self.is_admin,
            "is_owner": False,
            "is_bot": self.is_bot,
            "is_app_user": False,
            "profile": {
                "real_name": display,
                "display_name": self.name,
                "title": self.title,
                "email": f"{self.name}@local.test" if not self.is_bot else None,
                "team": team_id,
            },
        }


@dataclass
class Channel:
    id: str
    name: str
    is_im: bool = False
    is_mpim: bool = False
    is_private: bool = False
    members: set[str] = field(default_factory=set)
    created: int = 1_700_000_000
    topic: str = ""

    @property
    def channel_type(self) -> str:
        """The `channel_type` field message events carry."""
        if self.is_im:
            return "im"
        if self.is_mpim:
            return "mpim"
        return "group" if self.is_private else "channel"

    @property
    def label(self) -> str:
        return self.name if self.is_im or self.is_mpim else f"#{self.name}"

    def to_api(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "id": self.id,
            "created": self.created,
            "is_archived": False,
            "is_im": self.is_im,
            "is_mpim": self.is_mpim,
            "is_private": self.is_private or self.is_im or self.is_mpim,
            "is_channel": not (self.is_im or self.is_mpim or self.is_private),
            "is_group": self.is_private,
            "is_member": BOT_USER_ID in self.members,
        }
        if self.is_im:
            data["user"] = next(iter(sorted(self.members - {BOT_USER_ID})), None)
        else:
            data.update(
                name=self.name,
                name_normalized=self.name,
                num_members=len(self.members),
                topic={"value": self.topic, "creator": "", "last_set": 0},
                purpose={"value": "", "creator": "", "last_set": 0},
            )
        return data


@dataclass(frozen=True)
class Revision:
    """One earlier version of an edited message."""

    text: str
    blocks: list[dict[str, Any]]
    attachments: list[dict[str, Any]]
    replaced_at: str  # ts of the edit that replaced this version


@dataclass
class Message:
    ts: str
    channel: str
    user: str
    text: str = ""
    blocks: list[dict[str, Any]] = field(default_factory=list)
    attachments: list[dict[str, Any]] = field(default_factory=list)
    thread_ts: str | None = None
    reply_broadcast: bool = False
    ephemeral: bool = False
    # For ephemerals: the only user who sees it.
    visible_to: str | None = None
    bot_id: str | None = None
    username: str | None = None
    history: list[Revision] = field(default_factory=list)
    reactions: dict[str, list[str]] = field(default_factory=dict)
    files: list[dict[str, Any]] = field(default_factory=list)
    metadata: dict[str, Any] | None = None
    deleted: bool = False
    # Bumped on every change; `LocalSlack.wait_for(since=...)` compares against it.
    seq: int = 0

    @property
    def edited(self) -> bool:
        return bool(self.history)

    @property
    def is_reply(self) -> bool:
        return self.thread_ts is not None and self.thread_ts != self.ts

    @property
    def buttons(self) -> list[tuple[str, str, str | None]]:
        """(action_id, text, value) of every button, in the order `click(index=N)` counts them."""
        return [(b.action_id, b.text, b.value) for b in render.find_buttons(self.blocks)]

    def plain(self) -> str:
        """Readable text of the message: blocks rendered, falling back to `text`."""
        return render.plain(self.text, self.blocks, self.attachments)

    def to_api(self, team_id: str = TEAM_ID) -> dict[str, Any]:
        """The message object Slack returns from chat.* and conversations.history."""
        data: dict[str, Any] = {
            "type": "message",
            "ts": self.ts,
            "user": self.user,
            "text": self.text,
            "team": team_id,
        }
        if self.blocks:
            data["blocks"] = self.blocks
        if self.attachments:
            data["attachments"] = self.attachments
        if self.bot_id:
            data["bot_id"] = self.bot_id
            data["app_id"] = APP_ID
        if self.username:
            data["username"] = self.username
        if self.thread_ts:
            data["thread_ts"] = self.thread_ts
        if self.reply_broadcast:
            data["subtype"] = "thread_broadcast"
        if self.files:
            data["files"] = self.files
            data["upload"] = False
        if self.metadata:
            data["metadata"] = self.metadata
        if self.history:
            data["edited"] = {"user": self.user, "ts": self.history[-1].replaced_at}
        if self.reactions:
            data["reactions"] = [
                {"name": name, "users": list(users), "count": len(users)}
                for name, users in self.reactions.items()
            ]
        return data


@dataclass
class View:
    id: str
    user: str
    view: dict[str, Any]
    trigger_id: str | None = None
    # Stack of modals: views.push adds on top of a root view; closing pops.
    root_view_id: str | None = None
    closed: bool = False
    hash: str = ""

    def to_api(self, team_id: str = TEAM_ID) -> dict[str, Any]:
        data = dict(self.view)
        data.update(
            id=self.id,
            team_id=team_id,
            app_id=APP_ID,
            bot_id=BOT_ID,
            hash=self.hash,
            root_view_id=self.root_view_id or self.id,
            previous_view_id=None,
            state=data.get("state") or {"values": {}},
            private_metadata=data.get("private_metadata", ""),
            callback_id=data.get("callback_id", ""),
            external_id=data.get("external_id", ""),
        )
        return data


@dataclass
class StoredFile:
    id: str
    filename: str
    length: int
    title: str = ""
    content: bytes | None = None
    completed: bool = False

    def to_api(self, base_url: str) -> dict[str, Any]:
        return {
            "id": self.id,
            "name": self.filename,
            "title": self.title or self.filename,
            "mimetype": "application/octet-stream",
            "filetype": self.filename.rsplit(".", 1)[-1] if "." in self.filename else "binary",
            "size": len(self.content or b""),
            "url_private": f"{base_url}/files/{self.id}/{self.filename}",
            "permalink": f"{base_url}/files/{self.id}/{self.filename}",
        }


@dataclass
class AckResult:
    """How the bot answered one delivered request, as Slack would see it.

    `status` is the HTTP status (200 for a Socket Mode ack, 0 if nothing came back in time),
    `payload` the acked JSON body if any, `request` the payload that was delivered.
    """

    status: int
    body: str = ""
    payload: dict[str, Any] | None = None
    latency_ms: float = 0.0
    timed_out: bool = False
    request: dict[str, Any] = field(default_factory=dict)
    envelope_id: str | None = None
    error: str | None = None

    @property
    def ok(self) -> bool:
        return not self.timed_out and self.status == 200
