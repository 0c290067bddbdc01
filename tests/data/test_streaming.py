"""Ingestion streams: memory stays flat however large the file."""

from __future__ import annotations

import tracemalloc
from pathlib import Path

import numpy as np

from bot.data import models as _models  # noqa: F401
from bot.data.service import ingest_landing, training_set
from bot.db import Base, Database
from bot.training.iris import CLASSES
from tests.data.conftest import HEADER

ROWS = 200_000


def test_200k_rows_ingest_with_bounded_memory(tmp_path: Path) -> None:
    landing = tmp_path / "landing"
    landing.mkdir()
    rng = np.random.default_rng(0)
    values = rng.uniform(0.1, 8.0, size=(ROWS, 4)).round(2)
    labels = np.asarray(CLASSES)[rng.integers(0, 3, ROWS)]
    with (landing / "big.csv").open("w") as fh:
        fh.write(HEADER)
        fh.writelines(
            f"{a},{b},{c},{d},{s}\n"
            for (a, b, c, d), s in zip(values.tolist(), labels, strict=True)
        )
    db = Database(f"sqlite:///{tmp_path / 'big.db'}")
    Base.metadata.create_all(db.engine)
    tracemalloc.start()
    try:
        report = ingest_landing(db, landing_dir=landing)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert report.rows_added == ROWS and report.rows_quarantined == 0
    # Loading the file at once would take well over 40 MB of Python objects.
    assert peak < 40 * 1024 * 1024, f"peak {peak / 2**20:.1f} MB"
    data = training_set(db, include=["landing"])
    assert data.X.shape[0] <= ROWS and data.X.shape[0] > ROWS - 100
    db.dispose()
