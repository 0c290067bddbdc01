"""Capacity gauges of the local engine's front, and the workers' own metrics merged into its /metrics.

The front measures what a client sees (queueing included), so the latency histogram and request
counters a scrape reads are the front's. What only the workers know (predicted classes, model
version, per-feature counters) is summed over the workers and appended, so one scrape of one port
still tells the whole story.
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge
from prometheus_client.parser import text_string_to_metric_families

# What the front measures itself; every other family comes from the workers.
FRONT_FAMILIES = (
    "model_server_requests",
    "model_server_request_seconds",
    "model_server_errors",
    "model_server_replicas",
    "model_server_replicas_wanted",
    "model_server_in_flight",
    "model_server_queued",
    "model_server_queue_limit",
    "model_server_shed",
    "model_server_replica_restarts",
)
FRONT_SAMPLES = tuple(
    name + suffix
    for name in FRONT_FAMILIES
    for suffix in ("", "_total", "_bucket", "_count", "_sum")
)


class CapacityMetrics:
    def __init__(self, registry: CollectorRegistry) -> None:
        r = registry
        self.replicas = Gauge(
            "model_server_replicas", "Worker replicas by state.", ["state"], registry=r
        )
        self.wanted = Gauge(
            "model_server_replicas_wanted", "Replicas the engine is asked to run.", registry=r
        )
        self.in_flight = Gauge(
            "model_server_in_flight", "Predict requests being answered now.", registry=r
        )
        self.queued = Gauge(
            "model_server_queued", "Requests waiting for a free worker.", registry=r
        )
        self.queue_limit = Gauge(
            "model_server_queue_limit", "Queued requests beyond which load is shed.", registry=r
        )
        self.shed = Counter(
            "model_server_shed", "Requests answered 503 + Retry-After (queue full).", registry=r
        )
        self.restarts = Counter(
            "model_server_replica_restarts", "Workers that died and were replaced.", registry=r
        )

    def update(
        self, *, counts: dict[str, int], wanted: int, in_flight: int, queued: int, queue_limit: int
    ) -> None:
        for state, count in counts.items():
            self.replicas.labels(state).set(count)
        self.wanted.set(wanted)
        self.in_flight.set(in_flight)
        self.queued.set(queued)
        self.queue_limit.set(queue_limit)


def _fmt(value: float) -> str:
    return repr(float(value)) if value != int(value) else f"{int(value)}.0"


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


def merge_worker_metrics(texts: list[str]) -> str:
    """Families of the workers summed sample by sample (gauges: the largest), in exposition text.

    The front's own families (`FRONT_FAMILIES`) are left out: the front counts those itself.
    """
    own = set(FRONT_FAMILIES)
    families: dict[str, tuple[str, str, dict[tuple[str, tuple[tuple[str, str], ...]], float]]] = {}
    for text in texts:
        for family in text_string_to_metric_families(text):
            if family.name.removesuffix("_total") in own:
                continue
            _, _, samples = families.setdefault(
                family.name, (family.type, family.documentation, {})
            )
            for sample in family.samples:
                if sample.name.endswith("_created"):
                    continue  # a creation time is per process; summing it means nothing
                key = (sample.name, tuple(sorted(sample.labels.items())))
                if family.type == "gauge":
                    samples[key] = max(samples.get(key, float("-inf")), sample.value)
                else:
                    samples[key] = samples.get(key, 0.0) + sample.value
    lines: list[str] = []
    for name, (kind, doc, samples) in families.items():
        lines.append(f"# HELP {name} {doc}")
        lines.append(f"# TYPE {name} {kind}")
        for (sample_name, labels), value in samples.items():
            rendered = ",".join(f'{k}="{_escape(v)}"' for k, v in labels)
            lines.append(f"{sample_name}{{{rendered}}} {_fmt(value)}" if labels else
                         f"{sample_name} {_fmt(value)}")  # fmt: skip
    return "\n".join(lines) + ("\n" if lines else "")
