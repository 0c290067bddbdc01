"""Scheduled ingestion and retraining: settings checked at start-up, jobs wired, auto-promote."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.config import SettingsError, load_settings
from bot.deploy import service as deploy_service
from bot.retrain.scheduled import INGEST_JOB, JOBSTORE, RETRAIN_JOB, scheduled_retrain
from tests.harness import start_model_harness
from tests.retrain.test_retrain_e2e import HEADER, jittered_training_rows


def test_a_bad_cron_expression_stops_start_up_naming_the_setting() -> None:
    with pytest.raises(SettingsError, match="RETRAIN_CRON"):
        load_settings(retrain_cron="every monday")
    assert load_settings(retrain_cron="0 3 * * 1").retrain_cron == "0 3 * * 1"


async def test_scheduled_retrain_reports_in_the_oncall_channel_and_auto_promotes(
    tmp_path: Path,
) -> None:
    bot = await start_model_harness(
        tmp_path, retrain_cron="0 3 * * 1", auto_promote=True, ingest_interval_seconds=60
    )
    try:
        scheduler = bot.app.services.scheduler
        assert scheduler.get_job(RETRAIN_JOB, jobstore=JOBSTORE) is not None
        assert scheduler.get_job(INGEST_JOB, jobstore=JOBSTORE) is not None

        landing = bot.settings.oncall_data_dir / "landing"
        landing.mkdir(parents=True, exist_ok=True)
        (landing / "weekly.csv").write_text(HEADER + jittered_training_rows(2, seed=5))
        run = await scheduled_retrain(bot.app.services)
        assert run is not None and run.actor == "scheduler"
        report = await bot.slack.wait_for(lambda m: "Retrain report" in m.plain(), timeout=30)
        assert "the scheduler" in report.plain() and "Gate passed" in report.plain()
        await bot.slack.wait_for(
            lambda m: "Deploy v1 → v3" in m.plain() and "done" in m.plain().lower(), timeout=30
        )
        models = bot.app.services.models
        assert models is not None and models.production_version() == 3
        with bot.app.services.db.session() as session:
            entry = deploy_service.history(session)[0]
        assert entry.actor == "scheduler" and "auto-promote" in entry.reason
    finally:
        await bot.stop()
