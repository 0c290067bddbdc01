"""The front's request admission: a bounded queue in front of the workers, and load shedding.

Each ready worker takes up to `concurrency` requests at once (a CPU-bound model gains nothing
from more); the rest wait in a queue of at most `queue_limit`. A request that finds the queue full
is shed at once (503 with Retry-After), so overload is answered, not queued until it times out.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import time
from collections import deque
from dataclasses import dataclass

from bot.serving.workers import Worker, WorkerPool


class Overloaded(Exception):
    """The queue is full (or no worker became free in time): shed this request."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass
class Admission:
    """The knobs the capacity commands change at run time."""

    concurrency: int = 2  # requests per worker at once
    queue_limit: int = 32  # requests waiting for a worker beyond that
    queue_timeout: float = 10.0  # a queued request waits at most this long


class Dispatcher:
    """Gives each request the least busy ready worker, or queues it, or sheds it."""

    def __init__(self, pool: WorkerPool, admission: Admission) -> None:
        self.pool = pool
        self.admission = admission
        self.queued = 0
        self.in_flight = 0
        self._free = asyncio.Condition()

    def _pick(self) -> Worker | None:
        limit = self.admission.concurrency
        best: Worker | None = None
        for worker in self.pool.ready:
            if worker.in_flight < limit and (best is None or worker.in_flight < best.in_flight):
                best = worker
        return best

    async def acquire(self) -> Worker:
        """A worker slot for one request; raises Overloaded when the queue is full."""
        worker = self._pick()
        if worker is None:
            if self.queued >= self.admission.queue_limit:
                raise Overloaded("queue full")
            self.queued += 1
            try:
                async with self._free:
                    deadline = time.monotonic() + self.admission.queue_timeout
                    while (worker := self._pick()) is None:
                        left = deadline - time.monotonic()
                        if left <= 0:
                            raise Overloaded("queue timeout")
                        # Woken by a release or a worker becoming ready; the timeout also covers
                        # a wake-up that was missed between two checks.
                        with_timeout = min(left, 0.05)
                        with contextlib.suppress(TimeoutError):
                            await asyncio.wait_for(self._free.wait(), with_timeout)
            finally:
                self.queued -= 1
        worker.in_flight += 1
        self.in_flight += 1
        return worker

    async def release(self, worker: Worker) -> None:
        worker.in_flight -= 1
        self.in_flight -= 1
        async with self._free:
            self._free.notify()

    async def wake(self) -> None:
        """Workers became ready: let queued requests look again."""
        async with self._free:
            self._free.notify_all()


@dataclass
class Autoscale:
    """Replicas follow load: in-flight plus queued requests over `target` per replica."""

    min_replicas: int = 1
    max_replicas: int = 4
    target: float = 2.0
    upscale_delay_s: float = 3.0
    downscale_delay_s: float = 30.0


class Autoscaler:
    """Decides the wanted replicas from a smoothed load, with up- and down-scale delays."""

    def __init__(self, policy: Autoscale) -> None:
        self.policy = policy
        self._load = 0.0
        self._above_since: float | None = None
        self._below_since: float | None = None

    def desired(self, *, load: float, current: int, now: float | None = None) -> int:
        """How many replicas to run given the current load (requests in flight + queued)."""
        p, now = self.policy, time.monotonic() if now is None else now
        self._load = 0.7 * self._load + 0.3 * load  # smoothed: one burst is not a trend
        want = min(max(math.ceil(self._load / p.target), p.min_replicas), p.max_replicas)
        if want > current:
            self._below_since = None
            if self._above_since is None:
                self._above_since = now
            return want if now - self._above_since >= p.upscale_delay_s else current
        if want < current:
            self._above_since = None
            if self._below_since is None:
                self._below_since = now
            return want if now - self._below_since >= p.downscale_delay_s else current
        self._above_since = self._below_since = None
        return max(min(current, p.max_replicas), p.min_replicas)


class LatencyWindow:
    """Predict answers of the last `seconds`: percentiles, error and shed rates for the status."""

    def __init__(self, seconds: float = 60.0) -> None:
        self.seconds = seconds
        self._items: deque[tuple[float, float, int]] = deque()

    def add(self, seconds: float, status: int) -> None:
        now = time.monotonic()
        self._items.append((now, seconds, status))
        self._trim(now)

    def _trim(self, now: float) -> None:
        while self._items and self._items[0][0] < now - self.seconds:
            self._items.popleft()
        while len(self._items) > 50_000:
            self._items.popleft()

    def summary(self) -> dict[str, float | int | None]:
        self._trim(time.monotonic())
        items = list(self._items)
        total = len(items)
        served = sorted(s for _, s, status in items if status < 500)
        shed = sum(1 for *_, status in items if status == 503)
        errors = sum(1 for *_, status in items if status >= 500 and status != 503)

        def pct(q: float) -> float | None:
            if not served:
                return None
            return served[min(int(q * len(served)), len(served) - 1)]

        return {
            "requests": total,
            "p50": pct(0.50),
            "p95": pct(0.95),
            "p99": pct(0.99),
            "error_rate": errors / total if total else None,
            "shed_rate": shed / total if total else None,
        }
