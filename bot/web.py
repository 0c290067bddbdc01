"""The bot's HTTP front door (Starlette): Slack events, health, metrics and the status page."""

from __future__ import annotations

import hashlib
import hmac
import logging
import time
from collections.abc import Sequence

from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from slack_bolt.adapter.starlette.async_handler import to_starlette_response
from slack_bolt.async_app import AsyncApp, AsyncBoltRequest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response
from starlette.routing import BaseRoute, Route

import bot
from bot.db import utcnow
from bot.incidents.status import StatusPage, gather, model_part
from bot.request_body import BodyTooLarge, read_body
from bot.scheduling import scheduler_health
from bot.services import Services

log = logging.getLogger(__name__)

# Slack's own payloads are far smaller; anything bigger is not from Slack.
MAX_SLACK_BODY = 1_000_000
# Slack's rule: a request signed more than five minutes ago (or ahead) is refused.
SIGNATURE_WINDOW = 5 * 60


class SlackSignature:
    """Slack's request signature: `v0=` HMAC-SHA256 of `v0:<timestamp>:<raw body>` with the
    signing secret, at most five minutes old (which also refuses a signed request replayed
    after the window). Computed on the bytes, so a body that is not UTF-8 is simply invalid."""

    def __init__(self, secret: str | None) -> None:
        self.secret = secret.encode() if secret else None

    def valid(self, request: Request, body: bytes, *, now: float | None = None) -> bool:
        timestamp = request.headers.get("x-slack-request-timestamp", "")
        signature = request.headers.get("x-slack-signature", "")
        if self.secret is None or not timestamp.isascii() or not timestamp.isdigit():
            return False
        if abs((time.time() if now is None else now) - int(timestamp)) > SIGNATURE_WINDOW:
            return False
        base = b"v0:" + timestamp.encode() + b":" + body
        expected = "v0=" + hmac.new(self.secret, base, hashlib.sha256).hexdigest()
        return hmac.compare_digest(expected.encode(), signature.encode("utf-8", "replace"))


def slack_events_route(services: Services, bolt_app: AsyncApp) -> Route:
    """`POST /slack/events`: bounded body, signature checked, then Bolt.

    The signature is checked here, on the raw bytes, before anything parses the body: an
    unsigned request never reaches a parser, so a malformed payload from anyone but Slack is a
    plain 401 rather than a parse error (Bolt parses while building its request object, before
    its own verification middleware runs; that middleware stays on as a second check).
    """
    signature = SlackSignature(services.settings.slack_signing_secret)
    if signature.secret is None:
        log.warning("SLACK_SIGNING_SECRET is not set: POST /slack/events refuses every request")

    async def slack_events(request: Request) -> Response:
        try:
            body = await read_body(request, limit=MAX_SLACK_BODY)
        except BodyTooLarge as exc:
            return JSONResponse({"error": str(exc)}, status_code=413)
        if not signature.valid(request, body):
            return JSONResponse({"error": "invalid request"}, status_code=401)
        try:
            bolt_request = AsyncBoltRequest(
                body=body.decode("utf-8"), query=request.query_params, headers=request.headers
            )
        except Exception as exc:  # signed, yet not a payload Slack sends
            log.warning("malformed Slack request: %s", exc)
            return JSONResponse({"error": "malformed Slack request"}, status_code=400)
        try:
            return to_starlette_response(await bolt_app.async_dispatch(bolt_request))
        except Exception:
            log.exception("could not handle a Slack request")
            return JSONResponse({"error": "malformed Slack request"}, status_code=400)

    return Route("/slack/events", slack_events, methods=["POST"])


def build_web_app(
    services: Services, bolt_app: AsyncApp, extra_routes: Sequence[BaseRoute] = ()
) -> Starlette:
    async def healthz(_: Request) -> Response:
        database = services.db.ping()
        scheduler = scheduler_health(services.scheduler)
        healthy = database and bool(scheduler["running"])
        body = {
            "status": "ok" if healthy else "degraded",
            "version": bot.__version__,
            "mode": services.mode,
            "database": "ok" if database else "unreachable",
            "scheduler": scheduler,
            "uptime_seconds": round(services.uptime_seconds, 1),
        }
        return JSONResponse(body, status_code=200 if healthy else 503)

    async def metrics(_: Request) -> Response:
        services.metrics.background.set(len(services.tasks))
        return Response(generate_latest(services.metrics.registry), media_type=CONTENT_TYPE_LATEST)

    async def status_page() -> StatusPage:
        model = model_part(services.settings.model_name, services.model_status.status)
        return await gather(flows=services.incidents, model=model, now=utcnow())

    async def status_html(_: Request) -> Response:
        try:
            page = await status_page()
            return HTMLResponse(services.renderer.render_document("status_page.html.j2", page=page))
        except Exception:
            log.exception("status page failed")
            return HTMLResponse("<!doctype html><title>status</title><p>Status unavailable.</p>")

    async def status_json(_: Request) -> Response:
        try:
            return JSONResponse((await status_page()).as_json())
        except Exception:
            log.exception("status.json failed")
            return JSONResponse({"overall": "unknown", "error": "unavailable"})

    routes: list[BaseRoute] = [
        Route("/healthz", healthz, methods=["GET"]),
        Route("/metrics", metrics, methods=["GET"]),
        Route("/status", status_html, methods=["GET"]),
        Route("/status.json", status_json, methods=["GET"]),
        *extra_routes,
    ]
    # In Socket Mode, Slack sends everything over the WebSocket and never posts here, so the
    # route is not served at all: an HTTP door nobody legitimate uses is one only an attacker
    # would knock on. (Verifying it with SLACK_SIGNING_SECRET would also close it, but would
    # make that secret a requirement of a mode that otherwise does not need it.)
    if services.mode != "socket":
        routes.insert(0, slack_events_route(services, bolt_app))
    return Starlette(routes=routes)
