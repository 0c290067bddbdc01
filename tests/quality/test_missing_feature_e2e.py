"""Runbook 6 end to end: 30 % of requests lack petal_width → alert → incident thread with the
rate, samples, policy and buttons → the engineer switches to fallback (or impute) from Slack →
answers say `served_by` (or `imputed`) → the rate alert resolves."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from sqlalchemy import select

from bot.audit.models import AuditRecord
from bot.incidents.models import IncidentAlert
from bot.model_registry.mlflow_backend import MlflowModelService
from bot.quality.contract import contract_from_json
from bot.quality.fallback import register_fallback
from bot.serving.recorder import recent_served
from bot.training.iris import FEATURES
from tests.harness import ONCALL, ModelBotHarness, start_model_harness
from tests.quality.helpers import predict_each, rows_missing, until, wait_policy_in_force

ALERT = "FeatureRejectedPetalWidth"


@pytest.fixture
async def bot(tmp_path: Path) -> AsyncIterator[ModelBotHarness]:
    harness = await start_model_harness(
        tmp_path,
        monitor_interval_seconds=0,
        quality_interval_seconds=0,
        quality_policy_poll_seconds=0.2,
    )
    try:
        yield harness
    finally:
        await harness.stop()


def _alert_status(bot: ModelBotHarness, alertname: str) -> list[str]:
    with bot.app.services.db.session() as session:
        rows = session.execute(
            select(IncidentAlert.status).where(IncidentAlert.alertname == alertname)
        ).scalars()
        return list(rows)


async def _refused_then_alert(bot: ModelBotHarness) -> None:
    """Default policy: rows without petal_width are refused naming the field; the alert fires."""
    answers = await predict_each(bot, rows_missing("petal_width", 40, share=0.3, seed=3))
    refused = [body for status, body in answers if status == 422]
    assert len(refused) == 12 and all(b["field"] == "petal_width" for b in refused)
    assert sum(status == 200 for status, _ in answers) == 28
    await bot.app.services.quality.run()
    await until(lambda: _alert_status(bot, ALERT) == ["firing"])


async def test_fallback_from_slack_answers_with_served_by_and_resolves(
    bot: ModelBotHarness,
) -> None:
    models = MlflowModelService.from_settings(bot.settings)
    fallback = await asyncio.to_thread(
        register_fallback, models, without="petal_width", actor="test"
    )
    assert "petal_width" not in (fallback.features or FEATURES)
    await _refused_then_alert(bot)

    details = await bot.slack.wait_for(
        lambda m: "petal_width" in m.plain() and any(b[0] == "quality.fallback" for b in m.buttons),
        timeout=15,
    )
    text = details.plain()
    assert "30.0% of 40 rows refused" in text and "reject" in text
    assert '"petal_width": null' in text  # sample rows, redacted to the features
    assert (
        "quality.fallback",
        f"Fallback v{fallback.version}",
        f"petal_width:{fallback.version}",
    ) in details.buttons

    await bot.slack.click(ONCALL, details, "quality.fallback")
    card = await bot.slack.wait_for(
        lambda m: "Set the policy of petal_width to fallback" in m.plain() and bool(m.buttons),
        timeout=15,
    )
    await wait_policy_in_force(bot, card)

    answers = await predict_each(bot, rows_missing("petal_width", 40, share=0.3, seed=4))
    assert all(status == 200 for status, _ in answers)
    served_by = [p.get("served_by") for _, body in answers for p in body["predictions"]]
    assert served_by.count(f"v{fallback.version} (fallback)") == 12
    assert served_by.count(None) == 28

    await bot.app.services.quality.run()
    await until(lambda: _alert_status(bot, ALERT) == ["resolved"])
    async with httpx.AsyncClient() as client:
        metrics = (await client.get(f"{bot.settings.model_server_url}/metrics")).text
    assert (
        'model_server_feature_issues_total{feature="petal_width",kind="fallback"} 12.0' in metrics
    )
    assert (
        'model_server_feature_issues_total{feature="petal_width",kind="rejected"} 12.0' in metrics
    )
    with bot.app.services.db.session() as session:
        audit = session.execute(
            select(AuditRecord).where(AuditRecord.action == "quality.policy")
        ).scalar_one()
    assert audit.actor == ONCALL and audit.arguments == f"petal_width fallback v{fallback.version}"

    mark = bot.slack.seq
    await bot.command("quality")
    report = await bot.slack.wait_for_text(
        "Input quality of iris_classifier", since=mark, timeout=10
    )
    assert f"fallback v{fallback.version}" in report.plain()


async def test_impute_serves_the_stored_training_median(bot: ModelBotHarness) -> None:
    await _refused_then_alert(bot)
    await bot.command("quality policy petal_width fallback v1")
    await bot.slack.wait_for_text("v1 uses petal_width itself", user=ONCALL)
    await bot.command("quality policy petal_width fallback v9")
    await bot.slack.wait_for_text("There is no v9", user=ONCALL)

    await bot.command("quality policy petal_width impute")
    card = await bot.slack.wait_for(
        lambda m: "Set the policy of petal_width to impute" in m.plain() and bool(m.buttons),
        timeout=15,
    )
    await wait_policy_in_force(bot, card)

    models = MlflowModelService.from_settings(bot.settings)
    stored = await asyncio.to_thread(models.describe, 1)
    median = contract_from_json(stored.quality_contract or "", FEATURES).get("petal_width").median
    assert median is not None

    record = {"sepal_length": 6.1, "sepal_width": 2.8, "petal_length": 4.7}
    async with httpx.AsyncClient(base_url=bot.settings.model_server_url) as client:
        imputed = (await client.post("/v1/predict", json=record)).json()["predictions"][0]
        explicit = (
            await client.post("/v1/predict", json={**record, "petal_width": median})
        ).json()["predictions"][0]
    assert imputed["imputed"] == ["petal_width"] and "imputed" not in explicit
    assert imputed["probabilities"] == explicit["probabilities"]

    async def recorded() -> float:
        for _ in range(200):
            with bot.app.services.db.session() as session:
                rows = [
                    r for r in recent_served(session, limit=5) if r.prediction_id == imputed["id"]
                ]
            if rows:
                return rows[0].features["petal_width"]
            await asyncio.sleep(0.05)
        raise AssertionError("the imputed prediction was not recorded")

    assert await recorded() == median  # training and serving see the same value

    answers = await predict_each(bot, rows_missing("petal_width", 40, share=0.3, seed=5))
    assert all(status == 200 for status, _ in answers)
    await bot.app.services.quality.run()
    await until(lambda: _alert_status(bot, ALERT) == ["resolved"])

    # A version registered before contracts has no medians: impute on it is refused.
    legacy = await asyncio.to_thread(
        models.register,
        await asyncio.to_thread(models.load, 1),
        estimator="logistic_regression",
        params={},
        metrics=(await asyncio.to_thread(models.evaluate, 1)),
        trained_by="test",
    )
    await asyncio.to_thread(models.set_production, legacy.version)
    await bot.command("quality policy petal_width impute")
    await bot.slack.wait_for_text("stores no training median", user=ONCALL)
    assert json.loads(stored.quality_contract or "{}")  # the bootstrap versions do store one
