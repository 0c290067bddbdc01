"""The web workspace: a browser page on the stand-in's own port that shows what Slack would show.

Routes (beside the Web API, on the same aiohttp app):
  GET  /                 the page (browsers); the JSON summary for everything else
  GET  /web/static/...   its plain HTML/CSS/JS (bot/localslack/web/, no build step, no CDN)
  GET  /web/state        the workspace snapshot the page renders (webstate.py)
  GET  /web/events       server-sent events: one `change` per commit, so the page never reloads
  GET  /web/files/{id}   an uploaded file with its content type (charts shown inline)
  POST /web/act          what a person does: slash command, message, click, modal submit, reaction
  POST /web/jobs         "run due jobs now": asks the bot's local-only hook (bot/local_jobs.py)

Every person-side action goes through `actions.py`, the code path the terminal shell and the tests
use, so a click on the page is the same signed block_actions payload a test's `click` sends.
"""

from __future__ import annotations

import asyncio
import json
import mimetypes
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import aiohttp
from aiohttp import web

from . import actions, webstate
from .api import ApiCall
from .api_errors import ApiError
from .models import AckResult
from .server import SlackServer

STATIC = Path(__file__).parent / "web"
JOBS_PATH = "/local/run-due-jobs"
KEEPALIVE_SECONDS = 15.0
# Several commits in a burst (post, then edit, then reaction) become one refresh of the page.
COALESCE_SECONDS = 0.03


