"""Drift statistics: served inputs and predictions against a reference. Pure numpy/scipy, no I/O.

The defaults are Evidently's: per feature, a two-sample Kolmogorov–Smirnov test (drift at
p ≤ 0.05) while the reference has at most 1,000 rows, and above that the Wasserstein distance
normalised by the reference's standard deviation (drift at ≥ 0.1); the data set drifts when at
least half of its features do. The population stability index is reported beside either.

Every function is O(n log n) at worst (sorting inside KS / Wasserstein); PSI bins with
`np.searchsorted` against ten quantile edges. Degenerate inputs (empty or tiny windows, constant
features, non-finite values) give a result with a `status`, never an exception or a NaN.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np
from scipy import stats

Status = Literal["ok", "not_enough_data", "constant"]
Method = Literal["ks", "wasserstein", "none"]

PSI_BINS = 10
PSI_EPSILON = 1e-4


@dataclass(frozen=True)
class DriftThresholds:
    """When a feature, the data set and the predictions count as drifted (Evidently's defaults)."""

    ks_pvalue: float = 0.05
    wasserstein: float = 0.1
    reference_ks_max_rows: int = 1000
    drift_share: float = 0.5
    min_window: int = 30
    prediction_pvalue: float = 0.05


@dataclass(frozen=True)
class FeatureDrift:
    """One feature's drift: the test used, its statistic, and whether it crossed the threshold."""

    name: str
    method: Method
    statistic: float | None
    p_value: float | None
    distance: float | None
    psi: float | None
    drifted: bool
    window_size: int
    reference_size: int
    status: Status = "ok"

    @property
    def score(self) -> float | None:
        """The number the threshold applies to: the p-value (KS) or the distance (Wasserstein)."""
        return self.p_value if self.method == "ks" else self.distance


@dataclass(frozen=True)
class DriftReport:
    """Drift of every feature and of the data set as a whole."""

    features: list[FeatureDrift]
    drifted_share: float
    dataset_drifted: bool
    window: int
    reference: int
    enough_data: bool
    reason: str | None = None

    @property
    def drifted_features(self) -> list[str]:
        return [f.name for f in self.features if f.drifted]


@dataclass(frozen=True)
class PredictionDrift:
    """Class distribution of recent predictions against the expected (holdout) distribution."""

    statistic: float | None
    p_value: float | None
    drifted: bool
    window_size: int
    observed: dict[str, int]
    expected_share: dict[str, float]
    enough_data: bool
    reason: str | None = None


def _finite(values: np.ndarray | Sequence[float]) -> np.ndarray:
    arr = np.asarray(values, dtype=np.float64).ravel()
    return arr[np.isfinite(arr)]


def psi(reference: np.ndarray, current: np.ndarray, *, bins: int = PSI_BINS) -> float | None:
    """Population stability index over quantile bins of the reference; None if it has no spread."""
    reference, current = _finite(reference), _finite(current)
    if reference.size == 0 or current.size == 0:
        return None
    edges = np.unique(np.quantile(reference, np.linspace(0.0, 1.0, bins + 1)))
    if edges.size < 2:
        return None
    inner = edges[1:-1]  # bins: (-inf, e1), [e1, e2), ..., [e_last, inf)
    n_bins = inner.size + 1
    ref_share = np.bincount(np.searchsorted(inner, reference, side="right"), minlength=n_bins)
    cur_share = np.bincount(np.searchsorted(inner, current, side="right"), minlength=n_bins)
    ref_p = np.maximum(ref_share / reference.size, PSI_EPSILON)
    cur_p = np.maximum(cur_share / current.size, PSI_EPSILON)
    return float(np.sum((cur_p - ref_p) * np.log(cur_p / ref_p)))


def feature_drift(
    name: str,
    reference: np.ndarray | Sequence[float],
    current: np.ndarray | Sequence[float],
    *,
    thresholds: DriftThresholds = DriftThresholds(),
) -> FeatureDrift:
    """Drift of one feature: KS for small references, normalised Wasserstein for large ones."""
    ref, cur = _finite(reference), _finite(current)

    def undecided(status: Status, psi_value: float | None = None) -> FeatureDrift:
        return FeatureDrift(
            name, "none", None, None, None, psi_value, False, cur.size, ref.size, status
        )

    if cur.size < max(thresholds.min_window, 1) or ref.size < max(thresholds.min_window, 1):
        return undecided("not_enough_data")
    # max == min, not std == 0: the std of n copies of 0.2 is 5.6e-17, not zero.
    if np.ptp(ref) == 0.0 or np.ptp(cur) == 0.0:
        return undecided("constant", psi(ref, cur))
    ref_std = float(np.std(ref))
    psi_value = psi(ref, cur)
    if ref.size <= thresholds.reference_ks_max_rows:
        result = stats.ks_2samp(ref, cur)
        p_value = float(result.pvalue)
        return FeatureDrift(
            name=name,
            method="ks",
            statistic=float(result.statistic),
            p_value=p_value,
            distance=None,
            psi=psi_value,
            drifted=p_value <= thresholds.ks_pvalue,
            window_size=cur.size,
            reference_size=ref.size,
        )
    distance = float(stats.wasserstein_distance(ref, cur)) / ref_std
    return FeatureDrift(
        name=name,
        method="wasserstein",
        statistic=distance,
        p_value=None,
        distance=distance,
        psi=psi_value,
        drifted=distance >= thresholds.wasserstein,
        window_size=cur.size,
        reference_size=ref.size,
    )


def dataset_drift(
    reference: np.ndarray,
    current: np.ndarray,
    *,
    features: Sequence[str],
    thresholds: DriftThresholds = DriftThresholds(),
) -> DriftReport:
    """Drift of every column (rows × features arrays); the data set drifts at `drift_share`."""
    ref = np.asarray(reference, dtype=np.float64).reshape(-1, len(features))
    cur = np.asarray(current, dtype=np.float64).reshape(-1, len(features))
    window, ref_rows = int(cur.shape[0]), int(ref.shape[0])
    results = [
        feature_drift(name, ref[:, i], cur[:, i], thresholds=thresholds)
        for i, name in enumerate(features)
    ]
    judged = [r for r in results if r.status == "ok"]
    if window < thresholds.min_window or ref_rows < thresholds.min_window or not judged:
        if window == 0:
            reason = "no served inputs in the window"
        elif window < thresholds.min_window:
            reason = f"{window} served inputs, at least {thresholds.min_window} needed"
        elif ref_rows < thresholds.min_window:
            reason = f"{ref_rows} reference rows, at least {thresholds.min_window} needed"
        else:
            reason = "every feature is constant"
        return DriftReport(results, 0.0, False, window, ref_rows, False, reason)
    share = sum(r.drifted for r in results) / len(results)
    return DriftReport(
        features=results,
        drifted_share=share,
        dataset_drifted=share >= thresholds.drift_share,
        window=window,
        reference=ref_rows,
        enough_data=True,
    )


def class_shares(labels: Sequence[str] | np.ndarray) -> dict[str, float]:
    """Share of each class in a list of labels (the expected distribution)."""
    names, counts = np.unique(np.asarray(labels).astype(str), return_counts=True)
    total = counts.sum()
    return {str(n): float(c / total) for n, c in zip(names, counts, strict=True)} if total else {}


def prediction_drift(
    predicted: Sequence[str],
    *,
    expected_share: Mapping[str, float],
    thresholds: DriftThresholds = DriftThresholds(),
) -> PredictionDrift:
    """Chi-square goodness of fit of the predicted classes against the expected shares."""
    observed: dict[str, int] = {name: 0 for name in expected_share}
    for name in predicted:
        observed[name] = observed.get(name, 0) + 1
    window = len(predicted)
    expected = {k: float(v) for k, v in expected_share.items() if v > 0}
    if window < max(thresholds.min_window, 1) or len(expected) < 2:
        reason = (
            f"{window} predictions, at least {thresholds.min_window} needed"
            if window < max(thresholds.min_window, 1)
            else "the expected distribution has fewer than two classes"
        )
        return PredictionDrift(None, None, False, window, observed, dict(expected), False, reason)
    unexpected = sum(c for k, c in observed.items() if k not in expected)
    if unexpected:  # a class the reference never had: drift, whatever the test says
        return PredictionDrift(None, 0.0, True, window, observed, dict(expected), True)
    names = sorted(expected)
    total_share = sum(expected.values())
    f_obs = np.array([observed[k] for k in names], dtype=np.float64)
    f_exp = np.array([expected[k] / total_share for k in names]) * window
    result = stats.chisquare(f_obs, f_exp)
    statistic, p_value = float(result.statistic), float(result.pvalue)
    if not (math.isfinite(statistic) and math.isfinite(p_value)):
        return PredictionDrift(None, None, False, window, observed, dict(expected), False, "n/a")
    return PredictionDrift(
        statistic=statistic,
        p_value=p_value,
        drifted=p_value <= thresholds.prediction_pvalue,
        window_size=window,
        observed=observed,
        expected_share=dict(expected),
        enough_data=True,
    )
