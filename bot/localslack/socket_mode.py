"""The Socket Mode side: the WebSocket the bot connects to and envelope/ack bookkeeping.

The flow is Slack's: the app calls apps.connections.open with its app token, gets a one-off
`ws://.../socket?ticket=...` URL, connects, receives `hello`, then receives envelopes and must
answer each with `{"envelope_id": ...}` (plus an optional `payload`) within 3 seconds.
"""

from __future__ import annotations

import asyncio
import json
import logging
import secrets
import time
from typing import Any

from aiohttp import WSMsgType, web

from .models import APP_ID, AckResult

log = logging.getLogger(__name__)


class SocketHub:
    def __init__(self) -> None:
        self.tickets: set[str] = set()
        self.connections: list[web.WebSocketResponse] = []
        self.pending: dict[str, asyncio.Future[dict[str, Any]]] = {}
        self.connected = asyncio.Condition()
        self.envelopes_sent = 0

    def issue_url(self, base_url: str) -> str:
        ticket = secrets.token_hex(8)
        self.tickets.add(ticket)
        return base_url.replace("http://", "ws://", 1) + f"/socket?ticket={ticket}"

    async def handle(self, request: web.Request) -> web.StreamResponse:
        """GET /socket?ticket=...: one Socket Mode connection, alive until either side closes."""
        ticket = request.query.get("ticket", "")
        if ticket not in self.tickets:
            return web.Response(status=401, text="invalid or missing ticket")
        # Tickets stay valid: slack_sdk's SocketModeClient retries a failed connect with the
        # same URL, and a stale-but-issued URL is harmless on a local stand-in.
        ws = web.WebSocketResponse(autoping=True)
        await ws.prepare(request)
        async with self.connected:
            self.connections.append(ws)
            self.connected.notify_all()
        try:
            await ws.send_json(
                {
                    "type": "hello",
                    "num_connections": len(self.connections),
                    "debug_info": {"host": "localslack", "approximate_connection_time": 3600},
                    "connection_info": {"app_id": APP_ID},
                }
            )
            async for msg in ws:
                if msg.type == WSMsgType.TEXT:
                    self._on_text(msg.data)
        finally:
            async with self.connected:
                if ws in self.connections:
                    self.connections.remove(ws)
                self.connected.notify_all()
        return ws

    def _on_text(self, data: str) -> None:
        try:
            ack = json.loads(data)
        except json.JSONDecodeError:
            log.warning("localslack: non-JSON Socket Mode message %r", data[:200])
            return
        future = self.pending.get(ack.get("envelope_id", "")) if isinstance(ack, dict) else None
        if future is None:
            log.warning("localslack: ack for unknown envelope %r", data[:200])
        elif not future.done():
            future.set_result(ack)

    async def wait_connected(self, timeout: float) -> web.WebSocketResponse | None:
        """The newest open connection, waiting up to `timeout` for one (covers start-up races)."""

        def newest() -> web.WebSocketResponse | None:
            live = [ws for ws in self.connections if not ws.closed]
            return live[-1] if live else None

        async with self.connected:
            try:
                await asyncio.wait_for(
                    self.connected.wait_for(lambda: newest() is not None), timeout
                )
            except TimeoutError:
                return None
            return newest()

    async def send(self, kind: str, payload: dict[str, Any], timeout: float) -> AckResult:
        started = time.perf_counter()
        envelope_id = secrets.token_hex(16)
        envelope = {
            "envelope_id": envelope_id,
            "type": kind,
            "payload": payload,
            # Slack lets apps answer slash commands and interactions inline, not events.
            "accepts_response_payload": kind != "events_api",
            "retry_attempt": 0,
            "retry_reason": "",
        }
        ws = await self.wait_connected(timeout)
        if ws is None:
            return AckResult(
                0,
                timed_out=True,
                request=payload,
                envelope_id=envelope_id,
                error="no_socket_connection",
            )
        future: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        self.pending[envelope_id] = future
        try:
            await ws.send_str(json.dumps(envelope))
            self.envelopes_sent += 1
            remaining = max(0.0, timeout - (time.perf_counter() - started))
            ack = await asyncio.wait_for(future, remaining)
        except TimeoutError:
            latency = (time.perf_counter() - started) * 1000
            return AckResult(
                0,
                timed_out=True,
                latency_ms=latency,
                request=payload,
                envelope_id=envelope_id,
                error="operation_timeout",
            )
        finally:
            self.pending.pop(envelope_id, None)
        latency = (time.perf_counter() - started) * 1000
        body = ack.get("payload")
        return AckResult(
            200,
            body=json.dumps(body) if body is not None else "",
            payload=body if isinstance(body, dict) else None,
            latency_ms=latency,
            request=payload,
            envelope_id=envelope_id,
        )

    async def close(self) -> None:
        for ws in list(self.connections):
            await ws.close(code=1001, message=b"localslack stopping")
        for future in self.pending.values():
            future.cancel()
