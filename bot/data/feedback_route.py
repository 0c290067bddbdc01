"""`POST /v1/feedback` for the model server: labelled feedback in, one result per item out.

The only module of `bot.data` that imports Starlette. Structural problems (not JSON, wrong
shape, no label) answer 422 with the field and the problem; value problems (unknown class, bad
measurement, unknown prediction id) answer 200 with a per-item reason, because the rest of a
batch may be fine.
"""

from __future__ import annotations

import asyncio
import json
import logging
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from bot.data.feedback import FeedbackItem, record_feedback_many
from bot.data.validation import FEATURES, LABEL_KEYS
from bot.db import Database
from bot.request_body import BodyTooLarge, read_body

log = logging.getLogger(__name__)

MAX_BODY_BYTES = 1_000_000
MAX_BATCH = 1000


class ShapeError(ValueError):
    """The body is not a feedback request; `field` says where."""

    def __init__(self, field: str, problem: str) -> None:
        super().__init__(f"{field}: {problem}")
        self.field = field
        self.problem = problem


def _kind(value: Any) -> str:
    names = {dict: "an object", list: "an array", str: "a string", bool: "a boolean"}
    return "null" if value is None else names.get(type(value), type(value).__name__)


def parse_feedback(body: bytes) -> list[FeedbackItem]:
    """Feedback items from a request body (one object or `{"feedback": [...]}`), or ShapeError."""
    if not body:
        raise ShapeError("body", 'empty body; send {"prediction_id": ..., "label": ...}')
    if len(body) > MAX_BODY_BYTES:
        raise ShapeError("body", f"larger than {MAX_BODY_BYTES} bytes")
    try:
        data = json.loads(body)
    except (ValueError, RecursionError) as exc:
        raise ShapeError("body", f"not valid JSON: {exc}") from None
    if not isinstance(data, dict):
        raise ShapeError("body", f"must be a JSON object, got {_kind(data)}")
    if "feedback" not in data:
        return [_item(data, "")]
    items = data["feedback"]
    if not isinstance(items, list):
        raise ShapeError("feedback", f"must be an array, got {_kind(items)}")
    if not items:
        raise ShapeError("feedback", "is empty")
    if len(items) > MAX_BATCH:
        raise ShapeError("feedback", f"at most {MAX_BATCH} items per request (got {len(items)})")
    return [_item(entry, f"feedback[{i}].") for i, entry in enumerate(items)]


def _item(entry: Any, path: str) -> FeedbackItem:
    if not isinstance(entry, dict):
        raise ShapeError(path.rstrip(".") or "body", f"must be an object, got {_kind(entry)}")
    key = next((k for k in ("label", *LABEL_KEYS) if k in entry), None)
    if key is None:
        raise ShapeError(f"{path}label", "missing; send the true class as `label`")
    label = entry[key]
    if not isinstance(label, str):
        raise ShapeError(f"{path}{key}", f"must be a string, got {_kind(label)}")
    pid = entry.get("prediction_id")
    features = {f: entry[f] for f in FEATURES if f in entry}
    if pid is None and not features:
        raise ShapeError(f"{path}prediction_id", "send a prediction_id or the four features")
    if pid is not None and not isinstance(pid, str):
        raise ShapeError(f"{path}prediction_id", f"must be a string, got {_kind(pid)}")
    return FeedbackItem(label=label, features=features or None, prediction_id=pid)


def feedback_route(db: Database) -> Route:
    """The `POST /v1/feedback` route, storing feedback in `db`."""

    async def feedback(request: Request) -> JSONResponse:
        try:
            items = parse_feedback(await read_body(request, limit=MAX_BODY_BYTES))
        except BodyTooLarge as exc:
            return JSONResponse(
                {"error": "invalid feedback", "field": "body", "problem": str(exc)}, 413
            )
        except ShapeError as exc:
            return JSONResponse(
                {"error": "invalid feedback", "field": exc.field, "problem": exc.problem}, 422
            )
        try:
            results = await asyncio.to_thread(record_feedback_many, db, items=items)
        except Exception:  # the database is down: the client should retry, not see a 500
            log.exception("storing feedback failed")
            return JSONResponse(
                {"error": "storage unavailable", "problem": "could not store feedback; retry"}, 503
            )
        accepted = sum(r.accepted for r in results)
        return JSONResponse(
            {
                "accepted": accepted,
                "quarantined": len(results) - accepted,
                "results": [
                    {"accepted": True, "sample_id": r.sample_id}
                    if r.accepted
                    else {"accepted": False, "reason": r.reason}
                    for r in results
                ],
            }
        )

    return Route("/v1/feedback", feedback, methods=["POST"])
