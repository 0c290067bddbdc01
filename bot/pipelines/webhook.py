"""`POST /pipelines/dagster`: the run-failure sensor's push (pipelines/sensors.py).

Same rules as the Alertmanager route: bearer token (401), bounded body (413), a body that is not
a failure notice is a 400 naming the field, storage trouble is a 503 to retry, never a 500. A
repeated push of the same failure changes nothing.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime

from pydantic import BaseModel, ConfigDict, Field, ValidationError
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from bot.alerts.intake import IntakeUnavailable
from bot.alerts.payload import describe_error
from bot.alerts.webhook import WebhookAuth
from bot.pipelines.models import FailedStep, PipelineRun
from bot.pipelines.monitor import PipelineMonitor
from bot.request_body import BodyTooLarge, read_body

log = logging.getLogger(__name__)

PATH = "/pipelines/dagster"
MAX_BODY_BYTES = 256_000


class StepIn(BaseModel):
    model_config = ConfigDict(extra="ignore")
    step_key: str
    error: str = ""


class FailurePush(BaseModel):
    model_config = ConfigDict(extra="ignore")
    event: str = "run_failure"
    run_id: str = Field(min_length=1, max_length=64)
    job_name: str = Field(min_length=1, max_length=200)
    partition: str | None = None
    message: str = ""
    failed_at: float | None = None  # epoch seconds: a repeated push is the same notification
    failed_steps: list[StepIn] = Field(default_factory=list, max_length=100)


def _error(status: int, message: str, **headers: str) -> Response:
    return JSONResponse(
        {"status": "rejected", "error": message}, status_code=status, headers=headers
    )


def pipeline_route(monitor: PipelineMonitor, auth: WebhookAuth) -> Route:
    async def receive(request: Request) -> Response:
        problem = (
            auth.check(request.headers.get("authorization"))
            if auth.configured
            else "the pipeline webhook is not configured: set PIPELINE_WEBHOOK_TOKEN"
        )
        if problem is not None:
            return _error(401, problem, **{"WWW-Authenticate": 'Bearer realm="pipelines"'})
        try:
            body = await read_body(request, limit=MAX_BODY_BYTES)
        except BodyTooLarge as exc:
            return _error(413, str(exc))
        try:
            push = FailurePush.model_validate_json(body or b"null")
        except ValidationError as exc:
            return _error(400, describe_error(exc))
        if push.event != "run_failure":
            return _error(400, f"event: unsupported {push.event!r} (expected 'run_failure')")
        when = datetime.fromtimestamp(push.failed_at, UTC) if push.failed_at else None
        pushed = PipelineRun(
            run_id=push.run_id,
            job=push.job_name,
            status="FAILURE",
            started_at=None,
            ended_at=when or datetime.now(UTC),
            partition=push.partition,
        )
        steps = [FailedStep(step_key=s.step_key, error=s.error) for s in push.failed_steps]
        try:
            result = await monitor.on_push(pushed=pushed, steps=steps)
        except IntakeUnavailable as exc:
            return _error(503, f"could not store the notification, try again ({exc})")
        except Exception:
            log.exception("pipeline failure push failed")
            return _error(503, "internal problem while storing the notification, try again")
        return JSONResponse(result.as_json())

    return Route(PATH, receive, methods=["POST"])
