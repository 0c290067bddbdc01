"""Drift statistics against known cases (seeded), including the degenerate ones."""

from __future__ import annotations

import math

import numpy as np
import pytest

from bot.monitoring.drift import (
    DriftThresholds,
    class_shares,
    dataset_drift,
    feature_drift,
    prediction_drift,
    psi,
)
from bot.training.iris import CLASSES, FEATURES, holdout_split

REF = holdout_split().X_train
PETAL_LENGTH = FEATURES.index("petal_length")


def resample(n: int, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return REF[rng.integers(0, len(REF), n)].copy()


def shifted(n: int, columns: list[int], seed: int = 0) -> np.ndarray:
    window = resample(n, seed)
    for col in columns:
        window[:, col] += 2 * REF[:, col].std()
    return window


def test_a_resample_of_the_reference_does_not_drift() -> None:
    for seed in range(5):
        report = dataset_drift(REF, resample(300, seed), features=FEATURES)
        assert report.enough_data and not report.dataset_drifted
        assert report.drifted_features == []
        assert all(f.method == "ks" and f.p_value > 0.05 for f in report.features)
        assert all(0 <= f.psi < 0.1 for f in report.features)  # PSI < 0.1: "no change"


def test_petal_length_shifted_by_two_sd_drifts_but_one_feature_is_not_the_data_set() -> None:
    report = dataset_drift(REF, shifted(300, [PETAL_LENGTH]), features=FEATURES)
    assert report.drifted_features == ["petal_length"]
    petal = report.features[PETAL_LENGTH]
    assert petal.method == "ks" and petal.p_value < 1e-6 and petal.statistic > 0.5
    assert petal.psi > 0.25  # PSI > 0.25: "major shift"
    assert petal.window_size == 300 and petal.reference_size == len(REF)
    assert report.drifted_share == 0.25 and not report.dataset_drifted


def test_two_of_four_features_shifted_drift_the_data_set() -> None:
    report = dataset_drift(REF, shifted(300, [2, 3]), features=FEATURES)
    assert report.drifted_features == ["petal_length", "petal_width"]
    assert report.drifted_share == 0.5 and report.dataset_drifted


def test_large_references_use_normalised_wasserstein() -> None:
    rng = np.random.default_rng(7)
    reference = rng.normal(5.0, 2.0, 5_000)
    same = feature_drift("x", reference, rng.normal(5.0, 2.0, 5_000))
    moved = feature_drift("x", reference, rng.normal(5.6, 2.0, 5_000))  # 0.3 sd
    assert same.method == moved.method == "wasserstein"
    assert same.p_value is None and same.distance is not None and same.distance < 0.1
    assert not same.drifted
    assert moved.drifted and moved.distance == pytest.approx(0.3, abs=0.05)
    assert moved.statistic == moved.distance == moved.score
    # The same data under a custom threshold.
    strict = feature_drift(
        "x", reference, rng.normal(5.0, 2.0, 5_000), thresholds=DriftThresholds(wasserstein=0.01)
    )
    assert strict.method == "wasserstein"
    # At the boundary (<= DRIFT_REFERENCE_KS_MAX_ROWS rows) the KS test is used.
    assert feature_drift("x", reference[:1000], reference[1000:2000]).method == "ks"


def test_psi_is_zero_for_identical_data_and_grows_with_the_shift() -> None:
    rng = np.random.default_rng(3)
    reference = rng.normal(0, 1, 10_000)
    assert psi(reference, reference) == pytest.approx(0.0, abs=1e-12)
    small, large = psi(reference, reference + 0.2), psi(reference, reference + 1.0)
    assert small is not None and large is not None and 0 < small < 0.1 < large
    # Values outside the reference range land in the end bins; empty bins get the epsilon.
    assert math.isfinite(psi(reference, np.full(100, 50.0)))
    assert psi(np.ones(50), reference) is None  # no spread in the reference: no bins


@pytest.mark.parametrize("size", [0, 1, 29])
def test_tiny_and_empty_windows_are_not_enough_data(size: int) -> None:
    report = dataset_drift(REF, resample(size), features=FEATURES)
    assert not report.enough_data and not report.dataset_drifted
    assert report.drifted_share == 0.0 and report.window == size
    assert report.reason and ("no served inputs" in report.reason or "30 needed" in report.reason)
    for f in report.features:
        assert f.status == "not_enough_data" and f.method == "none" and not f.drifted
        assert f.p_value is None and f.distance is None


def test_constant_features_are_reported_not_failed() -> None:
    window = resample(100)
    window[:, 0] = 5.0  # constant in the window
    reference = REF.copy()
    reference[:, 1] = 3.0  # constant in the reference
    report = dataset_drift(reference, window, features=FEATURES)
    assert report.enough_data
    first, second = report.features[0], report.features[1]
    assert first.status == second.status == "constant"
    assert not first.drifted and first.p_value is None and first.statistic is None
    assert second.psi is None  # no quantile bins in a constant reference
    values = [v for f in report.features for v in (f.statistic, f.p_value, f.distance, f.psi)]
    assert not any(isinstance(v, float) and math.isnan(v) for v in values)

    every = dataset_drift(np.ones((100, 4)), np.ones((100, 4)), features=FEATURES)
    assert not every.enough_data and every.reason == "every feature is constant"


def test_non_finite_values_are_dropped() -> None:
    window = resample(100)
    window[:10, 2] = np.nan
    window[10:20, 2] = np.inf
    result = feature_drift("petal_length", REF[:, 2], window[:, 2])
    assert result.window_size == 80 and result.status == "ok" and not result.drifted


def test_prediction_drift_chi_square() -> None:
    expected = class_shares(holdout_split().y_holdout)
    assert expected == pytest.approx({c: 1 / 3 for c in CLASSES})

    balanced = prediction_drift(["setosa", "versicolor", "virginica"] * 40, expected_share=expected)
    assert balanced.enough_data and not balanced.drifted and balanced.p_value == pytest.approx(1.0)

    skewed = prediction_drift(
        ["virginica"] * 80 + ["versicolor"] * 30 + ["setosa"] * 10, expected_share=expected
    )
    assert skewed.drifted and skewed.p_value < 1e-6
    assert skewed.observed == {"setosa": 10, "versicolor": 30, "virginica": 80}

    slight = prediction_drift(
        ["setosa"] * 38 + ["versicolor"] * 40 + ["virginica"] * 42, expected_share=expected
    )
    assert not slight.drifted

    unknown = prediction_drift(
        ["setosa", "versicolor", "virginica", "rose"] * 10, expected_share=expected
    )
    assert unknown.drifted and unknown.p_value == 0.0

    few = prediction_drift(["setosa"] * 5, expected_share=expected)
    assert (
        not few.enough_data
        and not few.drifted
        and few.p_value is None
        and "30 needed" in few.reason
    )
    empty = prediction_drift([], expected_share=expected)
    assert not empty.enough_data and empty.window_size == 0
    one_class = prediction_drift(["setosa"] * 50, expected_share={"setosa": 1.0})
    assert not one_class.enough_data
