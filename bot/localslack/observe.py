"""Waiting for the bot: condition-based waits over messages and Web API calls.

Every state change goes through `Workspace.commit`, which notifies one asyncio.Condition;
waits re-check their predicate on each notification, so they return as soon as the bot acts
and need no polling or sleeps.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

from .models import Message
from .workspace import Workspace


def describe(ws: Workspace, message: Message) -> str:
    """One line per message for failure output: where, who, what."""
    channel = ws.channels.get(message.channel)
    where = channel.label if channel else message.channel
    who = ws.users[message.user].name if message.user in ws.users else message.user
    flags = []
    if message.is_reply:
        flags.append(f"thread {message.thread_ts}")
    if message.ephemeral:
        flags.append(f"ephemeral to {message.visible_to}")
    if message.edited:
        flags.append("edited")
    extra = f" ({', '.join(flags)})" if flags else ""
    text = message.plain().replace("\n", " | ")
    return f"  {where} {message.ts} {who}{extra}: {text[:160]}"


async def wait_until(ws: Workspace, check: Callable[[], Any], timeout: float) -> Any:
    """Return check()'s first truthy value, re-evaluated on every commit; None on timeout."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    async with ws.cond:
        while True:
            found = check()
            if found:
                return found
            remaining = deadline - loop.time()
            if remaining <= 0:
                return None
            try:
                await asyncio.wait_for(ws.cond.wait(), remaining)
            except TimeoutError:
                continue


async def wait_for_message(
    ws: Workspace,
    predicate: Callable[[Message], bool],
    *,
    timeout: float,
    since: int | None,
    what: str,
) -> Message:
    def check() -> Message | None:
        for message in ws.all_messages():
            if (since is None or message.seq > since) and predicate(message):
                return message
        return None

    found = await wait_until(ws, check, timeout)
    if found is None:
        recent = [describe(ws, m) for m in list(ws.all_messages())[-15:]]
        listing = "\n".join(recent) if recent else "  (no messages at all)"
        raise AssertionError(
            f"no message matched {what} within {timeout}s; recent messages:\n{listing}"
        )
    return found


def text_predicate(
    ws: Workspace,
    needle: str,
    *,
    channel: str | None,
    thread_ts: str | None,
    user: str | None,
) -> Callable[[Message], bool]:
    channel_id = ws.channel(channel).id if channel else None
    user_id = ws.user(user).id if user else None

    def predicate(message: Message) -> bool:
        if channel_id and message.channel != channel_id:
            return False
        if thread_ts and message.thread_ts != thread_ts:
            return False
        if user_id and user_id not in (message.user, message.visible_to):
            return False
        return needle in message.text or needle in message.plain()

    return predicate
