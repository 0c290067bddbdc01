"""The Web API router: POST /api/<method> -> auth, faults, rate limits, then the handler.

Order matters and mirrors Slack: an unknown method is reported before auth, auth before
rate limiting, and injected faults/rate limits before the handler runs so a rejected call
never changes state.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from typing import Any

from aiohttp import web

# Importing the method modules registers their handlers in METHODS.
from . import methods_chat, methods_conversations, methods_views_files, scopes  # noqa: F401
from .api_errors import ApiError
from .methods import METHODS, Params, TokenType
from .server import SlackServer

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ApiCall:
    """One received Web API request and how it was answered (for benchmarks and debugging)."""

    method: str
    params: dict[str, Any]
    status: int
    error: str | None


async def _read_params(request: web.Request) -> dict[str, Any]:
    """Query string and body merged; the body wins, as in Slack."""
    params: dict[str, Any] = dict(request.query)
    if not request.can_read_body:
        return params
    content_type = request.content_type
    if content_type == "application/json":
        try:
            body = json.loads(await request.text() or "{}")
        except json.JSONDecodeError:
            raise ApiError("invalid_json") from None
        if not isinstance(body, dict):
            raise ApiError("invalid_json")
        params.update(body)
    elif content_type in ("application/x-www-form-urlencoded", "multipart/form-data"):
        form = await request.post()
        params.update({k: v for k, v in form.items() if isinstance(v, str)})
    return params


class WebApi:
    def __init__(self, slack: SlackServer) -> None:
        self.slack = slack
        self.log: list[ApiCall] = []

    def _token_type(self, request: web.Request, params: dict[str, Any]) -> TokenType:
        header = request.headers.get("Authorization", "")
        token = header[7:].strip() if header.lower().startswith("bearer ") else None
        token = token or params.get("token")
        if not token:
            raise ApiError("not_authed")
        if token == self.slack.bot_token:
            return "bot"
        if token == self.slack.app_token:
            return "app"
        raise ApiError("invalid_auth")

    async def handle(self, request: web.Request) -> web.Response:
        name = request.match_info["method"]
        params: dict[str, Any] = {}
        try:
            params = await _read_params(request)
            spec = METHODS.get(name)
            if spec is None:
                raise ApiError("unknown_method", status=404, req_method=name)
            token = self._token_type(request, params)
            if token != spec.token:
                raise ApiError("not_allowed_token_type")
            if token == "bot":
                scopes.check(self.slack, name, Params(params), self.slack.bot_scopes)
            self.slack.faults.check(name)
            self.slack.limiter.check(name)
            result = await spec.handler(self.slack, Params(params))
            status, body, headers = 200, {"ok": True, **result}, {}
        except ApiError as exc:
            status, body, headers = exc.status, exc.body(), exc.headers
        except Exception:  # a bug here must look like a Slack 500, not hang the client
            log.exception("localslack: %s failed", name)
            status, body, headers = 500, {"ok": False, "error": "internal_error"}, {}
        await self._record(name, params, status, body)
        return web.json_response(body, status=status, headers=headers)

    async def _record(
        self, name: str, params: dict[str, Any], status: int, body: dict[str, Any]
    ) -> None:
        visible = {k: v for k, v in params.items() if k != "token"}
        self.slack.calls.append((name, visible))
        self.log.append(
            ApiCall(name, visible, status, None if body.get("ok") else body.get("error"))
        )
        await self.slack.workspace.commit()
