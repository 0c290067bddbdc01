"""The checks behind the monitors: accuracy on labelled feedback, input and prediction drift on
served traffic, and serving health from the model server's own /metrics.

Database checks are blocking functions (the service runs them in a thread); the serving check is
async (one HTTP GET). Each returns a plain typed result.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime

import httpx
import numpy as np
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import select
from sqlalchemy.exc import SQLAlchemyError

from bot.data.models import Sample
from bot.db import Database
from bot.monitoring.drift import (
    DriftReport,
    DriftThresholds,
    PredictionDrift,
    class_shares,
    dataset_drift,
    prediction_drift,
)
from bot.serving.models import ServedPrediction
from bot.serving.recorder import recent_served
from bot.training.iris import FEATURES, holdout_split

PREDICT_ENDPOINT = "predict"


# --- accuracy on labelled feedback -----------------------------------------------------------------
@dataclass(frozen=True)
class AccuracyResult:
    """Accuracy of the served predictions that got a label, newest `window` of them."""

    version: int | None
    accuracy: float | None
    labelled: int
    correct: int
    floor: float
    holdout_accuracy: float | None
    enough_data: bool
    below_floor: bool
    reason: str | None = None

    @property
    def drop(self) -> float | None:
        """How far below its holdout accuracy the model is on live feedback (positive: worse)."""
        if self.accuracy is None or self.holdout_accuracy is None:
            return None
        return self.holdout_accuracy - self.accuracy


def check_accuracy(
    db: Database,
    *,
    version: int | None,
    window: int,
    min_labelled: int,
    floor: float,
    holdout_accuracy: float | None,
) -> AccuracyResult:
    """Join feedback given by prediction id to the served prediction and compare the labels."""
    samples, served = Sample.__table__, ServedPrediction.__table__
    query = (
        select(samples.c.label, served.c.predicted_class)
        .join(served, served.c.prediction_id == samples.c.source_ref)
        .where(samples.c.source == "feedback")
        .order_by(samples.c.id.desc())
        .limit(window)
    )
    if version is not None:
        query = query.where(served.c.model_version == version)
    try:
        with db.engine.connect() as conn:
            rows = conn.execute(query).all()
    except SQLAlchemyError as exc:  # e.g. the data tables are not migrated yet
        return AccuracyResult(
            version,
            None,
            0,
            0,
            floor,
            holdout_accuracy,
            False,
            False,
            f"feedback unreadable: {exc}",
        )
    labelled = len(rows)
    correct = sum(1 for label, predicted in rows if label == predicted)
    if labelled < max(min_labelled, 1):
        reason = f"{labelled} labelled predictions, at least {min_labelled} needed"
        return AccuracyResult(
            version, None, labelled, correct, floor, holdout_accuracy, False, False, reason
        )
    accuracy = correct / labelled
    return AccuracyResult(
        version=version,
        accuracy=accuracy,
        labelled=labelled,
        correct=correct,
        floor=floor,
        holdout_accuracy=holdout_accuracy,
        enough_data=True,
        below_floor=accuracy < floor,
    )


# --- input and prediction drift --------------------------------------------------------------------
@dataclass(frozen=True)
class DriftResult:
    """Input drift and prediction drift of one production version's recent traffic."""

    version: int | None
    inputs: DriftReport
    predictions: PredictionDrift


def training_reference() -> tuple[np.ndarray, dict[str, float]]:
    """The reference: base Iris training rows, and the holdout's class shares.

    The training rows of base Iris are what every registered model learnt the input space from
    and they never change, so the reference is stable across retrains and rollbacks.
    """
    split = holdout_split()
    return split.X_train, class_shares(split.y_holdout)


def check_drift(
    db: Database,
    *,
    version: int | None,
    window: int,
    thresholds: DriftThresholds,
    reference: np.ndarray | None = None,
    expected_share: dict[str, float] | None = None,
) -> DriftResult:
    """Drift of the last `window` inputs and predictions served by `version`."""
    if reference is None or expected_share is None:
        default_ref, default_share = training_reference()
        reference = default_ref if reference is None else reference
        expected_share = default_share if expected_share is None else expected_share
    with db.session() as session:
        served = recent_served(session, limit=window, model_version=version)
    current = np.array([[r.features[f] for f in FEATURES] for r in served], dtype=np.float64)
    inputs = dataset_drift(
        reference, current.reshape(-1, len(FEATURES)), features=FEATURES, thresholds=thresholds
    )
    predictions = prediction_drift(
        [r.predicted_class for r in served], expected_share=expected_share, thresholds=thresholds
    )
    return DriftResult(version=version, inputs=inputs, predictions=predictions)


# --- serving health from the model server's /metrics -----------------------------------------------
@dataclass(frozen=True)
class ServingCounters:
    """Cumulative counters of one scrape of the model server's /metrics."""

    requests: float
    errors: float
    buckets: tuple[tuple[float, float], ...]  # (upper bound, cumulative count), +inf last
    # Requests refused for their input (4xx, e.g. 422): not server errors, but not served either.
    refused: float = 0.0


