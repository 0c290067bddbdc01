"""The quality monitor: the model server's per-feature counters become alerts and incidents.

Each run scrapes the model server's /metrics, takes the counters' change since the previous run,
and per feature fires (or resolves) two alerts through the alert intake, like the other monitors:
- `FeatureRejected<Feature>`: the share of rows refused because of the feature is above the
  threshold (a policy that handles the rows, impute or fallback, resolves it);
- `FeatureCorrupted<Feature>`: the latest rows fail a window check (out of range, zeros,
  constant, a unit change): corruption that is still a number.
The description carries the rate, the policy in force and sample rows redacted to the features.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

import httpx
from prometheus_client.parser import text_string_to_metric_families

from bot.monitoring.alerts import AlertTracker, Finding
from bot.monitoring.sink import AlertSink
from bot.quality.overrides import MonitorLimits
from bot.training.iris import FEATURES

log = logging.getLogger(__name__)

RUNBOOK = "data-quality"
KINDS = ("missing", "out_of_range", "imputed", "rejected", "fallback")


def camel(feature: str) -> str:
    """`petal_width` → `PetalWidth`, for alert names."""
    return "".join(part.title() for part in feature.split("_"))


def rejected_alert(feature: str) -> str:
    return f"FeatureRejected{camel(feature)}"


def corrupted_alert(feature: str) -> str:
    return f"FeatureCorrupted{camel(feature)}"


@dataclass(frozen=True)
class Counters:
    """One scrape: rows checked, issues by (feature, kind), failed window checks by feature."""

    rows: float = 0.0
    issues: dict[tuple[str, str], float] = field(default_factory=dict)
    window_failed: dict[str, list[str]] = field(default_factory=dict)


def parse_counters(text: str) -> Counters:
    """The quality series of a model server's /metrics text."""
    rows = 0.0
    issues: dict[tuple[str, str], float] = {}
    failed: dict[str, list[str]] = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == "model_server_quality_rows_total":
                rows = sample.value
            elif sample.name == "model_server_feature_issues_total":
                issues[(sample.labels["feature"], sample.labels["kind"])] = sample.value
            elif sample.name == "model_server_feature_window_failed" and sample.value > 0:
                failed.setdefault(sample.labels["feature"], []).append(sample.labels["check"])
    return Counters(rows, issues, failed)


@dataclass(frozen=True)
class FeatureRates:
    """One feature since the previous run: rows, and each kind's count and share."""

    feature: str
    rows: int
    counts: dict[str, int]
    window_failed: list[str]
    policy: str

    def rate(self, kind: str) -> float:
        return self.counts.get(kind, 0) / self.rows if self.rows else 0.0


@dataclass(frozen=True)
class QualitySnapshot:
    """The latest run: rates per feature, samples and the server's policies; None: no run yet."""

    rates: dict[str, FeatureRates] = field(default_factory=dict)
    samples: list[dict[str, Any]] = field(default_factory=list)
    reachable: bool = True
    problem: str = ""
    firing: list[str] = field(default_factory=list)


class AlertOpened(Protocol):
    """Told when a quality alert opened or joined an incident (posts the details in its thread)."""

    async def alert_opened(self, *, incident_id: int, facts: dict[str, Any]) -> None: ...


