"""Delivering user actions to the bot: signed HTTP requests or Socket Mode envelopes.

HTTP bodies are encoded exactly as Slack sends them (slash commands as a plain form,
interactivity as a form with one `payload` JSON field, events as JSON), and signed with
`v0=HMAC-SHA256(secret, "v0:{timestamp}:{body}")`, so the bot's real signature verification
runs in every local session.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from typing import Any, Literal
from urllib.parse import urlencode

import aiohttp

from .models import AckResult
from .socket_mode import SocketHub

Kind = Literal["slash_commands", "interactive", "events_api"]


def sign(secret: str, timestamp: str, body: bytes) -> str:
    base = b"v0:" + timestamp.encode() + b":" + body
    return "v0=" + hmac.new(secret.encode(), base, hashlib.sha256).hexdigest()


def encode(kind: Kind, payload: dict[str, Any]) -> tuple[bytes, str]:
    """(body, content type) of one delivery in HTTP mode."""
    if kind == "slash_commands":
        return urlencode(payload).encode(), "application/x-www-form-urlencoded"
    if kind == "interactive":
        return urlencode(
            {"payload": json.dumps(payload)}
        ).encode(), "application/x-www-form-urlencoded"
    return json.dumps(payload).encode(), "application/json"


class Deliverer:
    def __init__(
        self,
        *,
        signing_secret: str,
        request_url: str | None,
        socket: SocketHub,
        ack_timeout: float,
    ) -> None:
        self.signing_secret = signing_secret
        self.request_url = request_url
        self.socket = socket
        self.ack_timeout = ack_timeout
        self._session: aiohttp.ClientSession | None = None

    @property
    def mode(self) -> Literal["http", "socket"]:
        return "http" if self.request_url else "socket"

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    def signed_headers(
        self, body: bytes, content_type: str, timestamp: int | None = None
    ) -> dict[str, str]:
        ts = str(int(time.time()) if timestamp is None else timestamp)
        return {
            "Content-Type": content_type,
            "X-Slack-Request-Timestamp": ts,
            "X-Slack-Signature": sign(self.signing_secret, ts, body),
            "User-Agent": "Slackbot 1.0 (+https://api.slack.com/robots)",
        }

    async def deliver(self, kind: Kind, payload: dict[str, Any]) -> AckResult:
        if self.request_url is None:
            return await self.socket.send(kind, payload, self.ack_timeout)
        body, content_type = encode(kind, payload)
        result = await self.deliver_raw(body, self.signed_headers(body, content_type))
        result.request = payload
        return result

    async def deliver_raw(self, body: bytes, headers: dict[str, str]) -> AckResult:
        """POST exactly these bytes and headers to the bot (for forged/replayed requests)."""
        if self.request_url is None:
            raise RuntimeError("deliver_raw needs HTTP delivery: LocalSlack(request_url=...)")
        if self._session is None:
            self._session = aiohttp.ClientSession()
        started = time.perf_counter()
        timeout = aiohttp.ClientTimeout(total=self.ack_timeout)
        try:
            async with self._session.post(
                self.request_url, data=body, headers=headers, timeout=timeout
            ) as response:
                text = await response.text()
                status = response.status
                is_json = response.content_type == "application/json"
        except TimeoutError:
            latency = (time.perf_counter() - started) * 1000
            return AckResult(0, latency_ms=latency, timed_out=True, error="operation_timeout")
        except aiohttp.ClientError as exc:
            # What Slack shows the user when the app cannot be reached at all.
            latency = (time.perf_counter() - started) * 1000
            return AckResult(0, latency_ms=latency, error=f"dispatch_failed: {exc}")
        latency = (time.perf_counter() - started) * 1000
        payload: dict[str, Any] | None = None
        if text and (is_json or text.lstrip().startswith("{")):
            try:
                decoded = json.loads(text)
                payload = decoded if isinstance(decoded, dict) else None
            except json.JSONDecodeError:
                payload = None
        if payload is None and text and status == 200:
            # Slack treats a plain-text 200 body as the message text.
            payload = {"text": text}
        return AckResult(status, body=text, payload=payload, latency_ms=latency)
