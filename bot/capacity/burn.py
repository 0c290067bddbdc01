"""The latency SLO and its multi-window burn rates, computed from the model server's histogram.

An SLO of "99 % of predictions within 100 ms" leaves an error budget of 1 %; a burn rate of 1
spends it exactly over the SLO period. As the SRE workbook sets the alerts: page when the burn is
at least 14.4 over 1 h and over 5 min, or at least 6 over 6 h and over 30 min (both windows of a
pair, so a spike that ended stops paging within the short window); ticket at 1 over 3 days. A
window judges only with at least `min_requests` predictions, so a quiet hour pages nobody. The
same windows and factors are in deploy/prometheus/rules.yml.
"""

from __future__ import annotations

import math
import time
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass, field

from bot.monitoring.checks import ServingCounters

PAGE = "ModelLatencyBudgetBurn"
TICKET = "ModelLatencyBudgetBurnSlow"


@dataclass(frozen=True)
class BurnWindow:
    """A pair of windows (seconds) and the burn factor both must reach."""

    long_s: float
    short_s: float
    factor: float
    alert: str

    def label(self) -> str:
        return f"{_span(self.long_s)}/{_span(self.short_s)}"


# The SRE workbook's multi-window, multi-burn-rate alerts (windows before BURN_WINDOW_SCALE).
WINDOWS = (
    BurnWindow(3600, 300, 14.4, PAGE),
    BurnWindow(6 * 3600, 1800, 6.0, PAGE),
    BurnWindow(3 * 86400, 3 * 86400, 1.0, TICKET),
)


def _span(seconds: float) -> str:
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size and seconds % size == 0:
            return f"{int(seconds // size)}{unit}"
    return f"{seconds:g}s"


@dataclass(frozen=True)
class Slo:
    threshold_s: float = 0.1
    target: float = 0.99

    @property
    def budget(self) -> float:
        return 1.0 - self.target


@dataclass(frozen=True)
class Sample:
    at: float
    total: float
    good: float


@dataclass(frozen=True)
class WindowBurn:
    window: BurnWindow
    long_burn: float | None
    short_burn: float | None
    requests: int
    firing: bool

    @property
    def label(self) -> str:
        """The windows as the SRE workbook names them (`1h/5m`), before BURN_WINDOW_SCALE."""
        return self.window.label()


@dataclass(frozen=True)
class BurnReport:
    windows: list[WindowBurn] = field(default_factory=list)

    def firing(self, alert: str) -> bool:
        return any(w.firing for w in self.windows if w.window.alert == alert)

    def worst(self, alert: str) -> WindowBurn | None:
        found = [w for w in self.windows if w.window.alert == alert]
        return max(found, key=lambda w: w.long_burn or 0.0) if found else None


def good_and_total(counters: ServingCounters, threshold_s: float) -> tuple[float, float]:
    """Predictions within the threshold (the largest bucket bound not above it) and all of them."""
    if not counters.buckets:
        return 0.0, 0.0
    total = counters.buckets[-1][1]
    good = 0.0
    for bound, count in counters.buckets:
        if bound <= threshold_s + 1e-12:
            good = count
    return good, total


class BurnTracker:
    """Keeps (time, total, good) samples of the histogram and answers burn rates per window."""

    def __init__(self, slo: Slo, *, scale: float = 1.0, min_requests: int = 100) -> None:
        self.slo, self.scale, self.min_requests = slo, scale, min_requests
        self.windows = WINDOWS
        self._samples: deque[Sample] = deque()

    def add(self, counters: ServingCounters, *, now: float | None = None) -> None:
        good, total = good_and_total(counters, self.slo.threshold_s)
        now = time.monotonic() if now is None else now
        if self._samples and total < self._samples[-1].total:
            self._samples.clear()  # the server restarted: its counters started over
        self._samples.append(Sample(now, total, good))
        horizon = max(w.long_s for w in self.windows) * self.scale
        while len(self._samples) > 2 and self._samples[1].at < now - horizon:
            self._samples.popleft()

    def _burn(self, seconds: float) -> tuple[float | None, int]:
        if len(self._samples) < 2:
            return None, 0
        last = self._samples[-1]
        start = last.at - seconds
        # The newest sample at or before the window's start (else the oldest we have).
        first = self._samples[0]
        for sample in self._samples:
            if sample.at <= start:
                first = sample
            else:
                break
        requests = last.total - first.total
        if requests <= 0:
            return None, 0
        bad = max(requests - (last.good - first.good), 0.0)
        return (bad / requests) / self.slo.budget, int(requests)

    def report(self) -> BurnReport:
        out = []
        for window in self.windows:
            long_burn, requests = self._burn(window.long_s * self.scale)
            short_burn, _ = self._burn(window.short_s * self.scale)
            firing = (
                requests >= self.min_requests
                and long_burn is not None
                and short_burn is not None
                and long_burn >= window.factor
                and short_burn >= window.factor
            )
            out.append(WindowBurn(window, long_burn, short_burn, requests, firing))
        return BurnReport(out)


def replicas_for(load: float, *, target: float, current: int, cap: int) -> int:
    """Replicas to serve `load` requests at once at `target` per replica (at least one more)."""
    wanted = max(math.ceil(load / max(target, 0.1)), current + 1)
    return max(min(wanted, cap), 1)


def span(seconds: float) -> str:
    return _span(seconds)


def labels(windows: Sequence[BurnWindow]) -> list[str]:
    return [w.label() for w in windows]
