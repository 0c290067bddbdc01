from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

from sqlalchemy import func, select

from bot.db import Database
from bot.serving.app import create_model_app
from bot.serving.models import ServedPrediction
from bot.serving.recorder import PredictionRecorder, recent_served
from tests.serving.conftest import RECORD, running


async def _drained(recorder: PredictionRecorder, rows: int) -> None:
    for _ in range(200):
        if recorder.pending == 0 and recorder.written >= rows:
            return
        await asyncio.sleep(0.02)
    raise AssertionError(
        f"recorder did not flush: pending={recorder.pending} written={recorder.written}"
    )


async def test_served_predictions_are_recorded_and_capped(service, database, recorder_factory):
    recorder = recorder_factory(flush_seconds=0.05, max_rows=40)
    app = create_model_app(service=service, poll_seconds=0.05, recorder=recorder)
    ids: list[str] = []
    async with running(app) as client:
        for i in range(20):
            batch = [dict(RECORD, petal_width=round(0.1 * (i % 5) + 0.1, 1)) for _ in range(3)]
            r = await client.post("/v1/predict", json={"instances": batch})
            ids += [p["id"] for p in r.json()["predictions"]]
        await client.post("/v1/predict", json={"bad": 1})  # rejected requests are not recorded
        await _drained(recorder, 60)
    with database.session() as session:
        assert session.scalar(select(func.count()).select_from(ServedPrediction)) == 40
        served = recent_served(session, limit=100)
    assert [s.prediction_id for s in served] == ids[::-1][:40]  # newest first, oldest trimmed
    newest = served[0]
    assert newest.model_version == 1 and newest.predicted_class == "setosa"
    assert newest.features == dict(RECORD, petal_width=0.5) and 0.5 < newest.max_probability <= 1
    assert newest.created_at.tzinfo is not None


def test_recent_served_filters(database):
    recorder = PredictionRecorder(database)
    recorder.record(1, [[5.1, 3.5, 1.4, 0.2]], ["a" * 32], ["setosa"], [0.9])
    recorder.record(
        2,
        [[6.1, 3.0, 4.6, 1.4], [7.7, 3.0, 6.1, 2.3]],
        ["b" * 32, "c" * 32],
        ["versicolor", "virginica"],
        [0.8, 0.95],
    )
    assert recorder.flush() == 3
    with database.session() as session:
        assert [s.prediction_id[0] for s in recent_served(session, model_version=2)] == ["c", "b"]
        assert len(recent_served(session, limit=1)) == 1
        assert recent_served(session, since=datetime.now(UTC) + timedelta(minutes=1)) == []
        assert len(recent_served(session, since=datetime.now(UTC) - timedelta(minutes=1))) == 3


def test_recorder_samples_when_the_buffer_backs_up(database):
    recorder = PredictionRecorder(database, sample_above=10, sample_every=5)
    for i in range(100):
        recorder.record(1, [[5.1, 3.5, 1.4, 0.2]], [f"{i:032d}"], ["setosa"], [0.9])
    assert recorder.pending == 10 + 90 // 5
    assert recorder.sampled_out == 72 and recorder.recorded == 28


def test_recorder_buffer_is_bounded(database):
    recorder = PredictionRecorder(database, buffer_size=50, sample_above=10_000)
    for i in range(500):
        recorder.record(1, [[5.1, 3.5, 1.4, 0.2]], [f"{i:032d}"], ["setosa"], [0.9])
    assert recorder.pending == 50 and recorder.dropped == 450


async def test_recording_failures_never_reach_requests(service, tmp_path):
    no_table = Database(f"sqlite:///{tmp_path / 'empty.db'}")
    recorder = PredictionRecorder(no_table, flush_seconds=0.02)
    app = create_model_app(service=service, poll_seconds=0.05, recorder=recorder)
    async with running(app) as client:
        for _ in range(5):
            assert (await client.post("/v1/predict", json=RECORD)).status_code == 200
        await asyncio.sleep(0.1)
    assert recorder.failures >= 1
