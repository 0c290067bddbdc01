"""The APScheduler instance: asyncio scheduler with its job store in the bot's own database.

Jobs survive a restart. Missed runs are coalesced into one and run if they are at most
`misfire_grace_time` late; later than that they are skipped and the next regular run happens.
"""

from __future__ import annotations

from apscheduler.jobstores.sqlalchemy import SQLAlchemyJobStore
from apscheduler.schedulers.asyncio import AsyncIOScheduler
from sqlalchemy.engine import Engine

JOBS_TABLE = "apscheduler_jobs"


def make_scheduler(engine: Engine) -> AsyncIOScheduler:
    return AsyncIOScheduler(
        jobstores={"default": SQLAlchemyJobStore(engine=engine, tablename=JOBS_TABLE)},
        job_defaults={"coalesce": True, "max_instances": 1, "misfire_grace_time": 15 * 60},
        timezone="UTC",
    )


def scheduler_health(scheduler: AsyncIOScheduler) -> dict[str, object]:
    """Running state and job count, for /iris status and /healthz."""
    try:
        jobs = scheduler.get_jobs()
    except Exception as exc:  # job store unreachable
        return {"running": scheduler.running, "jobs": None, "error": str(exc)}
    return {"running": scheduler.running, "jobs": len(jobs), "error": None}
