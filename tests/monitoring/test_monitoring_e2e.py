"""Runbook 3, end to end: shifted traffic to the real model server, `/iris drift` and
`/iris monitor` through the Slack stand-in, gauges on the bot's /metrics, alerts at the sink."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from bot.training.iris import FEATURES
from tests.harness import VIEWER, ModelBotHarness, start_model_harness
from tests.traffic import send, traffic

PETAL_LENGTH = FEATURES.index("petal_length")


class RecordingSink:
    def __init__(self) -> None:
        self.payloads: list[dict] = []

    async def deliver(self, payload: dict) -> None:
        self.payloads.append(payload)

    def statuses(self, alertname: str) -> list[str]:
        return [p["status"] for p in self.payloads if p["commonLabels"]["alertname"] == alertname]


@pytest.fixture
async def bot(tmp_path: Path) -> AsyncIterator[ModelBotHarness]:
    harness = await start_model_harness(tmp_path, monitor_interval_seconds=0)
    try:
        yield harness
    finally:
        await harness.stop()


async def test_shifted_traffic_drifts_alerts_and_recovers(bot: ModelBotHarness) -> None:
    services = bot.app.services
    assert services.monitoring is not None
    sink = services.monitoring.sink = RecordingSink()

    await bot.command("drift", user=VIEWER)  # no traffic yet
    empty = await bot.slack.wait_for_text("Input drift of iris_classifier", user=VIEWER)
    assert "NOT ENOUGH DATA" in empty.plain() and "no served inputs" in empty.plain()
    assert sink.statuses("ModelInputDrift") == []

    await send(bot, traffic(300, seed=1, shift_sd=2.0))
    mark = bot.slack.workspace.seq
    await bot.command("drift", user=VIEWER)
    table = await bot.slack.wait_for_text(
        "Input drift of iris_classifier", user=VIEWER, since=mark, timeout=10
    )
    rows = {line.split()[0]: line.split() for line in table.text.splitlines()[1:] if line}
    assert rows["petal_length"][1] == "ks" and rows["petal_length"][-2:] == ["yes", "300"]
    assert rows["sepal_length"][-2:] == ["no", "300"]
    assert "DRIFT in petal_length" in table.plain() and "```" in table.plain()
    assert sink.statuses("ModelInputDrift") == ["firing"]
    fired = next(p for p in sink.payloads if p["commonLabels"]["alertname"] == "ModelInputDrift")
    assert fired["commonLabels"] == {
        "alertname": "ModelInputDrift", "severity": "warning", "model": "iris_classifier",
        "runbook": "retrain", "version": "1",
    }  # fmt: skip
    assert "petal_length" in fired["commonAnnotations"]["summary"]
    assert sink.statuses("ModelPredictionDrift") == ["firing"]  # more virginica than the holdout

    mark = bot.slack.workspace.seq
    await bot.command("monitor", user=VIEWER)
    report = await bot.slack.wait_for_text(
        "Monitors of iris_classifier", user=VIEWER, since=mark, timeout=10
    )
    plain = report.plain()
    assert "Accuracy: NOT ENOUGH DATA" in plain and "Input drift: DRIFT" in plain
    assert "Prediction drift: DRIFT" in plain and "Serving: OK" in plain
    assert "Firing: ModelInputDrift, ModelPredictionDrift" in plain

    async with httpx.AsyncClient() as client:
        exported = (await client.get(f"{bot.url}/metrics")).text
    labels = 'model="iris_classifier",version="1"'
    assert f'oncall_feature_drifted{{feature="petal_length",{labels}}} 1.0' in exported
    assert f'oncall_feature_drifted{{feature="sepal_width",{labels}}} 0.0' in exported
    assert f"oncall_dataset_drift_share{{{labels}}} 0.25" in exported
    assert f"oncall_dataset_drifted{{{labels}}} 0.0" in exported
    assert f"oncall_drift_window_size{{{labels}}} 300.0" in exported
    for name in (
        "oncall_feature_drift_score", "oncall_feature_psi", "oncall_prediction_drift_pvalue",
        "oncall_model_accuracy_floor", "oncall_serving_up", "oncall_serving_error_rate",
        "oncall_serving_p99_seconds", "oncall_monitor_alert_firing",
    ):  # fmt: skip
        assert f"\n{name}{{" in exported, name

    diagnosis = services.monitoring.diagnose(alertname="ModelInputDrift", labels={})
    assert diagnosis.kind == "drift" and "petal_length" in diagnosis.title

    await send(bot, traffic(500, seed=2))  # normal traffic fills the window
    await bot.command("monitor", user=VIEWER)
    deadline = asyncio.get_running_loop().time() + 10
    while sink.statuses("ModelInputDrift") != ["firing", "resolved"]:
        assert asyncio.get_running_loop().time() < deadline, sink.payloads
        await asyncio.sleep(0.05)
    assert sink.statuses("ModelPredictionDrift") == ["firing", "resolved"]
    resolved = [p for p in sink.payloads if p["status"] == "resolved"][0]
    assert resolved["alerts"][0]["endsAt"] != "0001-01-01T00:00:00Z"
