"""Injected failures and Slack-style rate limits for the Web API.

Both are consulted before a method runs, so a rejected call never changes state: the retry
that slack_sdk's retry handlers send afterwards is the first call that takes effect, and a
test can assert "exactly one message" after recovering from a 429.
"""

from __future__ import annotations

import math
import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from .api_errors import ApiError

_ERRORS = {
    429: "ratelimited",
    500: "internal_error",
    502: "bad_gateway",
    503: "service_unavailable",
}


@dataclass
class FaultRule:
    method: str | None
    status: int
    retry_after: int
    count: int | None  # remaining injections; None = rate-based, unlimited
    rate: float | None
    rng: random.Random = field(repr=False, default_factory=random.Random)

    def matches(self, method: str) -> bool:
        return self.method is None or self.method == method

    def fire(self) -> bool:
        """Whether this call fails; a count-based rule is used up as it fires."""
        if self.count is not None:
            if self.count <= 0:
                return False
            self.count -= 1
            return True
        # Seeded draw, so "30% of calls fail" picks the same calls on every run.
        return self.rng.random() < (self.rate or 0.0)

    @property
    def exhausted(self) -> bool:
        return self.count is not None and self.count <= 0


class FaultInjector:
    def __init__(self) -> None:
        self.rules: list[FaultRule] = []
        self.injected = 0

    def add(
        self,
        method: str | None = None,
        *,
        status: int = 429,
        count: int | None = None,
        rate: float | None = None,
        retry_after: int = 1,
        seed: int = 0,
    ) -> FaultRule:
        if status not in _ERRORS:
            raise ValueError(f"status must be one of {sorted(_ERRORS)}")
        if count is None and rate is None:
            count = 1
        if rate is not None and not 0.0 <= rate <= 1.0:
            raise ValueError("rate must be within [0, 1]")
        rule = FaultRule(
            method=method,
            status=status,
            retry_after=int(retry_after),
            count=count,
            rate=rate,
            rng=random.Random(seed),
        )
        self.rules.append(rule)
        return rule

    def clear(self) -> None:
        self.rules.clear()

    def check(self, method: str) -> None:
        """Raise the injected failure for this call, if a rule fires."""
        for rule in list(self.rules):
            if rule.matches(method) and rule.fire():
                if rule.exhausted:
                    self.rules.remove(rule)
                self.injected += 1
                headers = {"Retry-After": str(rule.retry_after)} if rule.status == 429 else {}
                raise ApiError(_ERRORS[rule.status], status=rule.status, headers=headers)


@dataclass
class _Bucket:
    per_second: float
    burst: float
    tokens: float
    updated: float


class RateLimiter:
    """Token buckets per method, like Slack's tiers (Tier 3 ~ 50/min, chat.postMessage ~ 1/s)."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._buckets: dict[str, _Bucket] = {}
        self.rejected = 0

    def set(self, method: str, per_second: float, burst: float | None = None) -> None:
        if per_second <= 0:
            raise ValueError("per_second must be positive")
        size = float(burst) if burst is not None else max(1.0, per_second)
        self._buckets[method] = _Bucket(per_second, size, size, self._clock())

    def remove(self, method: str | None = None) -> None:
        if method is None:
            self._buckets.clear()
        else:
            self._buckets.pop(method, None)

    def check(self, method: str) -> None:
        bucket = self._buckets.get(method)
        if bucket is None:
            return
        now = self._clock()
        bucket.tokens = min(
            bucket.burst, bucket.tokens + (now - bucket.updated) * bucket.per_second
        )
        bucket.updated = now
        if bucket.tokens >= 1.0:
            bucket.tokens -= 1.0
            return
        self.rejected += 1
        # Slack sends whole seconds; round up so a client that waits exactly this long succeeds.
        wait = max(1, math.ceil((1.0 - bucket.tokens) / bucket.per_second))
        raise ApiError("ratelimited", status=429, headers={"Retry-After": str(wait)})
