"""Timed jobs of the retrain domain: landing ingestion and the scheduled retrain (RETRAIN_CRON).

The jobs derive from settings and are re-created at every start, so they live in an in-memory
job store: nothing to unpickle, and the job callables can close over this bot's services.
"""

from __future__ import annotations

import asyncio
import json
import logging
from typing import TYPE_CHECKING

from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.interval import IntervalTrigger

from bot.access.roles import Role
from bot.data.dataset import rows_since
from bot.deploy.flows import DeployContext, DeployRefused, start_deploy
from bot.retrain.actions import landing_dir, landing_files_since, production_facts, trained_at
from bot.retrain.options import ALL_SOURCES
from bot.runbook import RunState, RunStatus
from bot.scheduling import MEMORY_JOBSTORE

if TYPE_CHECKING:
    from bot.services import Services

log = logging.getLogger(__name__)

JOBSTORE = MEMORY_JOBSTORE
SCHEDULER_ACTOR = "scheduler"
INGEST_JOB = "data.ingest_landing"
RETRAIN_JOB = "retrain.scheduled"


def schedule_retrain_jobs(services: Services) -> None:
    """Add the ingestion and retrain jobs the settings ask for; ingest once now, in the background."""
    settings = services.settings
    scheduler = services.scheduler
    if settings.ingest_interval_seconds > 0:
        scheduler.add_job(
            ingest_once,
            IntervalTrigger(seconds=settings.ingest_interval_seconds),
            args=[services],
            id=INGEST_JOB,
            name="Ingest the landing folder",
            jobstore=JOBSTORE,
            replace_existing=True,
        )
        services.tasks.spawn(ingest_once(services), name="start-up ingestion")
    if settings.retrain_cron:
        scheduler.add_job(
            scheduled_retrain,
            CronTrigger.from_crontab(settings.retrain_cron, timezone="UTC"),
            args=[services],
            id=RETRAIN_JOB,
            name="Scheduled retrain",
            jobstore=JOBSTORE,
            replace_existing=True,
        )


async def ingest_once(services: Services) -> None:
    """Run the pipeline's ingest job; failures are logged (and become incidents through the
    pipeline monitor), the next run tries again."""
    if not services.settings.dagster_url:
        return  # without a Dagster, ingestion runs when asked (`/iris data ingest`, a retrain)
    folder = landing_dir(services.settings)
    try:
        folder.mkdir(parents=True, exist_ok=True)
        report = await services.pipelines.ingestor.ingest()
    except Exception as exc:
        log.warning("scheduled ingestion of %s failed: %s", folder, exc)
        return
    if report.files:
        log.info(
            "ingested %d files: %d rows, %d quarantined",
            len(report.files),
            report.rows_added,
            report.rows_quarantined,
        )


async def scheduled_retrain(services: Services) -> RunState | None:
    """Start the retrain runbook as `scheduler` in ONCALL_CHANNEL; auto-promote if allowed."""
    engine, models, settings = services.engine, services.models, services.settings
    # A late source (bot/quality/sources.py) holds scheduled retrains; a person may still retrain.
    if held := await services.quality.held("scheduled retrains"):
        log.info("scheduled retrain held: %s late", ", ".join(s.source for s in held))
        return None
    hold = services.pipelines.monitor.retrain_hold()
    if hold is not None:
        log.warning("scheduled retrain held: training data stale or its pipeline failed")
        return None
    production = await asyncio.to_thread(production_facts, models)
    if production is not None:
        since = trained_at(production)
        new = await asyncio.to_thread(rows_since, services.db, since=since)
        if not new and not await asyncio.to_thread(landing_files_since, settings, since):
            log.info("scheduled retrain skipped: nothing new since %s", production.label)
            return None
    estimator = (production.estimator if production else None) or "logistic_regression"
    params = production.params if production else {}
    run = await engine.start(
        "retrain",
        {
            "estimator": estimator,
            "hyperparams": json.dumps(params, sort_keys=True),
            "include": ",".join(ALL_SOURCES),
            "force": False,
        },
        actor=SCHEDULER_ACTOR,
        channel=settings.oncall_channel,
    )
    if settings.auto_promote:
        await auto_promote(services, run.id)
    return run


async def auto_promote(services: Services, retrain_run_id: int, timeout: float = 3600) -> None:
    """After a scheduled retrain: promote its candidate if, and only if, it passed the gate."""
    engine, models = services.engine, services.models
    state = await engine.wait(retrain_run_id, timeout=timeout)
    version = next(
        (s.outputs.get("version") for s in state.steps if s.step_id == "register" and s.outputs),
        None,
    )
    if state.status is not RunStatus.SUCCEEDED or version is None:
        return
    described = await asyncio.to_thread(models.describe, int(version))
    if described.validation_status != "passed":
        log.info("auto-promote skipped: v%s is %s", version, described.validation_status)
        return
    if held := await services.quality.held("automatic promotion"):
        log.info("auto-promote of v%s held: %s late", version, ", ".join(s.source for s in held))
        return
    ctx = DeployContext(engine=engine, models=models, db=services.db)
    try:
        deploy = await start_deploy(
            ctx,
            version_text=str(version),
            actor=SCHEDULER_ACTOR,
            # The standing AUTO_PROMOTE setting acts for the oncall rotation; it never forces.
            role=Role.ONCALL,
            channel=services.settings.oncall_channel,
            reason=f"auto-promote after scheduled retrain run #{retrain_run_id}",
            require_gate=True,
        )
    except DeployRefused as exc:
        log.warning("auto-promote of v%s refused: %s", version, exc.kind)
        return
    # AUTO_PROMOTE is the operator's standing confirmation: confirm as the scheduler.
    state = await engine.wait(deploy.id, timeout=timeout)
    if state.status is RunStatus.WAITING_CONFIRMATION:
        waiting = next(s.step_id for s in state.steps if s.status == "waiting_confirmation")
        await engine.confirm(deploy.id, waiting, SCHEDULER_ACTOR)
