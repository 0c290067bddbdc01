"""Per-feature data-quality counters and the short-window checks, on the model server's /metrics.

Counters: rows checked, and per feature missing / out_of_range / imputed / rejected / fallback.
The window (the latest rows seen) is only appended to on the request path; it is judged with the
contract's pandera schema when /metrics is scraped, so requests never pay for it.
"""

from __future__ import annotations

import logging
from collections import deque
from collections.abc import Callable, Iterable, Sequence
from typing import Any

import numpy as np
from prometheus_client import CollectorRegistry, Counter
from prometheus_client.core import GaugeMetricFamily

from bot.quality.contract import Contract
from bot.quality.overrides import MonitorLimits
from bot.quality.schema import WINDOW_CHECKS, window_failures

log = logging.getLogger(__name__)

KINDS = ("missing", "out_of_range", "imputed", "rejected", "fallback")


class FeatureMetrics:
    """Counters the gate updates; label children are made once, at start."""

    def __init__(
        self, registry: CollectorRegistry, features: Sequence[str], limits: MonitorLimits
    ) -> None:
        self.features = tuple(features)
        self.limits = limits
        self.rows = Counter(
            "model_server_quality_rows", "Records checked against the feature contract.",
            registry=registry,
        )  # fmt: skip
        self.issues = Counter(
            "model_server_feature_issues",
            "Records by feature and what happened: missing, out_of_range, imputed, rejected, "
            "fallback.",
            ["feature", "kind"],
            registry=registry,
        )
        self.children = {
            (f, k): self.issues.labels(f, k) for f in self.features for k in KINDS
        }  # fmt: skip
        self.window: deque[Sequence[float]] = deque(maxlen=limits.window_rows)
        self.contract: Callable[[], Contract | None] = lambda: None
        registry.register(_WindowCollector(self))

    def checked(self, rows: list[list[float]]) -> None:
        """Rows that reached the contract checks (valid or not)."""
        self.rows.inc(len(rows))
        self.window.extend(rows)

    def count(self, feature: str, kind: str, n: int = 1) -> None:
        if n:
            self.children[(feature, kind)].inc(n)

    def window_state(self) -> dict[str, Any]:
        """The window judged now: rows, failed checks per feature, mean / training median."""
        contract = self.contract()
        rows = list(self.window)
        if contract is None or not rows:
            return {"rows": len(rows), "failed": {}, "ratio": {}}
        X = np.asarray(rows, dtype=np.float64)
        failed = window_failures(X, contract, self.limits) if len(rows) >= 10 else {}
        ratio: dict[str, float] = {}
        with np.errstate(all="ignore"):
            for j, feature in enumerate(contract.features):
                column = X[:, j]
                column = column[np.isfinite(column)]
                if feature.median and column.size:
                    ratio[feature.name] = round(float(column.mean() / feature.median), 4)
        return {"rows": len(rows), "failed": failed, "ratio": ratio}


class _WindowCollector:
    """Gauges computed at scrape time from the window."""

    def __init__(self, metrics: FeatureMetrics) -> None:
        self.metrics = metrics

    def describe(self) -> Iterable[Any]:
        return []  # no eager collect at registration: the contract is not known yet

    def collect(self) -> Iterable[Any]:
        failed = GaugeMetricFamily(
            "model_server_feature_window_failed",
            "1 when the latest rows fail a window check of the contract (range, zeros, "
            "constant, unit).",
            labels=["feature", "check"],
        )
        ratio = GaugeMetricFamily(
            "model_server_feature_window_mean_ratio",
            "Mean of the latest rows over the training median.",
            labels=["feature"],
        )
        size = GaugeMetricFamily("model_server_feature_window_rows", "Rows in the window.")
        try:
            state = self.metrics.window_state()
        except Exception:  # a scrape must never fail because of the window
            log.exception("window check failed")
            state = {"rows": 0, "failed": {}, "ratio": {}}
        for feature in self.metrics.features:
            checks = state["failed"].get(feature, ())
            for check in WINDOW_CHECKS:
                failed.add_metric([feature, check], 1.0 if check in checks else 0.0)
            if feature in state["ratio"]:
                ratio.add_metric([feature], state["ratio"][feature])
        size.add_metric([], float(state["rows"]))
        yield failed
        yield ratio
        yield size