class QualityMonitor:
    """See the module docstring."""

    def __init__(
        self,
        *,
        model: str,
        model_server_url: str,
        limits: MonitorLimits,
        sink: AlertSink,
        repeat_seconds: float,
        notify: AlertOpened | None = None,
        describe: Callable[..., str] | None = None,
    ) -> None:
        self.url = model_server_url.rstrip("/")
        self.limits = limits
        self.sink = sink
        self.notify = notify
        self.describe = describe or _plain_description
        self.tracker = AlertTracker(model=model, repeat_seconds=repeat_seconds)
        self.last: Counters | None = None
        self.latest = QualitySnapshot()
        self._client = httpx.AsyncClient(timeout=5.0)

    async def run(self) -> QualitySnapshot:
        """Scrape once, alert on what changed; an unreachable server is a result, not an error."""
        try:
            metrics = await self._client.get(f"{self.url}/metrics")
            metrics.raise_for_status()
            now = parse_counters(metrics.text)
            state_response = await self._client.get(f"{self.url}/v1/quality")
            state = state_response.json() if state_response.status_code == 200 else {}
        except (httpx.HTTPError, ValueError) as exc:
            self.latest = QualitySnapshot(reachable=False, problem=f"{type(exc).__name__} {exc}")
            return self.latest
        before, self.last = self.last, now
        rows = int(now.rows - (before.rows if before else 0.0))
        policies = state.get("policies", {})
        rates = {}
        for feature in FEATURES:
            counts = {
                kind: int(
                    now.issues.get((feature, kind), 0.0)
                    - (before.issues.get((feature, kind), 0.0) if before else 0.0)
                )
                for kind in KINDS
            }
            policy = policies.get(feature, {"policy": "reject", "fallback_version": None})
            label = (
                f"fallback v{policy['fallback_version']}"
                if policy["policy"] == "fallback"
                else policy["policy"]
            )
            rates[feature] = FeatureRates(
                feature, rows, counts, now.window_failed.get(feature, []), label
            )
        samples = list(state.get("samples", []))[-3:]
        await self._alert(rates, samples, judged=rows >= self.limits.min_rows)
        self.latest = QualitySnapshot(rates=rates, samples=samples, firing=self.tracker.firing())
        return self.latest

    async def _alert(
        self, rates: dict[str, FeatureRates], samples: list[dict[str, Any]], *, judged: bool
    ) -> None:
        findings = []
        facts_by_alert: dict[str, dict[str, Any]] = {}
        for feature, r in rates.items():
            labels = {"feature": feature, "runbook": RUNBOOK}
            if judged:
                rate = r.rate("rejected")
                facts = {
                    "feature": feature, "kind": "rejected", "rate": rate, "rows": r.rows,
                    "counts": r.counts, "policy": r.policy, "samples": samples,
                    "threshold": self.limits.rate_threshold,
                }  # fmt: skip
                name = rejected_alert(feature)
                facts_by_alert[name] = facts
                findings.append(
                    Finding(
                        name,
                        rate > self.limits.rate_threshold,
                        "critical" if rate > 0.5 else "warning",
                        self.describe(summary=True, **facts),
                        self.describe(summary=False, **facts),
                        labels,
                    )
                )
            corrupted = bool(r.window_failed)
            name = corrupted_alert(feature)
            facts = {
                "feature": feature, "kind": "corrupted", "checks": r.window_failed,
                "policy": r.policy, "samples": samples, "rows": r.rows, "counts": r.counts,
            }  # fmt: skip
            facts_by_alert[name] = facts
            findings.append(
                Finding(
                    name,
                    corrupted,
                    "warning",
                    self.describe(summary=True, **facts),
                    self.describe(summary=False, **facts),
                    labels,
                )
            )
        for payload in self.tracker.update(findings):
            try:
                result = await self.sink.deliver(payload)
            except Exception:
                log.warning("quality alert not delivered; retrying next run", exc_info=True)
                self.tracker.undelivered(payload)
                continue
            name = payload["groupLabels"]["alertname"]
            incident_id = getattr(result, "incident_id", None)
            if (
                payload["status"] == "firing"
                and self.notify is not None
                and incident_id is not None
                and getattr(result, "outcome", "") == "opened"
            ):
                await self.notify.alert_opened(incident_id=incident_id, facts=facts_by_alert[name])

    async def aclose(self) -> None:
        await self._client.aclose()


def _plain_description(*, summary: bool, **facts: Any) -> str:
    """Words when no renderer is wired (tests of the domain alone)."""
    if facts["kind"] == "rejected":
        return f"{facts['feature']}: {facts['rate']:.0%} of {facts['rows']} rows refused"
    return f"{facts['feature']}: window checks failed: {', '.join(facts['checks'])}"
