"""trigger_ids and response_urls: the short-lived handles Slack gives an app per interaction.

Slack's limits are enforced because they are where real bots break: a trigger_id is only good
for 3 seconds (views.open after a slow handler fails with expired_trigger_id), and a
response_url works at most 5 times within 30 minutes. Beyond those, the URL answers HTTP 404
with `{"ok": false, "error": "used_url" | "expired_url"}`; an id never issued answers 404
`no_such_url`.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from .api_errors import ApiError
from .blocks import validate_content
from .models import BOT_USER_ID, Message
from .workspace import Workspace


@dataclass
class ResponseTarget:
    """Where a response to one interaction goes (an ack body or a response_url post)."""

    user: str
    channel: str
    # The message a button was clicked on; None for slash commands.
    source: Message | None = None
    # The last message this target posted, so slash-command responses can replace it.
    last_posted: Message | None = None


@dataclass
class ResponseUrl(ResponseTarget):
    id: str = ""
    created: float = 0.0
    uses: int = 0
    history: list[dict[str, Any]] = field(default_factory=list)


class Interactions:
    def __init__(
        self,
        workspace: Workspace,
        *,
        clock: Callable[[], float] = time.monotonic,
        trigger_ttl: float = 3.0,
        response_url_ttl: float = 1800.0,
        response_url_uses: int = 5,
    ) -> None:
        self.workspace = workspace
        self.clock = clock
        self.trigger_ttl = trigger_ttl
        self.response_url_ttl = response_url_ttl
        self.response_url_uses = response_url_uses
        self.triggers: dict[str, tuple[str, float]] = {}
        self.response_urls: dict[str, ResponseUrl] = {}

    # --- trigger ids --------------------------------------------------------------------------
    def new_trigger(self, user: str) -> str:
        trigger_id = f"{self.workspace.next_id('')}.{self.workspace.next_id('')}.local"
        self.triggers[trigger_id] = (user, self.clock())
        return trigger_id

    def use_trigger(self, trigger_id: str | None) -> str:
        """The user a trigger_id was issued for; raises Slack's errors for bad ones."""
        if not trigger_id or trigger_id not in self.triggers:
            raise ApiError("invalid_trigger_id")
        user, issued = self.triggers[trigger_id]
        if self.clock() - issued > self.trigger_ttl:
            raise ApiError("expired_trigger_id")
        return user

    # --- response urls --------------------------------------------------------------------------
    def new_response_url(self, user: str, channel: str, source: Message | None) -> ResponseUrl:
        rid = self.workspace.next_id("R")
        url = ResponseUrl(user=user, channel=channel, source=source, id=rid, created=self.clock())
        self.response_urls[rid] = url
        return url

    async def apply(self, target: ResponseTarget, body: dict[str, Any]) -> Message | None:
        """Do what a response body asks: delete/replace the original or post a new message."""
        ws = self.workspace
        original = target.source or target.last_posted
        if body.get("delete_original"):
            if original is None:
                raise ApiError("message_not_found", status=404)
            original.deleted = True
            await ws.commit(original, "deleted")
            return None
        text, blocks, attachments = validate_content(
            body.get("text"), body.get("blocks"), body.get("attachments"), seed=ws.next_ts()
        )
        if body.get("replace_original") and original is not None:
            ws.edit(original, text, blocks, attachments)
            await ws.commit(original, "edited")
            return original
        channel = ws.channel(target.channel)
        in_channel = body.get("response_type") == "in_channel"
        message = ws.new_message(
            channel,
            BOT_USER_ID,
            text=text,
            blocks=blocks,
            attachments=attachments,
            thread_ts=body.get("thread_ts"),
            ephemeral=not in_channel,
            visible_to=None if in_channel else target.user,
        )
        target.last_posted = message
        await ws.commit(message, "new")
        return message

    async def handle_http(self, request: web.Request) -> web.Response:
        """POST /response/{id}: the response_url endpoint."""
        url = self.response_urls.get(request.match_info["id"])
        if url is None:
            return web.json_response({"ok": False, "error": "no_such_url"}, status=404)
        if self.clock() - url.created > self.response_url_ttl:
            return web.json_response({"ok": False, "error": "expired_url"}, status=404)
        if url.uses >= self.response_url_uses:
            return web.json_response({"ok": False, "error": "used_url"}, status=404)
        try:
            body = json.loads(await request.text() or "{}")
            if not isinstance(body, dict):
                raise ValueError("not an object")
        except ValueError:
            return web.json_response({"ok": False, "error": "invalid_payload"}, status=400)
        url.uses += 1
        url.history.append(body)
        try:
            await self.apply(url, body)
        except ApiError as exc:
            return web.json_response(exc.body(), status=exc.status if exc.status != 200 else 400)
        return web.json_response({"ok": True})
