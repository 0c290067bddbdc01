"""Benchmark one drift check (four features, `dataset_drift`) as the window grows.

    .venv/bin/python bench/drift.py [--sizes 1000,100000,1000000] [--repeat 3]

For each size n the window and the reference both have n rows (Iris-like, normal around the real
feature means and spreads; the window's petal_length shifted by 0.5 sd), so n = 1,000 takes the
KS path (reference ≤ DRIFT_REFERENCE_KS_MAX_ROWS) and larger sizes the Wasserstein path; both
methods are also timed at every size by moving the threshold. The baseline, in the same run, is
`np.sort` of the same eight columns: the n log n floor any exact two-sample test pays. Printed:
best-of-`repeat` seconds, nanoseconds per row, the growth ratio to the previous size against
the ratio n log n would give, and the check's cost in units of the sort baseline.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import time
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bot.monitoring.drift import DriftThresholds, dataset_drift  # noqa: E402
from bot.training.iris import FEATURES, _iris_arrays  # noqa: E402


def make_rows(n: int, *, seed: int, shift_sd: float = 0.0) -> np.ndarray:
    X, _ = _iris_arrays()
    rng = np.random.default_rng(seed)
    rows = rng.normal(X.mean(axis=0), X.std(axis=0), size=(n, len(FEATURES)))
    rows[:, FEATURES.index("petal_length")] += shift_sd * X[:, 2].std()
    return np.abs(rows)


def best_of(repeat: int, fn: Callable[[], object]) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sizes", default="1000,100000,1000000")
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    default = DriftThresholds()
    forced = {
        "default": None,
        "ks": replace(default, reference_ks_max_rows=10**12),
        "wasserstein": replace(default, reference_ks_max_rows=0),
    }
    results: list[dict[str, object]] = []
    print(
        f"{'rows':>9} {'what':<12} {'method':<11} {'seconds':>9} {'ns/row':>8} "
        f"{'growth':>7} {'n log n':>7} {'× sort':>7}"
    )
    previous: dict[str, tuple[int, float]] = {}
    for n in sizes:
        reference, window = make_rows(n, seed=1), make_rows(n, seed=2, shift_sd=0.5)
        columns = [*reference.T, *window.T]
        columns = [np.ascontiguousarray(c) for c in columns]
        sort_s = best_of(args.repeat, lambda cols=columns: [np.sort(c) for c in cols])
        timings = {"np.sort ×8": ("baseline", sort_s)}
        for label, thresholds in forced.items():
            th = thresholds or default
            report = dataset_drift(reference, window, features=FEATURES, thresholds=th)
            assert report.drifted_features == ["petal_length"], report.drifted_features
            seconds = best_of(
                args.repeat,
                lambda th=th, r=reference, w=window: dataset_drift(
                    r, w, features=FEATURES, thresholds=th
                ),
            )
            timings[f"check:{label}"] = (report.features[0].method, seconds)
        for what, (method, seconds) in timings.items():
            ns_row = seconds / n * 1e9
            growth = nlogn = ""
            if what in previous:
                n0, s0 = previous[what]
                growth = f"{seconds / s0:.1f}×"
                nlogn = f"{(n * math.log(n)) / (n0 * math.log(n0)):.1f}×"
            previous[what] = (n, seconds)
            print(
                f"{n:>9} {what:<12} {method:<11} {seconds:>9.4f} {ns_row:>8.1f} "
                f"{growth:>7} {nlogn:>7} {seconds / sort_s:>6.1f}×"
            )
            results.append({"rows": n, "what": what, "method": method, "seconds": seconds})
    out = ROOT / "bench" / "out"
    out.mkdir(exist_ok=True)
    (out / "drift.json").write_text(json.dumps(results, indent=1))


if __name__ == "__main__":
    main()
