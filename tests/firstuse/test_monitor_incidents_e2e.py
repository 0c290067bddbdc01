"""One cause, one incident; refused input is its own rate; latency points at capacity.
The real model server, the real monitors and the real alert intake."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from sqlalchemy import select

from bot.incidents.models import Incident, IncidentAlert
from bot.monitoring.alerts import ACCURACY, Finding
from tests.harness import VIEWER, ModelBotHarness, start_model_harness
from tests.traffic import send, traffic


@pytest.fixture
async def bot(tmp_path: Path) -> AsyncIterator[ModelBotHarness]:
    harness = await start_model_harness(tmp_path, monitor_interval_seconds=0)
    try:
        yield harness
    finally:
        await harness.stop()


def incidents(bot: ModelBotHarness) -> list[tuple[Incident, list[str]]]:
    with bot.app.services.db.session() as session:
        rows = session.scalars(select(Incident).order_by(Incident.number)).all()
        return [
            (
                row,
                sorted(
                    session.scalars(
                        select(IncidentAlert.alertname).where(IncidentAlert.incident_id == row.id)
                    )
                ),
            )
            for row in rows
        ]


async def monitor(bot: ModelBotHarness) -> str:
    mark = bot.slack.workspace.seq
    await bot.command("monitor", user=VIEWER)
    report = await bot.slack.wait_for_text(
        "Monitors of iris_classifier", user=VIEWER, since=mark, timeout=15
    )
    return report.plain()


async def test_refused_input_one_incident_per_cause_latency_to_capacity(
    bot: ModelBotHarness,
) -> None:
    monitoring = bot.app.services.monitoring
    assert monitoring is not None
    # `/iris data` says where the landing folder is, so a file can be dropped in it.
    mark = bot.slack.workspace.seq
    await bot.command("data", user=VIEWER)
    data = await bot.slack.wait_for_text("Training data", user=VIEWER, since=mark, timeout=15)
    assert f"Landing folder: `{bot.settings.oncall_data_dir / 'landing'}`" in data.plain()

    # 30 of 35 predictions refused for bad input (422): not "OK", and said as its own rate.
    good = traffic(5, seed=3)
    async with httpx.AsyncClient(base_url=bot.settings.model_server_url) as client:
        for i in range(35):
            body = {"instances": [good[i]]} if i < 5 else {"instances": [{"colour": "blue"}]}
            response = await client.post("/v1/predict", json=body)
            assert response.status_code == (200 if i < 5 else 422), response.text
    plain = await monitor(bot)
    assert "Serving: OK" not in plain and "Serving: REFUSING INPUT" in plain, plain
    assert "refused for bad input 85.7% (30)" in plain and "· errors 0.0%" not in plain

    # Shifted traffic: input drift and prediction drift of the same version and window.
    await send(bot, traffic(300, seed=1, shift_sd=2.0))
    plain = await monitor(bot)
    assert "Input drift: DRIFT" in plain and "Prediction drift: DRIFT" in plain
    found = incidents(bot)
    drift = [(inc, names) for inc, names in found if "ModelInputDrift" in names]
    assert len(drift) == 1, found  # one incident for the drift, not one per finding
    incident, names = drift[0]
    assert names == ["ModelInputDrift", "ModelPredictionDrift"]
    assert not [n for inc, n in found if inc.id != incident.id and "ModelPredictionDrift" in n]
    header = await bot.slack.wait_for_text(f"INC-{incident.number}", channel="incidents")
    thread = await bot.slack.wait_for(
        lambda m: m.thread_ts == header.ts and "ModelPredictionDrift" in m.plain(), timeout=10
    )
    assert "ModelInputDrift" in "".join(m.plain() for m in bot.slack.thread("incidents", header.ts))
    assert thread is not None

    # A later finding about the same version, while the incident is open, joins it.
    [payload] = monitoring.tracker.update(
        [Finding(ACCURACY, True, "critical", "accuracy fell", "", {"version": "1"})]
    )
    await monitoring.sink.deliver(payload)
    after = incidents(bot)
    assert len(after) == len(found)
    joined = next(names for inc, names in after if inc.id == incident.id)
    assert ACCURACY in joined
    worst = next(inc for inc, _ in after if inc.id == incident.id)
    assert worst.severity == "SEV1"  # the worst of its findings
    await bot.slack.wait_for(
        lambda m: m.thread_ts == header.ts and ACCURACY in m.plain(), timeout=10
    )

    # Latency findings point at capacity and scaling, not at the rollback runbook.
    lines = " ".join(monitoring.diagnose(alertname="ModelServingLatency", labels={}).lines)
    assert "rollback" not in lines.replace("a rollback helps only", "")
    if "capacity" in monitoring.commands:
        assert "`/iris capacity`" in lines
    else:
        assert "scaling is not automated yet" in lines
    monitoring.commands = monitoring.commands | {"capacity", "scale"}
    lines = " ".join(monitoring.diagnose(alertname="ModelServingLatency", labels={}).lines)
    assert "`/iris capacity`" in lines and "`/iris scale`" in lines
    payloads = monitoring.tracker.update([Finding("ModelServingLatency", True, "warning")])
    assert payloads[0]["commonLabels"]["runbook"] != "rollback"