class WebWorkspace:
    def __init__(self, slack: SlackServer, api_log: list[ApiCall]) -> None:
        self.slack = slack
        self.api_log = api_log
        self.inspector = webstate.Inspector()
        self._closing = asyncio.Event()
        webstate.ensure_stakeholder(slack)

    def add_routes(self, app: web.Application) -> None:
        app.router.add_get("/web/state", self.state)
        app.router.add_get("/web/events", self.events)
        app.router.add_get("/web/files/{file_id}", self.file)
        app.router.add_post("/web/act", self.act)
        app.router.add_post("/web/jobs", self.run_jobs)
        app.router.add_static("/web/static/", STATIC)
        app.on_shutdown.append(self._shutdown)

    async def _shutdown(self, _: web.Application) -> None:
        self._closing.set()  # open event streams end now instead of holding up the stop

    # --- reading ------------------------------------------------------------------------------
    @staticmethod
    def wants_page(request: web.Request) -> bool:
        return "text/html" in request.headers.get("Accept", "")

    @staticmethod
    async def page(request: web.Request) -> web.StreamResponse:
        return web.FileResponse(STATIC / "index.html", headers={"Cache-Control": "no-store"})

    @property
    def jobs_url(self) -> str | None:
        """The bot's run-due-jobs hook, next to the /slack/events URL it is delivered to."""
        url = self.slack.delivery.request_url
        if not url:
            return None
        parts = urlsplit(url)
        return urlunsplit((parts.scheme, parts.netloc, JOBS_PATH, "", ""))

    async def state(self, request: web.Request) -> web.Response:
        body = webstate.snapshot(
            self.slack, self.inspector, self.api_log, jobs_hook=self.jobs_url is not None
        )
        return web.json_response(body, dumps=_dumps)

    async def events(self, request: web.Request) -> web.StreamResponse:
        """One `change` event per burst of commits, and a comment line now and then as keepalive."""
        response = web.StreamResponse(
            headers={"Content-Type": "text/event-stream", "Cache-Control": "no-store"}
        )
        await response.prepare(request)
        ws = self.slack.workspace
        seen = -1
        try:
            while not self._closing.is_set():
                if ws.seq != seen:
                    seen = ws.seq
                    await response.write(f"event: change\ndata: {seen}\n\n".encode())
                    await asyncio.sleep(COALESCE_SECONDS)
                    continue
                if not await self._wait_change(seen):
                    await response.write(b": keepalive\n\n")
        except (ConnectionResetError, asyncio.CancelledError):
            pass  # the page went away
        return response

    async def _wait_change(self, seen: int) -> bool:
        """Wait for a commit after `seen` (True) or the keepalive interval (False)."""
        ws = self.slack.workspace
        closing = asyncio.ensure_future(self._closing.wait())
        try:

            async def changed() -> None:
                async with ws.cond:
                    await ws.cond.wait_for(lambda: ws.seq != seen)

            waiter = asyncio.ensure_future(changed())
            done, pending = await asyncio.wait(
                {waiter, closing}, timeout=KEEPALIVE_SECONDS, return_when=asyncio.FIRST_COMPLETED
            )
            for task in pending:
                task.cancel()
            return waiter in done
        finally:
            closing.cancel()

    async def file(self, request: web.Request) -> web.Response:
        stored = self.slack.workspace.files.get(request.match_info["file_id"])
        if stored is None or stored.content is None:
            return web.Response(status=404, text="file_not_found")
        kind = mimetypes.guess_type(stored.filename)[0] or "application/octet-stream"
        # Only images display inline; anything else downloads, so no uploaded HTML runs here.
        inline = kind.startswith("image/") and kind != "image/svg+xml"
        return web.Response(
            body=stored.content,
            content_type=kind if inline else "application/octet-stream",
            headers={
                "Content-Disposition": "inline" if inline else "attachment",
                "X-Content-Type-Options": "nosniff",
            },
        )

    # --- acting -------------------------------------------------------------------------------
    async def act(self, request: web.Request) -> web.Response:
        if request.content_type != "application/json":
            return _not_json()
        try:
            body = await request.json()
            if not isinstance(body, dict):
                raise ValueError("not an object")
            kind = str(body.get("action", ""))
            result = await self._act(kind, body)
        except (ValueError, LookupError, ApiError, TypeError) as exc:
            return web.json_response({"ok": False, "error": _reason(exc)}, status=400)
        entry = self.inspector.record(kind, result)
        await self.slack.workspace.commit()  # the inspector changed: tell the page
        return web.json_response({"ok": result.ok, **entry}, dumps=_dumps)

    async def _act(self, kind: str, body: dict[str, Any]) -> AckResult:
        slack, user = self.slack, str(body.get("user", ""))
        if kind == "slash":
            return await actions.slash(
                slack, user, str(body["channel"]), str(body.get("text", "")), str(body["command"])
            )
        if kind == "message":
            thread = body.get("thread_ts") or None
            return await actions.send_message(
                slack, user, str(body["channel"]), str(body["text"]), thread
            )
        if kind == "click":
            return await actions.click(slack, user, str(body["ts"]), None, int(body["index"]), None)
        if kind == "react":
            return await actions.add_reaction(
                slack, user, str(body["channel"]), str(body["ts"]), str(body["name"])
            )
        if kind == "submit":
            view_id = str(body["view_id"])
            values = body.get("values") or {}
            if not isinstance(values, dict):
                raise ValueError("values must be an object")
            result = await actions.submit_view(slack, user, view_id, values)
            ack = result.payload or {}
            errors = ack.get("errors") if ack.get("response_action") == "errors" else None
            if isinstance(errors, dict):
                self.inspector.view_errors[view_id] = {str(k): str(v) for k, v in errors.items()}
            else:
                self.inspector.view_errors.pop(view_id, None)
            return result
        if kind == "close":
            return await self._close_view(user, str(body["view_id"]))
        raise ValueError(f"unknown action {kind!r}")

    async def _close_view(self, user: str, view_id: str) -> AckResult:
        """The modal's Cancel: Slack closes it (and sends view_closed only if the app asked)."""
        ws = self.slack.workspace
        view = ws.views.get(view_id)
        if view is None or view.user != ws.user(user).id:
            raise LookupError(f"no open view {view_id!r}")
        view.closed = True
        self.inspector.view_errors.pop(view_id, None)
        return AckResult(200, request={"type": "view_closed (not sent)", "view_id": view_id})

    async def run_jobs(self, request: web.Request) -> web.Response:
        """Ask the bot to run what its scheduler has due within the next N minutes."""
        if request.content_type != "application/json":
            return _not_json()
        url = self.jobs_url
        if url is None:
            return web.json_response({"ok": False, "error": "no bot over HTTP"}, status=409)
        try:
            minutes = int((await request.json()).get("minutes"))
        except (ValueError, TypeError, AttributeError):
            return web.json_response({"ok": False, "error": "minutes must be a number"}, status=400)
        payload = json.dumps({"minutes": minutes}).encode()
        headers = self.slack.delivery.signed_headers(payload, "application/json")
        try:
            async with (
                aiohttp.ClientSession() as session,
                session.post(
                    url, data=payload, headers=headers, timeout=aiohttp.ClientTimeout(total=10)
                ) as response,
            ):
                answer = await response.json(content_type=None)
                status = response.status
        except (aiohttp.ClientError, TimeoutError, ValueError) as exc:
            return web.json_response({"ok": False, "error": f"bot unreachable: {exc}"}, status=502)
        self.inspector.note("run due jobs", {"minutes": minutes}, status, answer)
        await self.slack.workspace.commit()
        body = answer if isinstance(answer, dict) else {}
        return web.json_response(
            {"ok": status == 200, **body}, status=200 if status == 200 else 400
        )


def _not_json() -> web.Response:
    # Only the page's fetch() sends JSON; a form another site posts cannot (no CORS preflight
    # passes here), so it cannot click or type in the workspace on the person's behalf.
    return web.json_response({"ok": False, "error": "send application/json"}, status=415)


def _reason(exc: BaseException) -> str:
    if isinstance(exc, ApiError):
        return exc.error
    if isinstance(exc, KeyError) and exc.args and " " not in str(exc.args[0]):
        return f"missing {exc.args[0]!r}"  # a field the page did not send
    return str(exc.args[0]) if exc.args else type(exc).__name__


def _dumps(value: Any) -> str:
    # Non-JSON values in stored payloads (there should be none) must not break the page.
    return json.dumps(value, default=str)