@dataclass(frozen=True)
class ServingHealth:
    """Serving between two scrapes: error rate and p99 latency of predict requests."""

    up: bool
    requests: int
    errors: int
    error_rate: float | None
    p99_seconds: float | None
    enough_data: bool
    unreachable_checks: int
    consecutive_failures: int
    checked_at: datetime = field(default_factory=lambda: datetime.now(UTC))
    reason: str | None = None
    refused: int = 0
    refused_rate: float | None = None


def parse_serving_metrics(text: str, *, endpoint: str = PREDICT_ENDPOINT) -> ServingCounters:
    """Requests, server errors (5xx) and latency buckets of one endpoint from exposition text."""
    requests = errors = refused = 0.0
    buckets: dict[float, float] = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.labels.get("endpoint") != endpoint:
                continue
            if sample.name == "model_server_requests_total":
                requests += sample.value
                if sample.labels.get("status", "").startswith("5"):
                    errors += sample.value
                elif sample.labels.get("status", "").startswith("4"):
                    refused += sample.value
            elif sample.name == "model_server_request_seconds_bucket":
                bound = float(sample.labels["le"])
                buckets[bound] = buckets.get(bound, 0.0) + sample.value
    return ServingCounters(requests, errors, tuple(sorted(buckets.items())), refused)


def histogram_quantile(q: float, buckets: Sequence[tuple[float, float]]) -> float | None:
    """Prometheus's histogram_quantile over cumulative (bound, count) pairs."""
    if not buckets or buckets[-1][1] <= 0:
        return None
    rank = q * buckets[-1][1]
    lower_bound, lower_count = 0.0, 0.0
    for bound, count in buckets:
        if count >= rank:
            if math.isinf(bound):  # in the overflow bucket: the largest finite bound
                return lower_bound
            if count == lower_count:
                return bound
            return lower_bound + (bound - lower_bound) * (rank - lower_count) / (
                count - lower_count
            )
        lower_bound, lower_count = bound, count
    return lower_bound


def counter_delta(now: ServingCounters, before: ServingCounters | None) -> ServingCounters:
    """What happened between two scrapes; a restarted server (counters went down) starts over."""
    if before is None or now.requests < before.requests:
        return now
    previous = dict(before.buckets)
    return ServingCounters(
        requests=now.requests - before.requests,
        errors=max(now.errors - before.errors, 0.0),
        buckets=tuple((b, max(c - previous.get(b, 0.0), 0.0)) for b, c in now.buckets),
        refused=max(now.refused - before.refused, 0.0),
    )


class ServingProbe:
    """Scrapes the model server's /metrics and keeps the last counters to compute deltas."""

    def __init__(
        self, base_url: str, *, min_requests: int, timeout: float = 5.0, quantile: float = 0.99
    ) -> None:
        self.url = base_url.rstrip("/") + "/metrics"
        self.min_requests = min_requests
        self.quantile = quantile
        self._client = httpx.AsyncClient(timeout=timeout)
        self._last: ServingCounters | None = None
        self.unreachable_checks = 0
        self.consecutive_failures = 0

    async def check(self) -> ServingHealth:
        """Scrape once; unreachable or timing out is a result (up=False), never an exception."""
        try:
            response = await self._client.get(self.url)
            response.raise_for_status()
            counters = parse_serving_metrics(response.text)
        except (httpx.HTTPError, ValueError) as exc:
            self.unreachable_checks += 1
            self.consecutive_failures += 1
            kind = "timed out" if isinstance(exc, httpx.TimeoutException) else "unreachable"
            return ServingHealth(
                up=False,
                requests=0,
                errors=0,
                error_rate=None,
                p99_seconds=None,
                enough_data=False,
                unreachable_checks=self.unreachable_checks,
                consecutive_failures=self.consecutive_failures,
                reason=f"model server {kind}: {type(exc).__name__} {exc}".strip(),
            )
        self.consecutive_failures = 0
        delta, self._last = counter_delta(counters, self._last), counters
        requests, errors, refused = int(delta.requests), int(delta.errors), int(delta.refused)
        enough = requests >= max(self.min_requests, 1)
        return ServingHealth(
            up=True,
            requests=requests,
            errors=errors,
            error_rate=errors / requests if requests else None,
            p99_seconds=histogram_quantile(self.quantile, delta.buckets),
            enough_data=enough,
            unreachable_checks=self.unreachable_checks,
            consecutive_failures=0,
            refused=refused,
            refused_rate=refused / requests if requests else None,
            reason=None
            if enough
            else f"{requests} predict requests since the last check, at least "
            f"{self.min_requests} needed",
        )

    async def aclose(self) -> None:
        await self._client.aclose()
