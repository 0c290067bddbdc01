"""What the charts show, read from the bot's database as plain values (blocking: run it in a thread).

- drift: per feature, the reference rows and the last served inputs, and whether the drift check
  marked the feature as drifting;
- accuracy: accuracy of labelled feedback over time, per model version, with the deploys.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

import numpy as np
from sqlalchemy import select

from bot.data.models import Sample
from bot.db import Database
from bot.deploy.models import DeployRecord
from bot.monitoring.drift import DriftReport
from bot.serving.models import ServedPrediction
from bot.serving.recorder import recent_served
from bot.training.iris import FEATURES

# Accuracy points per version: enough to see a trend, few enough that each point has labels.
ACCURACY_BUCKETS = 12
FEEDBACK_ROWS = 5000


@dataclass(frozen=True)
class FeatureDistribution:
    name: str
    reference: np.ndarray
    current: np.ndarray
    drifted: bool


@dataclass(frozen=True)
class DriftChart:
    version: int | None
    window: int
    features: list[FeatureDistribution]


@dataclass(frozen=True)
class AccuracyPoint:
    at: datetime
    accuracy: float
    labelled: int


@dataclass(frozen=True)
class DeployMark:
    at: datetime
    version: int
    kind: str  # deploy | rollback


@dataclass(frozen=True)
class AccuracyChart:
    series: dict[int, list[AccuracyPoint]]
    deploys: list[DeployMark]

    @property
    def empty(self) -> bool:
        return not any(self.series.values())


def _aware(value: datetime) -> datetime:
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def drift_chart_data(
    db: Database,
    *,
    report: DriftReport,
    version: int | None,
    window: int,
    reference: np.ndarray,
) -> DriftChart:
    """The served inputs the drift check judged, beside the reference; drifted as it decided."""
    with db.session() as session:
        served = recent_served(session, limit=window, model_version=version)
    current = np.array([[r.features[f] for f in FEATURES] for r in served], dtype=np.float64)
    current = current.reshape(-1, len(FEATURES))
    reference = np.asarray(reference, dtype=np.float64).reshape(-1, len(FEATURES))
    drifted = set(report.drifted_features)
    return DriftChart(
        version=version,
        window=int(current.shape[0]),
        features=[
            FeatureDistribution(name, reference[:, i], current[:, i], name in drifted)
            for i, name in enumerate(FEATURES)
        ],
    )


def accuracy_chart_data(
    db: Database, *, rows: int = FEEDBACK_ROWS, buckets: int = ACCURACY_BUCKETS
) -> AccuracyChart:
    """Labelled feedback joined to the prediction it labels, bucketed in time, per version."""
    samples, served = Sample.__table__, ServedPrediction.__table__
    query = (
        select(
            served.c.created_at, served.c.model_version, samples.c.label, served.c.predicted_class
        )
        .join(served, served.c.prediction_id == samples.c.source_ref)
        .where(samples.c.source == "feedback")
        .order_by(samples.c.id.desc())
        .limit(rows)
    )
    deploys_query = select(DeployRecord).where(DeployRecord.outcome == "succeeded")
    with db.engine.connect() as conn:
        labelled = conn.execute(query).all()
    with db.session() as session:
        deploys = [
            DeployMark(_aware(d.finished_at), int(d.to_version), d.kind)
            for d in session.scalars(deploys_query)
            if d.to_version is not None
        ]
    if not labelled:
        return AccuracyChart({}, deploys)
    times = [_aware(at) for at, *_ in labelled]
    start, end = min(times), max(times)
    span = max((end - start).total_seconds(), 1.0)
    tally: dict[int, dict[int, list[int]]] = {}
    for at, (_, version, label, predicted) in zip(times, labelled, strict=True):
        bucket = min(int((at - start).total_seconds() / span * buckets), buckets - 1)
        counts = tally.setdefault(int(version), {}).setdefault(bucket, [0, 0])
        counts[0] += int(label == predicted)
        counts[1] += 1
    step = span / buckets
    series = {
        version: [
            AccuracyPoint(
                at=datetime.fromtimestamp(start.timestamp() + (b + 0.5) * step, UTC),
                accuracy=correct / total,
                labelled=total,
            )
            for b, (correct, total) in sorted(by_bucket.items())
        ]
        for version, by_bucket in sorted(tally.items())
    }
    shown = [d for d in deploys if start <= d.at <= end] or deploys[-3:]
    return AccuracyChart(series, sorted(shown, key=lambda d: d.at))
