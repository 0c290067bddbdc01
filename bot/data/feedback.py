"""Labelled feedback: the true class for an earlier prediction, or for four measurements.

Feedback by `prediction_id` takes the inputs the model server recorded for that prediction,
so the sample is exactly what the model saw. Bad values are quarantined like bad file rows; an
unknown prediction id is refused (not stored): the recorder writes in batches, so a client that
sends feedback right after a prediction may simply need to retry.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, insert, select

from bot.data.models import QuarantinedRow, Sample
from bot.data.schemas import FeedbackResult
from bot.data.validation import FEATURES, RAW_LIMIT, Problem, check, short
from bot.db import Database, utcnow
from bot.serving.models import ServedPrediction

_SAMPLES = Sample.__table__
_QUARANTINE = QuarantinedRow.__table__
_SERVED = ServedPrediction.__table__


@dataclass(frozen=True)
class FeedbackItem:
    """One piece of feedback as received: a label plus either features or a prediction id."""

    label: Any
    features: dict[str, Any] | None = None
    prediction_id: str | None = None


def record_feedback(
    db: Database,
    *,
    label: str,
    features: dict[str, float] | None = None,
    prediction_id: str | None = None,
) -> FeedbackResult:
    """Store one labelled sample from feedback, or quarantine / refuse it with the reason."""
    with db.connection() as conn:
        return _record(conn, FeedbackItem(label, features, prediction_id))


def record_feedback_many(db: Database, *, items: Sequence[FeedbackItem]) -> list[FeedbackResult]:
    """Store a batch of feedback in one transaction; one result per item, in order."""
    with db.connection() as conn:
        return [_record(conn, item) for item in items]


def _record(conn: Connection, item: FeedbackItem) -> FeedbackResult:
    pid = item.prediction_id
    if pid is not None:
        return _by_prediction(conn, item, pid)
    if not isinstance(item.features, dict):
        return FeedbackResult(False, None, "send a prediction_id or the four features")
    result = check([item.features.get(f) for f in FEATURES], item.label, "label")
    if isinstance(result, Problem):
        return _quarantine(conn, item, "direct", result)
    return _store(conn, "direct", result.values, result.label)


def _by_prediction(conn: Connection, item: FeedbackItem, pid: Any) -> FeedbackResult:
    if not isinstance(pid, str) or not pid.strip() or len(pid) > 64:
        return FeedbackResult(False, None, f"prediction_id: not a prediction id ({short(pid)})")
    served = conn.execute(
        select(*(_SERVED.c[f] for f in FEATURES))
        .where(_SERVED.c.prediction_id == pid)
        .order_by(_SERVED.c.id)
        .limit(1)
    ).first()
    if served is None:
        return FeedbackResult(
            False,
            None,
            f"prediction_id: unknown prediction {pid!r} (never served, or not recorded yet: "
            "retry in a few seconds)",
        )
    if item.features and _differs(item.features, served):
        problem = Problem(
            "mismatch", "features: differ from the inputs recorded for this prediction"
        )
        return _quarantine(conn, item, pid, problem)
    result = check(list(served), item.label, "label")
    if isinstance(result, Problem):
        return _quarantine(conn, item, pid, result)
    earlier = conn.execute(
        select(_SAMPLES.c.id, _SAMPLES.c.label)
        .where(_SAMPLES.c.source == "feedback", _SAMPLES.c.source_ref == pid)
        .limit(1)
    ).first()
    if earlier is not None:
        if earlier.label == result.label:  # a client retry: idempotent, not a second sample
            return FeedbackResult(True, int(earlier.id), None)
        problem = Problem(
            "conflict", f"label: {result.label!r} conflicts with earlier feedback {earlier.label!r}"
        )
        return _quarantine(conn, item, pid, problem)
    return _store(conn, pid, result.values, result.label)


def _differs(given: dict[str, Any], served: Any) -> bool:
    for name, recorded in zip(FEATURES, served, strict=True):
        value = given.get(name)
        if value is None:
            continue
        try:
            if not math.isclose(float(value), float(recorded), rel_tol=1e-9, abs_tol=1e-9):
                return True
        except (TypeError, ValueError):
            return True
    return False


def _store(conn: Connection, ref: str, values: tuple[float, ...], label: str) -> FeedbackResult:
    row = dict(zip(FEATURES, values, strict=True))
    sample_id = conn.execute(
        insert(_SAMPLES).returning(_SAMPLES.c.id),
        {"source": "feedback", "source_ref": ref[:255], "line": None, "label": label,
         "file_id": None, "created_at": utcnow(), **row},
    ).scalar_one()  # fmt: skip
    return FeedbackResult(True, int(sample_id), None)


def _quarantine(conn: Connection, item: FeedbackItem, ref: str, problem: Problem) -> FeedbackResult:
    raw = {"prediction_id": item.prediction_id, "label": item.label, **(item.features or {})}
    conn.execute(
        insert(_QUARANTINE),
        {"source": "feedback", "source_ref": str(ref)[:255], "line": None,
         "raw": json.dumps(raw, default=repr)[:RAW_LIMIT], "category": problem.category,
         "reason": problem.message[:500], "file_id": None, "created_at": utcnow()},
    )  # fmt: skip
    return FeedbackResult(False, None, problem.message)
