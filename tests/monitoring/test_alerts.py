"""Alert payloads (Alertmanager v4), when they are sent, and serving metrics arithmetic."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from prometheus_client import generate_latest

from bot.monitoring.alerts import INPUT_DRIFT, SERVER_DOWN, AlertTracker, Finding
from bot.monitoring.checks import (
    ServingCounters,
    counter_delta,
    histogram_quantile,
    parse_serving_metrics,
)
from bot.monitoring.service import diagnosis_kind
from bot.serving.metrics import ServerMetrics

T0 = datetime(2024, 10, 1, 12, 0, tzinfo=UTC)


def test_firing_then_quiet_then_repeat_then_resolved() -> None:
    tracker = AlertTracker(model="iris_classifier", repeat_seconds=600)
    drift = Finding(INPUT_DRIFT, True, "warning", "petal_length drifted", "details")
    assert tracker.update([Finding(INPUT_DRIFT, False)], now=T0) == []  # nothing to resolve

    [fired] = tracker.update([drift], now=T0)
    assert fired["version"] == "4" and fired["status"] == "firing"
    assert fired["receiver"] == "oncall-bot"
    assert fired["groupLabels"] == {"alertname": INPUT_DRIFT}
    assert fired["groupKey"] == '{}:{alertname="ModelInputDrift"}'
    assert fired["commonLabels"] == {
        "alertname": INPUT_DRIFT, "severity": "warning", "model": "iris_classifier",
        "runbook": "retrain",
    }  # fmt: skip
    assert fired["commonAnnotations"] == {
        "summary": "petal_length drifted",
        "description": "details",
    }
    [alert] = fired["alerts"]
    assert alert["status"] == "firing" and alert["startsAt"] == "2024-10-01T12:00:00.000Z"
    assert alert["endsAt"] == "0001-01-01T00:00:00Z" and len(alert["fingerprint"]) == 16
    assert set(fired) == {
        "version", "groupKey", "status", "receiver", "groupLabels", "commonLabels",
        "commonAnnotations", "externalURL", "alerts", "truncatedAlerts",
    }  # fmt: skip

    assert tracker.update([drift], now=T0 + timedelta(seconds=60)) == []  # no change: quiet
    assert tracker.firing() == [INPUT_DRIFT]
    [again] = tracker.update([drift], now=T0 + timedelta(seconds=601))  # repeat interval
    assert again["alerts"][0]["startsAt"] == alert["startsAt"]
    critical = Finding(INPUT_DRIFT, True, "critical", "data set drifted")
    [worse] = tracker.update([critical], now=T0 + timedelta(seconds=620))  # severity changed
    assert worse["commonLabels"]["severity"] == "critical"

    [resolved] = tracker.update(
        [Finding(INPUT_DRIFT, False, summary="no drift")], now=T0 + timedelta(hours=1)
    )
    assert resolved["status"] == "resolved" and resolved["alerts"][0]["status"] == "resolved"
    assert resolved["alerts"][0]["endsAt"] == "2024-10-01T13:00:00.000Z"
    assert resolved["commonLabels"]["severity"] == "critical"
    assert resolved["alerts"][0]["fingerprint"] == alert["fingerprint"]
    assert tracker.firing() == []
    assert tracker.update([Finding(INPUT_DRIFT, False)], now=T0 + timedelta(hours=2)) == []


def test_alerts_are_independent() -> None:
    tracker = AlertTracker(model="m", repeat_seconds=600)
    payloads = tracker.update(
        [Finding(INPUT_DRIFT, True), Finding(SERVER_DOWN, True, "critical")], now=T0
    )
    assert [p["groupLabels"]["alertname"] for p in payloads] == [INPUT_DRIFT, SERVER_DOWN]
    assert payloads[1]["commonLabels"]["runbook"] == "deploy"
    # A check that did not run this time (absent from the list) keeps its state.
    assert tracker.update([Finding(SERVER_DOWN, False)], now=T0)[0]["status"] == "resolved"
    assert tracker.firing() == [INPUT_DRIFT]


def test_serving_metrics_parse_and_delta() -> None:
    metrics = ServerMetrics()
    for seconds in [0.002] * 98 + [0.2, 0.2]:
        metrics.observe("predict", 200, seconds)
    metrics.observe("predict", 503, 0.001)
    metrics.observe("predict", 422, 0.001)
    metrics.observe("healthz", 200, 5.0)  # other endpoints do not count
    first = parse_serving_metrics(generate_latest(metrics.registry).decode())
    assert first.requests == 102 and first.errors == 1
    assert first.buckets[-1] == (float("inf"), 102)
    assert histogram_quantile(0.99, first.buckets) == pytest.approx(0.1 + 0.15 * 0.98 / 2)
    assert histogram_quantile(0.5, first.buckets) == pytest.approx(0.001 + 0.0015 * 49 / 98)

    for _ in range(10):
        metrics.observe("predict", 500, 3.0)  # slow failures, in the overflow bucket
    second = parse_serving_metrics(generate_latest(metrics.registry).decode())
    delta = counter_delta(second, first)
    assert delta.requests == 10 and delta.errors == 10
    assert histogram_quantile(0.99, delta.buckets) == 2.5  # the largest finite bound
    restarted = ServingCounters(3, 0, ((0.01, 3.0), (float("inf"), 3.0)))
    assert counter_delta(restarted, second) == restarted  # counters went down: start over
    assert histogram_quantile(0.99, ()) is None
    assert histogram_quantile(0.99, ((0.1, 0.0), (float("inf"), 0.0))) is None


@pytest.mark.parametrize(
    ("name", "kind"),
    [
        ("ModelInputDrift", "drift"),
        ("ModelPredictionDrift", "drift"),
        ("ModelAccuracyBelowFloor", "accuracy"),
        ("ModelServingLatency", "latency"),
        ("ModelServingErrors", "latency"),
        ("ModelServerDown", "latency"),
        ("DiskFull", "none"),
    ],
)
def test_diagnosis_kind(name: str, kind: str) -> None:
    assert diagnosis_kind(name) == kind


def test_a_payload_the_sink_failed_on_is_sent_again() -> None:
    tracker = AlertTracker(model="m", repeat_seconds=3600)
    down = Finding(SERVER_DOWN, True, "critical")
    [fired] = tracker.update([down], now=T0)
    tracker.undelivered(fired)
    [again] = tracker.update([down], now=T0 + timedelta(seconds=60))
    assert again["status"] == "firing"
    [resolved] = tracker.update([Finding(SERVER_DOWN, False)], now=T0 + timedelta(seconds=120))
    tracker.undelivered(resolved)
    assert tracker.firing() == [SERVER_DOWN]
    [retry] = tracker.update([Finding(SERVER_DOWN, False)], now=T0 + timedelta(seconds=180))
    assert retry["status"] == "resolved" and tracker.firing() == []
