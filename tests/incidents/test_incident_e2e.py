"""Runbook 3 end to end: Alertmanager posts over HTTP, the incident opens in #incidents with its
diagnosis, changes edit the header and add one reply, buttons act through the runbook engine.
Read each test as a chat transcript."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path

import pytest

from bot.db import utcnow
from bot.incidents.diagnosis import Diagnosis
from tests.harness import ONCALL, VIEWER, ModelBotHarness, start_model_harness
from tests.incidents.helpers import (
    TOKEN,
    alert,
    notification,
    post,
    prepare,
    resolved,
    settle,
)


class FakeDiagnosis:
    def diagnose(self, *, alertname: str, labels: dict[str, str]) -> Diagnosis:
        return Diagnosis(
            kind="drift",
            title="Input drift on 2 of 4 features",
            lines=["petal_length: KS p=0.001", "petal_width: KS p=0.004"],
        )


@pytest.fixture
async def bot(tmp_path: Path) -> AsyncIterator[ModelBotHarness]:
    harness = await start_model_harness(tmp_path, alert_webhook_token=TOKEN)
    prepare(harness)
    harness.app.services.incidents.diagnosis = FakeDiagnosis()
    try:
        yield harness
    finally:
        await harness.stop()


DRIFT = alert(
    "ModelInputDrift",
    summary="Input distribution of iris_classifier drifted",
    description="3 of 4 features drifted against the training data",
    runbook="rollback",
)
ACCURACY = alert("ModelAccuracyDrop", severity="critical", summary="Accuracy dropped to 71%")


async def test_an_alert_opens_an_incident_that_lives_in_its_thread(bot: ModelBotHarness) -> None:
    response = await post(bot, notification("iris", [DRIFT]))
    assert response.status_code == 200 and response.json()["incident"] == "INC-1"

    header = await bot.slack.wait_for(
        lambda m: "INC-1" in m.plain() and m.thread_ts is None and bool(m.buttons), timeout=10
    )
    assert header.channel == bot.slack.channel_id("incidents")
    text = header.plain()
    for expected in (
        "Input distribution of iris_classifier drifted",  # what fired
        "ModelInputDrift",
        "firing since 2024-05-01 12:00 UTC",  # since when
        "iris_classifier · v1 in production",  # model and production version at open
        "Last deploy",
        "`rollback`",  # the runbook that answers it
        "Input drift on 2 of 4 features",  # the first diagnosis
        "petal_length: KS p=0.001",
        "SEV3",
    ):
        assert expected in text, (expected, text)
    assert [b[0] for b in header.buttons] == [
        "incident.ack",
        "incident.rollback",
        "incident.retrain",
        "incident.subscribe",
    ]
    await settle(bot)
    thread = bot.slack.thread("incidents", header.ts)
    assert len(thread) == 1 and "INC-1 opened" in thread[0].plain()

    # A second alert in the group: the header is edited, and ONE reply says what changed.
    await post(bot, notification("iris", [DRIFT, ACCURACY]))
    await post(bot, notification("iris", [ACCURACY, DRIFT]))  # Alertmanager's repeat: nothing
    await settle(bot)
    header = bot.slack.find(header.ts)
    assert header is not None and header.edited and "ModelAccuracyDrop" in header.plain()
    assert "SEV1" in header.plain()  # a critical alert raised the severity
    thread = bot.slack.thread("incidents", header.ts)
    assert len(thread) == 2 and "New: ModelAccuracyDrop" in thread[1].plain()
    assert len(bot.slack.messages("incidents")) == 1

    # Acknowledge: the clicker becomes the commander, shown on the header.
    await bot.slack.click(ONCALL, header, "incident.ack")
    await bot.slack.wait_for(lambda m: m.ts == header.ts and f"commander: @{ONCALL}" in m.plain())
    await bot.slack.wait_for_text("is the incident commander", thread_ts=header.ts)

    # Roll back: a viewer is refused; an oncall engineer reaches the rollback runbook, whose
    # answer lands in the incident's thread (production v1 has nothing before it).
    await bot.slack.click(VIEWER, header, "incident.rollback")
    await bot.slack.wait_for_text("That button needs the *oncall* role", user=VIEWER)
    await bot.slack.click(ONCALL, header, "incident.rollback")
    await bot.slack.wait_for_text("nothing before v1", thread_ts=header.ts, timeout=10)

    # Everything resolved: monitoring, with a reply; the quiet period then resolves it.
    await post(bot, notification("iris", [resolved(DRIFT), resolved(ACCURACY)]))
    await settle(bot)
    assert "Monitoring" in bot.slack.find(header.ts).plain()  # type: ignore[union-attr]
    await bot.slack.wait_for_text("All alerts resolved", thread_ts=header.ts)
    flows = bot.app.services.incidents
    assert flows is not None
    assert await flows.sweep(now=utcnow() + timedelta(minutes=10)) == []
    assert await flows.sweep(now=utcnow() + timedelta(minutes=31)) == [1]
    await settle(bot)
    final = bot.slack.find(header.ts)
    assert final is not None and "Resolved" in final.plain() and not final.buttons
    await bot.slack.wait_for_text("no alerts for 30 minutes", thread_ts=header.ts)
