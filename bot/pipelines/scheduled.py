"""Timed job of the pipeline domain: poll Dagster for failures and freshness (the backstop)."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from apscheduler.triggers.interval import IntervalTrigger

from bot.scheduling import MEMORY_JOBSTORE

if TYPE_CHECKING:
    from bot.services import Services

log = logging.getLogger(__name__)

JOBSTORE = MEMORY_JOBSTORE
CHECK_JOB = "pipelines.check"


def schedule_pipeline_jobs(services: Services) -> None:
    """Poll the engine every PIPELINE_POLL_SECONDS when an engine is configured."""
    settings = services.settings
    if settings.pipeline_poll_seconds <= 0 or not settings.dagster_url:
        return
    services.scheduler.add_job(
        check_pipelines,
        IntervalTrigger(seconds=settings.pipeline_poll_seconds),
        args=[services],
        id=CHECK_JOB,
        name="Check the data pipeline",
        jobstore=JOBSTORE,
        replace_existing=True,
    )


async def check_pipelines(services: Services) -> None:
    """One poll; an engine that does not answer is reported as unknown, never raised."""
    try:
        await services.pipelines.monitor.check()
    except Exception:
        log.exception("pipeline check failed")
