"""The charts: their data from a real database (SQLite and PostgreSQL), their PNGs, and that a
chart which cannot be drawn or uploaded never holds back the text answer."""

from __future__ import annotations

import io
from datetime import UTC, datetime, timedelta

import numpy as np
from PIL import Image
from slack_sdk.web.async_client import AsyncWebClient

from bot.charts.data import accuracy_chart_data, drift_chart_data
from bot.charts.draw import DRIFT_COLOR, accuracy_png, drift_png
from bot.data.feedback import record_feedback
from bot.db import Database
from bot.deploy.service import record_deploy
from bot.messages import TemplateRenderer
from bot.monitoring.drift import dataset_drift
from bot.serving.models import ServedPrediction
from bot.slack.charts import chart_labels, upload_chart
from bot.training.iris import FEATURES

NOW = datetime.now(UTC).replace(microsecond=0)
CLASSES = ("setosa", "versicolor", "virginica")


def serve(db: Database, rows: list[tuple[str, int, datetime, list[float], str]]) -> None:
    with db.session() as session:
        for pid, version, at, features, predicted in rows:
            session.add(
                ServedPrediction(
                    prediction_id=pid,
                    model_version=version,
                    **dict(zip(FEATURES, features, strict=True)),
                    predicted_class=predicted,
                    max_probability=0.9,
                    created_at=at,
                )
            )


def red_pixels(png: bytes) -> int:
    """Pixels in the drift colour (the marks of drifting features)."""
    image = np.asarray(Image.open(io.BytesIO(png)).convert("RGB")).astype(int)
    target = np.array([int(DRIFT_COLOR[i : i + 2], 16) for i in (1, 3, 5)])
    return int((np.abs(image - target).sum(axis=2) < 40).sum())


def labels(kind: str) -> dict[str, str]:
    return chart_labels(
        TemplateRenderer(), kind=kind, model_name="iris_classifier", version=2, window=80
    )


def test_accuracy_over_time_per_version_with_the_deploy(db: Database) -> None:
    rows = []
    for i in range(40):  # v1 for the first hour, 3 in 4 right; v2 after the deploy, 1 in 2 right
        version = 1 if i < 20 else 2
        at = NOW - timedelta(hours=2) + timedelta(minutes=3 * i)
        rows.append((f"p{i}", version, at, [5.0, 3.0, 1.5, 0.2], "setosa"))
    serve(db, rows)
    for i in range(40):
        right = i % 4 != 0 if i < 20 else i % 2 == 0
        label = "setosa" if right else "virginica"
        assert record_feedback(db, label=label, prediction_id=f"p{i}").accepted
    with db.session() as session:
        record_deploy(session, kind="deploy", actor="U1", from_version=1, to_version=2,
                      outcome="succeeded")  # fmt: skip
        record_deploy(session, kind="deploy", actor="U1", from_version=2, to_version=3,
                      outcome="failed")  # fmt: skip

    chart = accuracy_chart_data(db, buckets=4)
    assert set(chart.series) == {1, 2}
    for version, expected in ((1, 0.75), (2, 0.5)):
        points = chart.series[version]
        labelled = sum(p.labelled for p in points)
        correct = sum(p.accuracy * p.labelled for p in points)
        assert labelled == 20 and abs(correct / labelled - expected) < 1e-9
    assert points == sorted(points, key=lambda p: p.at)
    assert [(d.version, d.kind) for d in chart.deploys] == [(2, "deploy")]  # succeeded only

    png = accuracy_png(chart, labels("accuracy"))
    assert png.startswith(b"\x89PNG") and Image.open(io.BytesIO(png)).size[0] >= 600


def test_accuracy_chart_is_empty_without_feedback(db: Database) -> None:
    assert accuracy_chart_data(db).empty


def test_drift_chart_marks_exactly_the_drifting_features(db: Database) -> None:
    rng = np.random.default_rng(0)
    reference = rng.normal([5.8, 3.0, 3.7, 1.2], 0.4, size=(120, 4))
    current = rng.normal([5.8, 3.0, 3.7, 1.2], 0.4, size=(80, 4))
    current[:, 2] += 2.5  # petal_length shifts
    serve(db, [(f"d{i}", 2, NOW, list(row), "virginica") for i, row in enumerate(current)])
    report = dataset_drift(reference, current, features=FEATURES)
    assert report.drifted_features == ["petal_length"]

    chart = drift_chart_data(db, report=report, version=2, window=500, reference=reference)
    assert chart.window == 80
    assert [(f.name, f.drifted) for f in chart.features] == [
        (name, name == "petal_length") for name in FEATURES
    ]
    assert np.allclose(np.sort(chart.features[2].current), np.sort(current[:, 2]))
    marked = drift_png(chart, labels("drift"))
    calm = drift_chart_data(
        db, report=dataset_drift(reference, reference, features=FEATURES), version=2,
        window=500, reference=reference,
    )  # fmt: skip
    assert not any(f.drifted for f in calm.features)
    assert red_pixels(marked) > 200 > red_pixels(drift_png(calm, labels("drift")))


async def test_a_chart_that_cannot_be_drawn_is_left_out() -> None:
    def broken(_: dict[str, str]) -> bytes:
        raise ValueError("no data")

    # The draw fails first, so nothing is sent (the client points at a closed port).
    client = AsyncWebClient(token="xoxb-unused", base_url="http://127.0.0.1:9/api/")
    assert not await upload_chart(client, channel="oncall", draw=broken, labels=labels("drift"))
    assert not await upload_chart(client, channel="oncall", draw=lambda _: None, labels={})
