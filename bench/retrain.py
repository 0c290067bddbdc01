"""Benchmark the retrain path on a large data set: streaming ingestion, the training set, training.

    .venv/bin/python bench/retrain.py [--rows 1000000] [--no-trace] [--estimators logistic_regression,random_forest]

Generates Iris-like rows (per class, normal around the real class means and spreads, clipped
positive) into a CSV written in chunks, ingests it with `ingest_landing` into a fresh SQLite DB,
builds `training_set()`, then trains each estimator with `fit_candidate` (the function the bot's
process pool runs for `/iris retrain`: holdout split, fit, holdout evaluation, skops bytes). Ingestion runs twice on the same file into two fresh databases:
once plain for throughput and RSS, once under tracemalloc (which slows Python allocations down)
for the Python heap peak. The baseline, in the same run, is the same CSV read at once with pandas
(its time untraced, then its memory), measured last so its memory does not inflate the RSS
figures before it. Fresh databases get their tables from the project's migrations.
"""

from __future__ import annotations

import argparse
import gc
import resource
import sys
import tempfile
import time
import tracemalloc
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bot.data.service import ingest_landing, training_set  # noqa: E402
from bot.db import Database  # noqa: E402
from bot.db.migrate import upgrade_to_head  # noqa: E402
from bot.retrain.jobs import fit_candidate  # noqa: E402
from bot.training.iris import CLASSES, FEATURES, _iris_arrays  # noqa: E402

MB = 1024 * 1024


def max_rss_mb() -> float:
    # Linux reports ru_maxrss in KiB.
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def write_csv(path: Path, rows: int, *, chunk: int = 100_000, seed: int = 7) -> None:
    """Synthetic Iris-like rows, streamed to disk chunk by chunk."""
    import pandas as pd

    X, y = _iris_arrays()
    means = np.array([X[y == c].mean(axis=0) for c in CLASSES])
    stds = np.array([X[y == c].std(axis=0) for c in CLASSES])
    rng = np.random.default_rng(seed)
    names = np.asarray(CLASSES)
    with path.open("w", newline="") as fh:
        fh.write("sepal_length,sepal_width,petal_length,petal_width,species\n")
        for start in range(0, rows, chunk):
            n = min(chunk, rows - start)
            cls = rng.integers(0, len(CLASSES), n)
            values = np.clip(rng.normal(means[cls], stds[cls]), 0.1, 30.0).round(2)
            frame = pd.DataFrame(values, columns=FEATURES)
            frame["species"] = names[cls]
            # pandas' C writer: the generator should not dominate the benchmark's run time.
            frame.to_csv(fh, header=False, index=False, float_format="%.2f", lineterminator="\n")


def fresh_db(path: Path) -> Database:
    """A database whose tables the project's migrations created."""
    url = f"sqlite:///{path}"
    upgrade_to_head(url)
    return Database(url)


def traced(call: Callable[[], Any]) -> tuple[Any, float, float]:
    """(result, seconds, tracemalloc peak MB) of one call."""
    gc.collect()
    tracemalloc.start()
    start = time.perf_counter()
    try:
        result = call()
        seconds = time.perf_counter() - start
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    return result, seconds, peak / MB


def pandas_baseline(path: Path) -> tuple[float, float, float]:
    """(read_csv seconds untraced, DataFrame memory MB, tracemalloc peak MB of read_csv) for the
    whole file at once."""
    import pandas as pd

    start = time.perf_counter()
    pd.read_csv(path)
    seconds = time.perf_counter() - start
    gc.collect()
    frame, _, peak = traced(lambda: pd.read_csv(path))
    return seconds, frame.memory_usage(deep=True).sum() / MB, peak


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--no-trace", action="store_true", help="skip the tracemalloc run")
    parser.add_argument(
        "--estimators",
        default="logistic_regression,random_forest",
        help="comma-separated estimators to train on the full training set",
    )
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="ingest-bench-") as tmp:
        root = Path(tmp)
        landing = root / "landing"
        landing.mkdir()
        csv_path = landing / "samples.csv"
        start = time.perf_counter()
        write_csv(csv_path, args.rows)
        gen_seconds = time.perf_counter() - start
        csv_mb = csv_path.stat().st_size / MB

        db = fresh_db(root / "plain.db")
        rss_before = max_rss_mb()
        start = time.perf_counter()
        report = ingest_landing(db, landing_dir=landing, archive=False)
        ingest_seconds = time.perf_counter() - start
        rss_after_ingest = max_rss_mb()
        assert report.rows_added == args.rows, report

        trace_peak = None
        if not args.no_trace:
            traced_db = fresh_db(root / "traced.db")
            _, _, trace_peak = traced(
                lambda: ingest_landing(traced_db, landing_dir=landing, archive=False)
            )
            traced_db.dispose()

        start = time.perf_counter()
        data = training_set(db)
        ts_seconds = time.perf_counter() - start
        rss_after_ts = max_rss_mb()
        training_rows = len(data.y)
        fits = []
        for estimator in [e for e in args.estimators.split(",") if e]:
            result, seconds, peak = traced(
                lambda estimator=estimator, X=data.X, y=data.y: fit_candidate(estimator, {}, X, y)
            )
            fits.append((estimator, seconds, peak, result["evaluation"]["accuracy"]))
        del data
        _, _, ts_peak = traced(lambda: training_set(db))
        db_mb = (root / "plain.db").stat().st_size / MB
        db.dispose()

        frame_seconds, frame_mb, frame_peak = pandas_baseline(csv_path)

    rows = [
        ("rows", f"{args.rows:,}"),
        ("CSV on disk", f"{csv_mb:,.1f} MB (generated in {gen_seconds:.1f} s)"),
        ("SQLite DB after ingest", f"{db_mb:,.1f} MB"),
        ("ingest time", f"{ingest_seconds:.2f} s"),
        ("ingest throughput", f"{args.rows / ingest_seconds:,.0f} rows/s"),
        ("baseline: pandas read_csv of the file (no storing)", f"{frame_seconds:.2f} s"),
        ("ingest tracemalloc peak", "skipped" if trace_peak is None else f"{trace_peak:.1f} MB"),
        ("process max RSS before ingest", f"{rss_before:,.0f} MB"),
        ("process max RSS after ingest", f"{rss_after_ingest:,.0f} MB"),
        ("baseline: pandas DataFrame of the file", f"{frame_mb:,.1f} MB"),
        ("baseline: pandas read_csv tracemalloc peak", f"{frame_peak:,.1f} MB"),
        ("training_set() time", f"{ts_seconds:.2f} s"),
        ("training_set() tracemalloc peak", f"{ts_peak:,.1f} MB"),
        ("process max RSS after training_set()", f"{rss_after_ts:,.0f} MB"),
        ("training rows (base + collected, holdout excluded)", f"{training_rows:,}"),
    ]
    for estimator, seconds, peak, accuracy in fits:
        rows.append(
            (
                f"train {estimator}",
                f"{seconds:.1f} s, tracemalloc peak {peak:,.0f} MB, holdout accuracy {accuracy:.3f}",
            )
        )
    rows.append(("process max RSS at the end", f"{max_rss_mb():,.0f} MB"))
    width = max(len(k) for k, _ in rows)
    print(f"\n{'metric'.ljust(width)}  value")
    print(f"{'-' * width}  {'-' * 40}")
    for key, value in rows:
        print(f"{key.ljust(width)}  {value}")


if __name__ == "__main__":
    main()
