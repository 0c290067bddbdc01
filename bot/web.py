"""The bot's HTTP front door (Starlette): Slack events, health, metrics and the status page."""

from __future__ import annotations

import logging
from collections.abc import Sequence

from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from slack_bolt.adapter.starlette.async_handler import AsyncSlackRequestHandler
from slack_bolt.async_app import AsyncApp
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response
from starlette.routing import BaseRoute, Route

import bot
from bot.db import utcnow
from bot.incidents.status import StatusPage, gather, model_part
from bot.scheduling import scheduler_health
from bot.services import Services

log = logging.getLogger(__name__)

# Slack's own payloads are far smaller; anything bigger is not from Slack.
MAX_SLACK_BODY = 1_000_000


def build_web_app(
    services: Services, bolt_app: AsyncApp, extra_routes: Sequence[BaseRoute] = ()
) -> Starlette:
    handler = AsyncSlackRequestHandler(bolt_app)

    async def slack_events(request: Request) -> Response:
        length = request.headers.get("content-length")
        if length is not None and (not length.isdigit() or int(length) > MAX_SLACK_BODY):
            return JSONResponse({"error": "request body too large"}, status_code=413)
        try:
            return await handler.handle(request)
        except Exception:
            # Bolt verified the signature before parsing, so this is a signed but unreadable
            # request: answer 400 rather than 500, and keep serving.
            log.exception("could not handle a Slack request")
            return JSONResponse({"error": "malformed Slack request"}, status_code=400)

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
        model_status = services.extras.get("model_status")
        model = model_part(services.settings.model_name, getattr(model_status, "status", None))
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
        Route("/slack/events", slack_events, methods=["POST"]),
        Route("/healthz", healthz, methods=["GET"]),
        Route("/metrics", metrics, methods=["GET"]),
        Route("/status", status_html, methods=["GET"]),
        Route("/status.json", status_json, methods=["GET"]),
        *extra_routes,
    ]
    return Starlette(routes=routes)
