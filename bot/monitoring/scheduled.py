"""The monitors' interval job (MONITOR_INTERVAL_SECONDS).

Derived from settings and re-created at every start, so it lives in the in-memory job store:
nothing to unpickle, and the job callable can close over this bot's services.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from apscheduler.triggers.interval import IntervalTrigger

from bot.scheduling import MEMORY_JOBSTORE

if TYPE_CHECKING:
    from bot.services import Services

log = logging.getLogger(__name__)

JOBSTORE = MEMORY_JOBSTORE
MONITOR_JOB = "monitoring.run_all"


def schedule_monitor_jobs(services: Services) -> None:
    """Add the monitor job when MONITOR_INTERVAL_SECONDS > 0."""
    seconds = services.settings.monitor_interval_seconds
    if seconds <= 0:
        return
    scheduler = services.scheduler
    scheduler.add_job(
        run_monitors,
        IntervalTrigger(seconds=seconds),
        args=[services],
        id=MONITOR_JOB,
        name="Accuracy, drift and serving monitors",
        jobstore=JOBSTORE,
        replace_existing=True,
    )


async def run_monitors(services: Services) -> None:
    """One scheduled run of every check; failures are logged, the next run tries again."""
    try:
        await services.monitoring.run_all()
    except Exception:
        log.exception("scheduled monitor run failed")
