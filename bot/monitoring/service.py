"""MonitoringService: runs the checks, keeps the latest results, exports them, raises alerts.

One object per bot (the composition root builds it and puts it on `services.monitoring`). The
scheduler and `/iris monitor` both call `run()`; a lock keeps two runs from interleaving, which
would split the serving counters' deltas between them.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Literal

from bot.monitoring import alerts as names
from bot.monitoring.alerts import AlertTracker, Finding
from bot.monitoring.checks import (
    AccuracyResult,
    DriftResult,
    ServingHealth,
    ServingProbe,
    check_accuracy,
    check_drift,
    training_reference,
)
from bot.monitoring.drift import DriftThresholds
from bot.monitoring.metrics import MonitoringMetrics
from bot.monitoring.sink import AlertSink, Diagnosis, DiagnosisKind
from bot.quality.sources import SourceClock

if TYPE_CHECKING:
    from bot.config import Settings
    from bot.db import Database
    from bot.messages import TemplateRenderer
    from bot.model_registry.service import ModelService

log = logging.getLogger(__name__)

Check = Literal["accuracy", "drift", "serving"]
ALL_CHECKS: tuple[Check, ...] = ("accuracy", "drift", "serving")


@dataclass(frozen=True)
class MonitorConfig:
    """The monitors' settings as plain values."""

    model: str
    model_server_url: str
    accuracy_floor: float
    accuracy_window: int
    accuracy_min_feedback: int
    drift_window: int
    thresholds: DriftThresholds
    serving_error_rate_max: float
    serving_p99_seconds: float
    serving_min_requests: int
    alert_repeat_seconds: float
    # Most requests refused for their input is not "OK", even with no server error.
    serving_refused_rate_max: float = 0.5
    slash: str = "/iris"

    @classmethod
    def from_settings(cls, settings: Settings) -> MonitorConfig:
        return cls(
            model=settings.model_name,
            model_server_url=settings.model_server_url,
            accuracy_floor=settings.accuracy_floor,
            accuracy_window=settings.accuracy_window,
            accuracy_min_feedback=settings.accuracy_min_feedback,
            drift_window=settings.drift_window,
            thresholds=DriftThresholds(
                ks_pvalue=settings.drift_ks_pvalue,
                wasserstein=settings.drift_wasserstein_threshold,
                reference_ks_max_rows=settings.drift_reference_ks_max_rows,
                drift_share=settings.drift_share,
                min_window=settings.drift_min_window,
                prediction_pvalue=settings.prediction_drift_pvalue,
            ),
            serving_error_rate_max=settings.serving_error_rate_max,
            serving_p99_seconds=settings.serving_p99_seconds,
            serving_min_requests=settings.serving_min_requests,
            alert_repeat_seconds=settings.alert_repeat_seconds,
            slash=settings.slash_command,
        )


@dataclass(frozen=True)
class MonitorSnapshot:
    """The latest result of every check (None: not run yet) and the alerts firing."""

    accuracy: AccuracyResult | None = None
    drift: DriftResult | None = None
    serving: ServingHealth | None = None
    checked_at: datetime | None = None
    firing: list[str] = field(default_factory=list)
    registry_error: str | None = None


