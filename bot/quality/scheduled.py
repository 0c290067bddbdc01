"""The quality monitor's interval job (QUALITY_INTERVAL_SECONDS), in the in-memory job store."""

from __future__ import annotations

import logging

from apscheduler.schedulers.asyncio import AsyncIOScheduler
from apscheduler.triggers.interval import IntervalTrigger

from bot.quality.service import QualityService
from bot.scheduling import MEMORY_JOBSTORE

log = logging.getLogger(__name__)

JOBSTORE = MEMORY_JOBSTORE
QUALITY_JOB = "quality.run"


def schedule_quality_jobs(
    scheduler: AsyncIOScheduler, quality: QualityService, *, seconds: float
) -> None:
    """Add the quality job when the interval is above 0."""
    if seconds <= 0:
        return
    scheduler.add_job(
        run_quality,
        IntervalTrigger(seconds=seconds),
        args=[quality],
        id=QUALITY_JOB,
        name="Feature quality and source cadence monitors",
        jobstore=JOBSTORE,
        replace_existing=True,
    )


async def run_quality(quality: QualityService) -> None:
    """One run; failures are logged, the next run tries again."""
    try:
        await quality.run()
    except Exception:
        log.exception("scheduled quality run failed")
