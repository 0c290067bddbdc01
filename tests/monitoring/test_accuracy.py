"""The accuracy monitor on labelled feedback, and the service around it (SQLite and PostgreSQL)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from prometheus_client import CollectorRegistry, generate_latest
from sqlalchemy import insert

from bot.config import Settings
from bot.data.models import Sample
from bot.db import Database
from bot.messages import TemplateRenderer
from bot.monitoring.checks import check_accuracy
from bot.monitoring.service import build_monitoring
from bot.serving.models import ServedPrediction

ROW = {"sepal_length": 5.0, "sepal_width": 3.0, "petal_length": 1.5, "petal_width": 0.2}


def serve_and_label(db: Database, *, version: int, right: int, wrong: int, start: int = 0) -> None:
    """`right + wrong` served setosa predictions, with feedback (by id) that agrees `right` times."""
    now = datetime.now(UTC)
    served, samples = [], []
    for n in range(start, start + right + wrong):
        pid = f"v{version}-{n:08d}"
        served.append({"prediction_id": pid, "model_version": version, **ROW,
                       "predicted_class": "setosa", "max_probability": 0.9, "created_at": now})  # fmt: skip
        label = "setosa" if n - start < right else "versicolor"
        samples.append({"source": "feedback", "source_ref": pid, "line": None, **ROW,
                        "label": label, "file_id": None, "created_at": now})  # fmt: skip
    with db.engine.begin() as conn:
        conn.execute(insert(ServedPrediction.__table__), served)
        conn.execute(insert(Sample.__table__), samples)


def test_accuracy_of_labelled_feedback_in_a_window(db: Database) -> None:
    def check(**kw: Any):  # type: ignore[no-untyped-def]
        args = {
            "version": 2,
            "window": 200,
            "min_labelled": 30,
            "floor": 0.85,
            "holdout_accuracy": 0.97,
        }
        return check_accuracy(db, **{**args, **kw})

    empty = check()
    assert not empty.enough_data and not empty.below_floor and empty.accuracy is None
    assert empty.reason == "0 labelled predictions, at least 30 needed"

    serve_and_label(db, version=2, right=20, wrong=0)
    assert not check().enough_data and check().labelled == 20

    serve_and_label(db, version=2, right=40, wrong=40, start=20)  # newest 80: half wrong
    result = check()
    assert result.enough_data and result.labelled == 100 and result.correct == 60
    assert result.accuracy == pytest.approx(0.6) and result.below_floor
    assert result.drop == pytest.approx(0.37)
    windowed = check(window=50)  # the newest 50 labels: 10 right, then the 40 wrong
    assert windowed.labelled == 50 and windowed.correct == 0 + 10

    # Feedback on another version's predictions does not count against this one.
    serve_and_label(db, version=1, right=100, wrong=0, start=1000)
    assert check().accuracy == pytest.approx(0.6)
    assert check(version=1).accuracy == pytest.approx(1.0)
    assert not check(version=1).below_floor


def test_missing_tables_are_a_result_not_an_error(tmp_path) -> None:  # type: ignore[no-untyped-def]
    database = Database(f"sqlite:///{tmp_path / 'empty.db'}")
    result = check_accuracy(
        database, version=1, window=10, min_labelled=1, floor=0.9, holdout_accuracy=None
    )
    assert not result.enough_data and result.reason.startswith("feedback unreadable")
    database.dispose()


class FakeModels:
    def production_version(self) -> int:
        return 2

    def describe(self, version: int) -> Any:
        return type("MV", (), {"accuracy": 0.97})()


class RecordingSink:
    def __init__(self) -> None:
        self.payloads: list[dict] = []

    async def deliver(self, payload: dict) -> None:
        self.payloads.append(payload)


async def test_service_alerts_exports_and_diagnoses(db: Database, tmp_path) -> None:  # type: ignore[no-untyped-def]
    settings = Settings(oncall_data_dir=tmp_path, model_server_url="http://127.0.0.1:9")
    registry, sink = CollectorRegistry(), RecordingSink()
    service = build_monitoring(
        settings, db=db, models=FakeModels(), sink=sink, renderer=TemplateRenderer(),  # type: ignore[arg-type]
        registry=registry,
    )  # fmt: skip
    try:
        serve_and_label(db, version=2, right=30, wrong=20)
        snapshot = await service.run_all()
        assert snapshot.accuracy is not None and snapshot.accuracy.below_floor
        assert snapshot.serving is not None and not snapshot.serving.up
        assert snapshot.drift is not None
        assert snapshot.drift.inputs.reason == "every feature is constant"
        # All 50 served rows are one setosa input: constant features (no input verdict), but the
        # predicted classes are all setosa, far from the holdout's thirds.
        assert snapshot.firing == [
            "ModelAccuracyBelowFloor",
            "ModelPredictionDrift",
            "ModelServerDown",
        ]
        by_name = {p["commonLabels"]["alertname"]: p for p in sink.payloads}
        accuracy = by_name["ModelAccuracyBelowFloor"]
        assert accuracy["status"] == "firing"
        assert accuracy["commonLabels"]["severity"] == "critical"
        assert accuracy["commonLabels"]["runbook"] == "rollback"
        assert accuracy["commonLabels"]["version"] == "2"
        assert "60.0%" in accuracy["commonAnnotations"]["summary"]
        assert "below the floor 85.0%" in accuracy["commonAnnotations"]["summary"]
        assert by_name["ModelServerDown"]["commonLabels"]["severity"] == "critical"

        exported = generate_latest(registry).decode()
        assert 'oncall_model_accuracy_window{model="iris_classifier",version="2"} 0.6' in exported
        assert 'oncall_model_accuracy_floor{model="iris_classifier"} 0.85' in exported
        assert 'oncall_serving_up{model="iris_classifier"} 0.0' in exported
        assert 'oncall_monitor_alert_firing{alertname="ModelAccuracyBelowFloor"' in exported

        diagnosis = service.diagnose(alertname="ModelAccuracyBelowFloor", labels={})
        assert diagnosis.kind == "accuracy" and "60.0%" in diagnosis.title
        assert any("30 right of 50" in line for line in diagnosis.lines)
        drift = service.diagnose(alertname="ModelInputDrift", labels={"model": "iris_classifier"})
        assert drift.kind == "drift" and any(
            line.startswith("petal_length") for line in drift.lines
        )
        assert service.diagnose(alertname="DiskFull", labels={}).kind == "none"

        sink.payloads.clear()
        await service.run_all()  # nothing changed: nothing sent
        assert sink.payloads == []
        serve_and_label(db, version=2, right=200, wrong=0, start=100)
        await service.run(("accuracy",))
        assert [(p["commonLabels"]["alertname"], p["status"]) for p in sink.payloads] == [
            ("ModelAccuracyBelowFloor", "resolved")
        ]
    finally:
        await service.aclose()
