"""The workspace state and the one place every change goes through (`commit`).

`commit` bumps a sequence number, tells subscribers (the shell) and wakes everything waiting
on the condition (`wait_for`). Because subscribers run before waiters wake, anything a
subscriber prints is already on screen when a test's `wait_for` returns.
"""

from __future__ import annotations

import asyncio
import heapq
import inspect
import logging
import time
from collections.abc import Awaitable, Callable, Iterator
from typing import Any

from .api_errors import ApiError
from .models import BOT_ID, BOT_USER_ID, Change, Channel, Message, Revision, StoredFile, User, View

log = logging.getLogger(__name__)

Subscriber = Callable[[Message, Change], Awaitable[None] | None]

SEED_USERS = [
    User(BOT_USER_ID, "oncall-bot", "Oncall Bot", is_bot=True),
    User("U0ADMIN", "alice", "Alice Admin", is_admin=True, title="admin"),
    User("U0ONCALL", "bob", "Bob Oncall", title="oncall"),
    User("U0VIEWER", "carol", "Carol Viewer", title="viewer"),
]
SEED_CHANNELS = {
    "C0ONCALL": "oncall",
    "C0INCIDENTS": "incidents",
    "C0STAKEHOLDERS": "ml-stakeholders",
    "C0GENERAL": "general",
}


