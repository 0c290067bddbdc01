"""Prometheus metrics of one model-server app, on its own registry (tests build many apps)."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST

_LATENCY_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5)


class ServerMetrics:
    """Counters and histograms the handlers update; label children are cached for speed."""

    content_type = CONTENT_TYPE_LATEST

    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        r = self.registry
        self.requests = Counter(
            "model_server_requests",
            "HTTP requests by endpoint and status.",
            ["endpoint", "status"],
            registry=r,
        )
        self.latency = Histogram(
            "model_server_request_seconds",
            "Request latency by endpoint.",
            ["endpoint"],
            buckets=_LATENCY_BUCKETS,
            registry=r,
        )
        self.errors = Counter(
            "model_server_errors",
            "Failed requests by endpoint and kind.",
            ["endpoint", "kind"],
            registry=r,
        )
        self.predictions = Counter(
            "model_server_predictions", "Predicted records by class.", ["class"], registry=r
        )
        self.version = Gauge(
            "model_server_model_version", "Registry version being served (0: none).", registry=r
        )
        self.swaps = Counter(
            "model_server_model_swaps", "Times the served version changed.", registry=r
        )
        self.batch_size = Histogram(
            "model_server_batch_records",
            "Records per predict request.",
            buckets=(1, 2, 5, 10, 50, 100, 500, 1000),
            registry=r,
        )
        self._req: dict[tuple[str, int], Counter] = {}
        self._lat: dict[str, Histogram] = {}
        self._cls: dict[str, Counter] = {}

    def observe(self, endpoint: str, status: int, seconds: float) -> None:
        """Count one request and its latency."""
        child = self._req.get((endpoint, status))
        if child is None:
            child = self._req[(endpoint, status)] = self.requests.labels(endpoint, str(status))
        child.inc()
        hist = self._lat.get(endpoint)
        if hist is None:
            hist = self._lat[endpoint] = self.latency.labels(endpoint)
        hist.observe(seconds)

    def error(self, endpoint: str, kind: str) -> None:
        self.errors.labels(endpoint, kind).inc()

    def predicted(self, classes: list[str]) -> None:
        """Count predicted classes of one request."""
        self.batch_size.observe(len(classes))
        tally: dict[str, int] = {}
        for name in classes:
            tally[name] = tally.get(name, 0) + 1
        cache = self._cls
        for name, count in tally.items():
            child = cache.get(name)
            if child is None:
                child = cache[name] = self.predictions.labels(name)
            child.inc(count)

    def render(self) -> bytes:
        return generate_latest(self.registry)
