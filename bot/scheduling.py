"""The APScheduler instance: asyncio scheduler with its job store in the bot's own database.

Jobs survive a restart. Missed runs are coalesced into one and run if they are at most
`misfire_grace_time` late; later than that they are skipped and the next regular run happens.

Several bot processes may share the database; only the elected leader (bot/leader.py) runs
jobs. Every process starts its scheduler paused, so it can still add, reschedule and remove
jobs in the shared store; the leader's is resumed, and woken on every election tick so it sees
jobs other processes added (its own next wake-up only knows about its own changes).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from apscheduler.job import Job
from apscheduler.jobstores.memory import MemoryJobStore
from apscheduler.jobstores.sqlalchemy import SQLAlchemyJobStore
from apscheduler.schedulers.asyncio import AsyncIOScheduler
from apscheduler.schedulers.base import STATE_PAUSED, STATE_RUNNING
from sqlalchemy.engine import Engine

from bot.leader import LeaderElection, LeaderLock

log = logging.getLogger(__name__)

JOBS_TABLE = "apscheduler_jobs"
# Interval jobs that each start re-adds (monitors, ingestion, capacity) live in memory; jobs that
# must survive a restart (updates, reminders, grant deadlines) go to the "default" SQL store.
MEMORY_JOBSTORE = "memory"


def make_scheduler(engine: Engine) -> AsyncIOScheduler:
    return AsyncIOScheduler(
        jobstores={
            "default": SQLAlchemyJobStore(engine=engine, tablename=JOBS_TABLE),
            MEMORY_JOBSTORE: MemoryJobStore(),
        },
        job_defaults={"coalesce": True, "max_instances": 1, "misfire_grace_time": 15 * 60},
        timezone="UTC",
    )


def scheduler_election(
    scheduler: AsyncIOScheduler,
    lock: LeaderLock,
    *,
    interval: float,
    on_elected: Callable[[], None],
    on_deposed: Callable[[], None],
) -> LeaderElection:
    """Run `scheduler` (started paused) only while this process holds `lock`.

    `on_elected` runs before jobs may fire, `on_deposed` after they stopped firing.
    """

    def elected() -> None:
        on_elected()
        if scheduler.state == STATE_PAUSED:
            scheduler.resume()
        log.info("this process runs the scheduler")

    def deposed() -> None:
        if scheduler.state == STATE_RUNNING:
            scheduler.pause()
        on_deposed()
        log.info("this process no longer runs the scheduler (standby)")

    def wake() -> None:
        if scheduler.state == STATE_RUNNING:
            scheduler.wakeup()

    return LeaderElection(
        lock, interval=interval, on_elected=elected, on_deposed=deposed, while_leader=wake
    )


def scheduler_health(scheduler: AsyncIOScheduler) -> dict[str, object]:
    """Running state, leadership and job count, for /iris status and /healthz.

    A standby's scheduler is started but paused: `running` (healthy), not `leader`.
    """
    facts: dict[str, object] = {
        "running": scheduler.running,
        "leader": scheduler.state == STATE_RUNNING,
    }
    try:
        jobs = scheduler.get_jobs()
    except Exception as exc:  # job store unreachable
        return {**facts, "jobs": None, "error": str(exc)}
    return {**facts, "jobs": len(jobs), "error": None}


def run_due_now(
    scheduler: AsyncIOScheduler, *, within: timedelta, now: datetime | None = None
) -> list[Job]:
    """Make every job due within `within` due now, and wake the scheduler to run them.

    The jobs then run the ordinary way (the scheduler's own executor, misfire and coalescing
    rules, next run computed from the trigger), so a demo sees exactly what the wait would have
    shown. Only the leader runs jobs; a standby (paused scheduler) moves nothing.
    """
    if scheduler.state != STATE_RUNNING:
        return []
    now = now or datetime.now(UTC)
    horizon = now + within
    moved = []
    for job in scheduler.get_jobs():
        if job.next_run_time is not None and job.next_run_time <= horizon:
            job.modify(next_run_time=now)
            moved.append(job)
    scheduler.wakeup()
    return moved