class Workspace:
    def __init__(self) -> None:
        self.users: dict[str, User] = {u.id: u for u in SEED_USERS}
        self.channels: dict[str, Channel] = {}
        for cid, name in SEED_CHANNELS.items():
            self.channels[cid] = Channel(cid, name, members={*self.users})
        # Every message ever posted (top-level, replies, DMs), in posting order.
        self.log: list[Message] = []
        self.ephemeral_log: list[Message] = []
        # ts is unique across the workspace (next_ts never repeats), so it is the lookup key.
        self._by_ts: dict[str, Message] = {}
        self.views: dict[str, View] = {}
        self.home_views: dict[str, View] = {}
        self.files: dict[str, StoredFile] = {}
        self.seq = 0
        self.cond = asyncio.Condition()
        self._subscribers: list[Subscriber] = []
        self._last_ts = 0
        self._counter = 0

    # --- ids ------------------------------------------------------------------------------
    def next_ts(self) -> str:
        """A Slack-style "seconds.micros" ts, strictly increasing even within one microsecond."""
        now = int(time.time() * 1_000_000)
        self._last_ts = max(now, self._last_ts + 1)
        return f"{self._last_ts // 1_000_000}.{self._last_ts % 1_000_000:06d}"

    def next_id(self, prefix: str) -> str:
        self._counter += 1
        return f"{prefix}{self._counter:06d}"

    # --- users and channels -----------------------------------------------------------------
    def add_user(self, user_id: str, name: str, **fields: Any) -> User:
        user = User(user_id, name, **fields)
        self.users[user_id] = user
        for channel in self.channels.values():
            if not (channel.is_im or channel.is_mpim or channel.is_private):
                channel.members.add(user_id)
        return user

    def add_channel(
        self, name: str, channel_id: str | None = None, *, private: bool = False
    ) -> Channel:
        name = name.lstrip("#")
        if name in {c.name for c in self.channels.values()}:
            raise ValueError(f"channel #{name} already exists")
        cid = channel_id or "C0" + name.upper().replace("-", "").replace("_", "")[:10]
        if cid in self.channels:
            cid = self.next_id("C")
        members = {BOT_USER_ID} if private else {*self.users}
        channel = Channel(cid, name, is_private=private, members=members)
        self.channels[cid] = channel
        return channel

    def user(self, ref: str) -> User:
        """A user by id, name or @name."""
        ref = ref.lstrip("@")
        if ref in self.users:
            return self.users[ref]
        for user in self.users.values():
            if user.name == ref:
                return user
        raise KeyError(f"no user {ref!r}; known: {', '.join(u.name for u in self.users.values())}")

    def find_channel(self, ref: str) -> Channel | None:
        """A channel by id, name or #name; a user id means the bot's DM with that user."""
        if ref in self.channels:
            return self.channels[ref]
        if ref in self.users and ref != BOT_USER_ID:
            return self.open_dm([ref])
        name = ref.lstrip("#")
        return next((c for c in self.channels.values() if c.name == name), None)

    def channel(self, ref: str) -> Channel:
        found = self.find_channel(ref)
        if found is None:
            raise ApiError("channel_not_found")
        return found

    def open_dm(self, user_ids: list[str]) -> Channel:
        """The IM (one user) or MPIM (several) between the bot and these users; stable ids."""
        humans = sorted(set(user_ids) - {BOT_USER_ID})
        for uid in humans:
            if uid not in self.users:
                raise ApiError("user_not_found")
        if not humans:
            raise ApiError("invalid_arguments")
        if len(humans) == 1:
            cid = "D" + humans[0][1:]
            if cid not in self.channels:
                self.channels[cid] = Channel(
                    cid, self.users[humans[0]].name, is_im=True, members={BOT_USER_ID, humans[0]}
                )
            return self.channels[cid]
        members = {BOT_USER_ID, *humans}
        for channel in self.channels.values():
            if channel.is_mpim and channel.members == members:
                return channel
        names = "--".join(self.users[u].name for u in humans)
        cid = self.next_id("G")
        self.channels[cid] = Channel(cid, f"mpdm-{names}-1", is_mpim=True, members=members)
        return self.channels[cid]

    # --- messages ---------------------------------------------------------------------------
    def all_messages(self) -> Iterator[Message]:
        """Every live message including ephemerals, in the order they were created."""
        # Both logs are already in ts order (ts only grows), so a merge avoids re-sorting on
        # every wake-up of every waiter.
        merged = heapq.merge(self.log, self.ephemeral_log, key=lambda m: m.ts)
        return (m for m in merged if not m.deleted)

    def find_message(self, channel_id: str, ts: str) -> Message | None:
        """A live channel message (not an ephemeral) by channel and ts."""
        message = self._by_ts.get(ts)
        if message is None or message.deleted or message.ephemeral or message.channel != channel_id:
            return None
        return message

    def find_any(self, ts: str) -> Message | None:
        """A channel message or an ephemeral by ts alone (for clicks and the shell)."""
        message = self._by_ts.get(ts)
        return None if message is None or message.deleted else message

    def top_level(self, channel_id: str) -> list[Message]:
        return [
            m
            for m in self.log
            if m.channel == channel_id and not m.deleted and (not m.is_reply or m.reply_broadcast)
        ]

    def replies(self, channel_id: str, thread_ts: str) -> list[Message]:
        return [
            m
            for m in self.log
            if m.channel == channel_id and m.thread_ts == thread_ts and m.is_reply and not m.deleted
        ]

    def new_message(self, channel: Channel, user: str, **fields: Any) -> Message:
        thread_ts = fields.pop("thread_ts", None)
        if thread_ts:
            parent = self.find_message(channel.id, thread_ts)
            if parent is None:
                raise ApiError("thread_not_found")
            # A reply to a reply belongs to the parent's thread, as in Slack.
            thread_ts = parent.thread_ts or parent.ts
        message = Message(
            ts=self.next_ts(),
            channel=channel.id,
            user=user,
            thread_ts=thread_ts,
            bot_id=BOT_ID if user == BOT_USER_ID else None,
            **fields,
        )
        if message.ephemeral:
            self.ephemeral_log.append(message)
        else:
            self.log.append(message)
        self._by_ts[message.ts] = message
        return message

    def edit(
        self,
        message: Message,
        text: str,
        blocks: list[dict[str, Any]],
        attachments: list[dict[str, Any]],
    ) -> None:
        """Replace a message's content, keeping the old version in `history`."""
        previous = Revision(message.text, message.blocks, message.attachments, self.next_ts())
        message.history.append(previous)
        message.text, message.blocks, message.attachments = text, blocks, attachments

    # --- change notification ----------------------------------------------------------------
    def subscribe(self, callback: Subscriber) -> Callable[[], None]:
        self._subscribers.append(callback)
        return lambda: self._subscribers.remove(callback) if callback in self._subscribers else None

    async def commit(self, message: Message | None = None, change: Change = "new") -> None:
        """Record that state changed: bump seq, run subscribers, wake waiters."""
        self.seq += 1
        if message is not None:
            message.seq = self.seq
            for callback in list(self._subscribers):
                try:
                    result = callback(message, change)
                    if inspect.isawaitable(result):
                        await result
                except Exception:  # a broken observer must not fail the API call
                    log.exception("localslack subscriber failed")
        async with self.cond:
            self.cond.notify_all()
