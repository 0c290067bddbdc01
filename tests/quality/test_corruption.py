"""Corruption that is still a number: a unit change, all zeros, a constant, caught by the range and
by the window checks within one monitor interval; the alert says the feature, rate and policy."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from bot.db import Database
from bot.model_registry.mlflow_backend import MlflowModelService
from bot.quality.monitor import QualityMonitor
from bot.quality.overrides import MonitorLimits, load_quality_file
from bot.servers import ServerTask
from bot.serving.app import create_model_app
from bot.serving.quality_gate import gate_factory
from bot.serving.quality_routes import quality_route
from tests.serving.conftest import wait_for_version
from tests.traffic import traffic


class RecordingSink:
    def __init__(self) -> None:
        self.payloads: list[dict[str, Any]] = []

    async def deliver(self, payload: dict[str, Any]) -> None:
        self.payloads.append(payload)

    def firing(self) -> dict[str, dict[str, Any]]:
        state: dict[str, dict[str, Any]] = {}
        for p in self.payloads:
            state[p["groupLabels"]["alertname"]] = p
        return {name: p for name, p in state.items() if p["status"] == "firing"}


@pytest.fixture
async def server(
    service: MlflowModelService, database: Database
) -> AsyncIterator[tuple[str, QualityMonitor, RecordingSink]]:
    app = create_model_app(
        service=service,
        poll_seconds=0.05,
        quality=gate_factory(
            service=service, db=database, quality=load_quality_file(None), poll_seconds=0.05
        ),
        extra_routes=[quality_route()],
    )
    task = ServerTask(app, host="127.0.0.1", port=0, lifespan="on")
    await task.start()
    url = f"http://127.0.0.1:{task.port}"
    sink = RecordingSink()
    monitor = QualityMonitor(
        model="iris_classifier", model_server_url=url, limits=MonitorLimits(),
        sink=sink, repeat_seconds=3600,
    )  # fmt: skip
    async with httpx.AsyncClient(base_url=url) as client:
        await wait_for_version(client, None)
        while (await client.get("/v1/quality")).json().get("version") is None:
            pass
    try:
        yield url, monitor, sink
    finally:
        await monitor.aclose()
        await task.stop()


async def _send(url: str, records: list[dict[str, float]], *, batch: int = 10) -> list[int]:
    async with httpx.AsyncClient(base_url=url) as client:
        statuses = []
        for start in range(0, len(records), batch):
            r = await client.post("/v1/predict", json={"instances": records[start : start + batch]})
            statuses.append(r.status_code)
    return statuses


async def test_a_unit_change_is_caught_within_one_monitor_interval(server) -> None:
    url, monitor, sink = server
    assert set(await _send(url, traffic(100, seed=1))) == {200}
    await monitor.run()
    assert sink.firing() == {}

    millimetres = traffic(100, seed=2)
    for record in millimetres:
        record["petal_length"] = round(record["petal_length"] * 10, 1)
    statuses = await _send(url, millimetres, batch=1)
    assert statuses.count(422) >= 95  # the contract's range: mm are far above 12.8 cm
    snapshot = await monitor.run()  # one interval later

    firing = sink.firing()
    assert {"FeatureRejectedPetalLength", "FeatureCorruptedPetalLength"} <= set(firing)
    rejected = firing["FeatureRejectedPetalLength"]
    assert rejected["commonLabels"]["feature"] == "petal_length"
    assert rejected["commonLabels"]["runbook"] == "data-quality"
    assert snapshot.rates["petal_length"].counts["out_of_range"] >= 95
    assert "unit" in snapshot.rates["petal_length"].window_failed
    assert "FeatureRejectedSepalLength" not in firing


async def test_a_feature_defaulting_to_zero_is_caught_though_every_value_is_valid(server) -> None:
    url, monitor, sink = server
    await monitor.run()
    zeros = traffic(200, seed=3)
    for record in zeros:
        record["petal_width"] = 0.0  # a timed-out feature store's default: in range, and wrong
    assert set(await _send(url, zeros)) == {200}
    snapshot = await monitor.run()
    assert "zeros" in snapshot.rates["petal_width"].window_failed
    assert "FeatureCorruptedPetalWidth" in sink.firing()
    assert "FeatureRejectedPetalWidth" not in sink.firing()

    assert set(await _send(url, traffic(200, seed=4))) == {200}
    await monitor.run()
    assert "FeatureCorruptedPetalWidth" not in sink.firing()  # healthy values again: resolved
    assert sink.payloads[-1]["status"] == "resolved"


async def test_a_constant_feature_is_caught(server) -> None:
    url, monitor, sink = server
    constant = traffic(200, seed=5)
    for record in constant:
        record["sepal_width"] = 3.0
    assert set(await _send(url, constant)) == {200}
    snapshot = await monitor.run()
    assert snapshot.rates["sepal_width"].window_failed == ["constant"]