class MonitoringService:
    """See the module docstring; also the `DiagnosisProvider` for incidents."""

    def __init__(
        self,
        *,
        config: MonitorConfig,
        db: Database,
        models: ModelService | None,
        sink: AlertSink,
        renderer: TemplateRenderer,
        metrics: MonitoringMetrics,
        labels_late: Callable[[], str | None] | None = None,
    ) -> None:
        self.config = config
        # Data quality (bot/quality/sources.py): while feedback labels are late, say so instead
        # of an accuracy computed from stale labels.
        self.labels_late = labels_late
        self.db = db
        self.models = models
        self.sink = sink
        self.renderer = renderer
        self.metrics = metrics
        self.probe = ServingProbe(config.model_server_url, min_requests=config.serving_min_requests)
        self.tracker = AlertTracker(model=config.model, repeat_seconds=config.alert_repeat_seconds)
        self.latest = MonitorSnapshot()
        self._lock = asyncio.Lock()
        self._reference: Any = None
        # The registered command names (set by the composition root): a diagnosis names only
        # commands that exist (`/iris capacity` once capacity is there).
        self.commands: frozenset[str] = frozenset()

    async def run(self, checks: tuple[Check, ...] = ALL_CHECKS) -> MonitorSnapshot:
        """Run the checks now (blocking parts in a thread), export, alert; the new snapshot."""
        async with self._lock:
            return await self._run(checks)

    async def run_all(self) -> MonitorSnapshot:
        return await self.run(ALL_CHECKS)

    async def _run(self, checks: tuple[Check, ...]) -> MonitorSnapshot:
        cfg, snap = self.config, self.latest
        version, holdout, registry_error = None, None, None
        if "accuracy" in checks or "drift" in checks:
            try:
                version, holdout = await asyncio.to_thread(self._production)
            except Exception as exc:  # registry down: judge all recent traffic, say so
                registry_error = str(exc) or type(exc).__name__
                log.warning("monitor: production version unknown: %s", registry_error)
        findings: list[Finding] = []
        if "accuracy" in checks:
            acc = await asyncio.to_thread(
                check_accuracy,
                self.db,
                version=version,
                window=cfg.accuracy_window,
                min_labelled=cfg.accuracy_min_feedback,
                floor=cfg.accuracy_floor,
                holdout_accuracy=holdout,
            )
            late = await asyncio.to_thread(self.labels_late) if self.labels_late else None
            if late:
                acc = replace(acc, accuracy=None, enough_data=False, below_floor=False, reason=late)
            snap = replace(snap, accuracy=acc)
            self.metrics.record_accuracy(cfg.model, acc, floor=cfg.accuracy_floor)
            findings.append(self._finding(names.ACCURACY, acc.below_floor, "critical", acc=acc))
        if "drift" in checks:
            drift = await asyncio.to_thread(self._drift, version)
            snap = replace(snap, drift=drift)
            self.metrics.record_drift(cfg.model, drift)
            inputs, preds = drift.inputs, drift.predictions
            findings.append(
                self._finding(
                    names.INPUT_DRIFT,
                    inputs.enough_data and bool(inputs.drifted_features),
                    "critical" if inputs.dataset_drifted else "warning",
                    drift=drift,
                )
            )
            findings.append(
                self._finding(
                    names.PREDICTION_DRIFT,
                    preds.enough_data and preds.drifted,
                    "warning",
                    drift=drift,
                )
            )
        if "serving" in checks:
            health = await self.probe.check()
            snap = replace(snap, serving=health)
            self.metrics.record_serving(cfg.model, health)
            findings.append(self._finding(names.SERVER_DOWN, not health.up, "critical", h=health))
            if health.up:  # a server that did not answer has no error rate or latency
                judged = health.enough_data
                rate, p99 = health.error_rate or 0.0, health.p99_seconds or 0.0
                findings.append(
                    self._finding(
                        names.SERVING_ERRORS,
                        judged and rate > cfg.serving_error_rate_max,
                        "critical",
                        h=health,
                    )
                )
                findings.append(
                    self._finding(
                        names.INPUT_REFUSED,
                        judged and (health.refused_rate or 0.0) > cfg.serving_refused_rate_max,
                        "warning",
                        h=health,
                    )
                )
                findings.append(
                    self._finding(
                        names.SERVING_LATENCY,
                        judged and p99 > cfg.serving_p99_seconds,
                        "warning",
                        h=health,
                    )
                )
        for payload in names.worst_first(self.tracker.update(findings)):
            try:
                await self.sink.deliver(payload)
            except Exception:  # the next run sends it again; monitoring goes on
                log.exception("monitor: alert sink failed on %s", payload["commonLabels"])
                self.tracker.undelivered(payload)
        firing = self.tracker.firing()
        self.metrics.record_alerts(cfg.model, firing)
        self.latest = replace(
            snap, checked_at=datetime.now(UTC), firing=firing, registry_error=registry_error
        )
        return self.latest

    def _production(self) -> tuple[int | None, float | None]:
        if self.models is None:
            return None, None
        version = self.models.production_version()
        if version is None:
            return None, None
        return version, self.models.describe(version).accuracy

    def _drift(self, version: int | None) -> DriftResult:
        if self._reference is None:
            self._reference = training_reference()
        reference, shares = self._reference
        return check_drift(
            self.db,
            version=version,
            window=self.config.drift_window,
            thresholds=self.config.thresholds,
            reference=reference,
            expected_share=shares,
        )

    def _finding(self, alertname: str, firing: bool, severity: Any, **facts: Any) -> Finding:
        """A finding whose summary (first line) and description come from monitor_alert.j2."""
        text = self.renderer.render(
            "monitor_alert", alertname=alertname, firing=firing, config=self.config, **facts
        ).text
        summary, _, description = text.partition("\n")
        labels = {}
        version = getattr(facts.get("acc") or facts.get("drift"), "version", None)
        if version is not None:
            labels["version"] = str(version)
        return Finding(alertname, firing, severity, summary.strip(), description.strip(), labels)

    def diagnose(self, *, alertname: str, labels: dict[str, str]) -> Diagnosis | None:
        """The first diagnosis of an alert from the latest results (DiagnosisProvider)."""
        kind = diagnosis_kind(alertname)
        if kind == "none" and labels.get("pipeline"):
            return None  # the pipeline monitor's alerts carry their own diagnosis

        text = self.renderer.render(
            "monitor_diagnosis",
            kind=kind,
            alertname=alertname,
            labels=labels,
            snapshot=self.latest,
            config=self.config,
            commands=self.commands,
        ).text
        title, *lines = [line for line in text.splitlines() if line.strip()] or [alertname]
        return Diagnosis(kind=kind, title=title, lines=lines)

    async def aclose(self) -> None:
        await self.probe.aclose()


def diagnosis_kind(alertname: str) -> DiagnosisKind:
    """Which monitor speaks to an alert: ours by name, anyone else's (Prometheus rules) by words."""
    lowered = alertname.lower()
    if "drift" in lowered:
        return "drift"
    if "accuracy" in lowered:
        return "accuracy"
    if any(
        word in lowered
        for word in ("latency", "serving", "servererror", "serverdown", "down", "refused")
    ):
        return "latency"
    return "none"


def build_monitoring(
    settings: Settings,
    *,
    db: Database,
    models: ModelService | None,
    sink: AlertSink,
    renderer: TemplateRenderer,
    registry: Any,
) -> MonitoringService:
    """The monitoring service of one bot, its gauges on the bot's Prometheus registry."""
    return MonitoringService(
        config=MonitorConfig.from_settings(settings),
        db=db,
        models=models,
        sink=sink,
        renderer=renderer,
        metrics=MonitoringMetrics(registry),
        labels_late=SourceClock.from_settings(settings, db).labels_late_reason,
    )
