"""`POST /local/run-due-jobs`: the local workspace's "run due jobs now" control.

The Slack stand-in's web page asks for it so a stakeholder-update cadence or a reminder can be
shown without waiting. It exists only in local mode (every other mode answers 404, as if the
route were not there), and the request must be signed with the signing secret the way Slack signs
its requests: in local mode that secret is made fresh for each run and only the stand-in holds
it, so nobody else who can reach the port can move the bot's schedule.
"""

from __future__ import annotations

import json
from datetime import timedelta

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from bot.request_body import BodyTooLarge, read_body
from bot.scheduling import run_due_now
from bot.services import Services
from bot.web import SlackSignature

PATH = "/local/run-due-jobs"
MAX_MINUTES = 7 * 24 * 60
MAX_BODY = 1024


def _minutes(body: bytes) -> int | None:
    """The `minutes` asked for (1 to a week), or None when the body does not say it clearly."""
    try:
        value = json.loads(body or b"{}").get("minutes")
    except (ValueError, AttributeError):
        return None
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= MAX_MINUTES:
        return None
    return value


def local_jobs_route(services: Services) -> Route:
    signature = SlackSignature(services.settings.slack_signing_secret)

    async def run_due_jobs(request: Request) -> Response:
        if services.mode != "local":
            return JSONResponse({"error": "not found"}, status_code=404)
        try:
            body = await read_body(request, limit=MAX_BODY)
        except BodyTooLarge:
            return JSONResponse({"error": "body too large"}, status_code=413)
        if not signature.valid(request, body):
            return JSONResponse({"error": "invalid request"}, status_code=401)
        minutes = _minutes(body)
        if minutes is None:
            return JSONResponse(
                {"error": f"minutes must be a whole number from 1 to {MAX_MINUTES}"},
                status_code=400,
            )
        moved = run_due_now(services.scheduler, within=timedelta(minutes=minutes))
        return JSONResponse(
            {"minutes": minutes, "ran": [{"id": job.id, "name": job.name} for job in moved]}
        )

    return Route(PATH, run_due_jobs, methods=["POST"])
