"""Monitor results as Prometheus gauges on the bot's own registry (served on the bot's /metrics).

Alert rules can be written on these names. Series whose labels depend on the production version
are cleared before each update, so a rollback leaves no stale series behind; a check without
enough data leaves its gauges empty rather than reporting a made-up number.
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge

from bot.monitoring.alerts import ALERT_NAMES
from bot.monitoring.checks import AccuracyResult, DriftResult, ServingHealth


def _v(version: int | None) -> str:
    return str(version) if version is not None else ""


class MonitoringMetrics:
    def __init__(self, registry: CollectorRegistry) -> None:
        r = registry
        mv = ["model", "version"]
        self.accuracy = Gauge(
            "oncall_model_accuracy_window",
            "Accuracy of the production model on the latest labelled feedback",
            mv,
            registry=r,
        )
        self.accuracy_floor = Gauge(
            "oncall_model_accuracy_floor", "ACCURACY_FLOOR setting", ["model"], registry=r
        )
        self.accuracy_holdout = Gauge(
            "oncall_model_accuracy_holdout",
            "Holdout accuracy the production model was registered with",
            mv,
            registry=r,
        )
        self.labelled = Gauge(
            "oncall_model_feedback_labelled",
            "Labelled predictions in the accuracy window",
            mv,
            registry=r,
        )
        mvf = ["model", "version", "feature"]
        self.drift_score = Gauge(
            "oncall_feature_drift_score",
            "Per-feature drift score: KS p-value (reference <= DRIFT_REFERENCE_KS_MAX_ROWS) "
            "or normalised Wasserstein distance",
            [*mvf, "method"],
            registry=r,
        )
        self.drifted = Gauge(
            "oncall_feature_drifted", "1 when the feature drifted", mvf, registry=r
        )
        self.psi = Gauge(
            "oncall_feature_psi", "Population stability index of the feature", mvf, registry=r
        )
        self.drift_share = Gauge(
            "oncall_dataset_drift_share", "Share of features that drifted", mv, registry=r
        )
        self.dataset_drifted = Gauge(
            "oncall_dataset_drifted", "1 when at least DRIFT_SHARE of features drifted", mv,
            registry=r,
        )  # fmt: skip
        self.drift_window = Gauge(
            "oncall_drift_window_size", "Served inputs in the drift window", mv, registry=r
        )
        self.prediction_pvalue = Gauge(
            "oncall_prediction_drift_pvalue",
            "Chi-square p-value of predicted classes against the holdout's class shares",
            mv,
            registry=r,
        )
        self.prediction_drifted = Gauge(
            "oncall_prediction_drifted", "1 when the predicted classes drifted", mv, registry=r
        )
        self.error_rate = Gauge(
            "oncall_serving_error_rate",
            "Share of predict requests answered 5xx since the previous check",
            ["model"],
            registry=r,
        )
        self.p99 = Gauge(
            "oncall_serving_p99_seconds",
            "p99 predict latency since the previous check (from the server's histogram)",
            ["model"],
            registry=r,
        )
        self.requests = Gauge(
            "oncall_serving_requests_window",
            "Predict requests since the previous check",
            ["model"],
            registry=r,
        )
        self.up = Gauge(
            "oncall_serving_up", "1 when the model server's /metrics answered", ["model"],
            registry=r,
        )  # fmt: skip
        self.unreachable = Counter(
            "oncall_serving_unreachable",
            "Checks that found the model server unreachable or timing out",
            ["model"],
            registry=r,
        )
        self.last_run = Gauge(
            "oncall_monitor_last_run_timestamp_seconds",
            "When each check last ran",
            ["check"],
            registry=r,
        )
        self.alert_firing = Gauge(
            "oncall_monitor_alert_firing",
            "1 while the bot's own monitor alert is firing",
            ["alertname", "model"],
            registry=r,
        )

    def record_accuracy(self, model: str, result: AccuracyResult, *, floor: float) -> None:
        for gauge in (self.accuracy, self.accuracy_holdout, self.labelled):
            gauge.clear()
        self.accuracy_floor.labels(model).set(floor)
        version = _v(result.version)
        self.labelled.labels(model, version).set(result.labelled)
        if result.holdout_accuracy is not None:
            self.accuracy_holdout.labels(model, version).set(result.holdout_accuracy)
        if result.enough_data and result.accuracy is not None:
            self.accuracy.labels(model, version).set(result.accuracy)
        self.last_run.labels("accuracy").set_to_current_time()

    def record_drift(self, model: str, result: DriftResult) -> None:
        for gauge in (
            self.drift_score, self.drifted, self.psi, self.drift_share, self.dataset_drifted,
            self.drift_window, self.prediction_pvalue, self.prediction_drifted,
        ):  # fmt: skip
            gauge.clear()
        version = _v(result.version)
        report = result.inputs
        self.drift_window.labels(model, version).set(report.window)
        for f in report.features:
            if f.psi is not None:
                self.psi.labels(model, version, f.name).set(f.psi)
            if f.status == "ok" and f.score is not None:
                self.drift_score.labels(model, version, f.name, f.method).set(f.score)
                self.drifted.labels(model, version, f.name).set(int(f.drifted))
        if report.enough_data:
            self.drift_share.labels(model, version).set(report.drifted_share)
            self.dataset_drifted.labels(model, version).set(int(report.dataset_drifted))
        pred = result.predictions
        if pred.enough_data and pred.p_value is not None:
            self.prediction_pvalue.labels(model, version).set(pred.p_value)
            self.prediction_drifted.labels(model, version).set(int(pred.drifted))
        self.last_run.labels("drift").set_to_current_time()

    def record_serving(self, model: str, health: ServingHealth) -> None:
        self.up.labels(model).set(int(health.up))
        if not health.up:
            self.unreachable.labels(model).inc()
        self.requests.labels(model).set(health.requests)
        for gauge, value in ((self.error_rate, health.error_rate), (self.p99, health.p99_seconds)):
            gauge.clear()
            if health.enough_data and value is not None:
                gauge.labels(model).set(value)
        self.last_run.labels("serving").set_to_current_time()

    def record_alerts(self, model: str, firing: list[str]) -> None:
        for name in ALERT_NAMES:
            self.alert_firing.labels(name, model).set(int(name in firing))
