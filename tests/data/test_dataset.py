"""The training set, rows since a time and the dataset summary."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pytest
import time_machine

from bot.data.service import (
    dataset_summary,
    ingest_landing,
    record_feedback,
    rows_since,
    training_set,
)
from bot.db import Database
from bot.training.iris import data_hash, holdout_split
from tests.data.conftest import HEADER

VIRGINICA = {"sepal_length": 7.0, "sepal_width": 3.1, "petal_length": 6.0, "petal_width": 2.2}


def _holdout_row() -> tuple[list[float], str]:
    split = holdout_split()
    return [float(v) for v in split.X_holdout[0]], str(split.y_holdout[0])


def _land(landing: Path, name: str, rows: list[str]) -> None:
    (landing / name).write_text(HEADER + "".join(r + "\n" for r in rows))


def test_base_only_is_iris_minus_the_holdout(db: Database) -> None:
    data = training_set(db)
    split = holdout_split()
    assert data.rows_by_source == {"base": 105, "landing": 0, "feedback": 0}
    assert data.X.shape == (105, 4) and data.X.dtype == np.float64
    assert np.array_equal(data.X, split.X_train) and list(data.y) == list(split.y_train)
    assert data.holdout_version == split.holdout_version
    assert data.data_hash == data_hash(data.X, data.y)
    assert data.class_counts == {"setosa": 35, "versicolor": 35, "virginica": 35}


def test_collected_rows_are_added_and_holdout_rows_dropped(db: Database, landing: Path) -> None:
    features, label = _holdout_row()
    _land(landing, "a.csv", ["5.0,3.0,1.5,0.2,setosa", ",".join(map(str, features)) + f",{label}"])
    ingest_landing(db, landing_dir=landing)
    record_feedback(db, label="virginica", features=VIRGINICA)
    data = training_set(db)
    assert data.rows_by_source == {"base": 105, "landing": 1, "feedback": 1}
    assert data.X.shape == (107, 4)
    assert list(data.X[105]) == [5.0, 3.0, 1.5, 0.2] and data.y[-1] == "virginica"
    held = {tuple(np.round(r, 9)) for r in holdout_split().X_holdout}
    assert not any(tuple(np.round(r, 9)) in held for r in data.X)
    assert data.class_counts["setosa"] == 36


def test_include_and_hash_determinism(db: Database, landing: Path) -> None:
    before = training_set(db).data_hash
    _land(landing, "a.csv", ["5.0,3.0,1.5,0.2,setosa", "6.0,2.9,4.5,1.5,versicolor"])
    ingest_landing(db, landing_dir=landing)
    record_feedback(db, label="virginica", features=VIRGINICA)
    full = training_set(db)
    assert full.data_hash != before
    assert training_set(db).data_hash == full.data_hash  # same data, same hash
    assert full.data_hash == data_hash(full.X, full.y)
    only_landing = training_set(db, include=["landing"])
    assert only_landing.rows_by_source == {"landing": 2} and only_landing.X.shape == (2, 4)
    assert training_set(db, include=["base"]).data_hash == before
    assert training_set(db, include=("base", "landing")).rows_by_source["landing"] == 2
    with pytest.raises(ValueError, match="unknown source 'web'"):
        training_set(db, include=["web"])


def test_rows_since_and_summary(db: Database, landing: Path) -> None:
    start = datetime(2025, 1, 1, tzinfo=UTC)
    with time_machine.travel(start, tick=False):
        _land(landing, "old.csv", ["5.0,3.0,1.5,0.2,setosa", "6.0,2.9,4.5,1.5,versicolor"])
        ingest_landing(db, landing_dir=landing)
    with time_machine.travel(start + timedelta(days=2), tick=False):
        _land(landing, "new.csv", ["6.1,3.0,4.6,1.4,versicolor", "5.0,3.0,1.5,bad,setosa"])
        ingest_landing(db, landing_dir=landing)
        record_feedback(db, label="virginica", features=VIRGINICA)
        record_feedback(db, label="tulip", features=VIRGINICA)
    assert rows_since(db, since=None) == 4
    assert rows_since(db, since=start + timedelta(days=1)) == 2
    # Naive times are UTC.
    assert rows_since(db, since=datetime(2025, 1, 2)) == 2
    summary = dataset_summary(db, since=start + timedelta(days=1))
    assert summary.rows_by_source == {"base": 105, "landing": 3, "feedback": 1}
    assert summary.rows_by_class["landing"] == {"setosa": 1, "versicolor": 2, "virginica": 0}
    assert summary.rows_by_class["base"]["virginica"] == 35
    assert summary.new_since == 2
    assert summary.quarantined == 2
    assert summary.quarantine_reasons == {"not a number": 1, "unknown class": 1}
    assert summary.recent_quarantine[0].startswith("feedback direct: label: unknown class 'tulip'")
    assert (
        summary.recent_quarantine[1] == "landing new.csv line 3: petal_width: not a number ('bad')"
    )
    assert summary.files == 2
    assert dataset_summary(db).new_since is None
