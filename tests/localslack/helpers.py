"""Test helpers: a tiny signed-request receiver (the bot's side of HTTP mode) and blocks.

The receiver plays the bot's HTTP endpoint the way bolt-python's own tests fake the other
side: it verifies every request with slack_sdk's SignatureVerifier, records what arrived and
acks with whatever the test configured.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl

from aiohttp import web
from slack_sdk.signature import SignatureVerifier

SECRET = "local-secret"


@dataclass
class Received:
    kind: str  # "slash_commands" | "interactive" | "events_api"
    payload: dict[str, Any]
    headers: dict[str, str]
    body: bytes = field(repr=False, default=b"")


Responder = Callable[[Received], Awaitable[web.StreamResponse]]


class Receiver:
    def __init__(self, secret: str = SECRET) -> None:
        self.verifier = SignatureVerifier(secret)
        self.received: list[Received] = []
        self.rejected = 0
        self.respond: Responder | None = None
        self._cond = asyncio.Condition()
        self._runner: web.AppRunner | None = None
        self.url = ""

    async def start(self) -> None:
        app = web.Application()
        app.router.add_post("/slack/events", self._handle)
        self._runner = web.AppRunner(app, access_log=None, shutdown_timeout=0.5)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        host, port = self._runner.addresses[0][:2]
        self.url = f"http://{host}:{port}/slack/events"

    async def stop(self) -> None:
        if self._runner:
            await self._runner.cleanup()

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        raw = await request.read()
        headers = dict(request.headers)
        if not self.verifier.is_valid_request(raw.decode(), headers):
            self.rejected += 1
            return web.Response(status=401, text="invalid signature")
        if request.content_type == "application/json":
            kind, payload = "events_api", json.loads(raw)
        else:
            form = dict(parse_qsl(raw.decode(), keep_blank_values=True))
            if "payload" in form:
                kind, payload = "interactive", json.loads(form["payload"])
            else:
                kind, payload = "slash_commands", form
        received = Received(kind, payload, headers, raw)
        async with self._cond:
            self.received.append(received)
            self._cond.notify_all()
        if self.respond is not None:
            return await self.respond(received)
        return web.Response(status=200)

    async def wait_for(self, kind: str, timeout: float = 5.0) -> Received:
        async with self._cond:
            await asyncio.wait_for(
                self._cond.wait_for(lambda: any(r.kind == kind for r in self.received)), timeout
            )
            return next(r for r in self.received if r.kind == kind)


def buttons_blocks(*labels: str, text: str = "Deploy v7?") -> list[dict[str, Any]]:
    """A section plus one actions block with a button per label (action_id = lowercased label)."""
    return [
        {"type": "section", "text": {"type": "mrkdwn", "text": text}},
        {
            "type": "actions",
            "elements": [
                {
                    "type": "button",
                    "action_id": label.lower(),
                    "text": {"type": "plain_text", "text": label},
                    "value": f"{label.lower()}-value",
                }
                for label in labels
            ],
        },
    ]
