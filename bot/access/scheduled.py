"""The grants' timed jobs in the persistent job store: `access-<id>-deadline`,
`-retry_grant:<attempt>`, `-retry_revoke:<attempt>`, `-remind:<mark>`, and the `access-sweep` interval job (lapsed requests,
overdue grants).

Stored jobs name a module-level function and the bot's key (bot/updates/scheduled.py explains
the key); the running leader registers its `AccessFlows` under it in `RUNNING`. Date jobs have
no misfire grace: a deadline missed while the bot was down runs at once at start-up.
"""

from __future__ import annotations

import contextlib
import logging
from datetime import datetime
from typing import TYPE_CHECKING

from apscheduler.jobstores.base import JobLookupError
from apscheduler.triggers.date import DateTrigger
from apscheduler.triggers.interval import IntervalTrigger

if TYPE_CHECKING:
    from apscheduler.schedulers.base import BaseScheduler

    from bot.access.flows import AccessFlows

log = logging.getLogger(__name__)

RUNNING: dict[str, AccessFlows] = {}
SWEEP_JOB = "access-sweep"


def job_id(grant_id: int, job: str) -> str:
    # A retry is armed from inside the retry before it: each attempt has its own id, since the
    # scheduler skips a job whose previous instance (same id) is still running.
    return f"access-{grant_id}-{job}"


async def run_grant_job(grant_id: int, job: str, bot: str) -> None:
    """The job: the deadline, a retry or a reminder of one grant, by the bot registered as `bot`."""
    flows = RUNNING.get(bot)
    if flows is None:
        log.warning("access job %s of grant %s due, but its bot is not running here", job, grant_id)
        return
    lifecycle = flows.lifecycle
    try:
        kind, _, detail = job.partition(":")
        if kind == "deadline":
            await lifecycle.expire(grant_id)
        elif kind == "retry_grant":
            await lifecycle.apply(grant_id)
        elif kind == "retry_revoke":
            await lifecycle.revoke_now(grant_id)
        elif kind == "remind":
            await lifecycle.remind(grant_id, detail)
    except Exception:
        log.exception("access job %s of grant %s failed", job, grant_id)


async def sweep(bot: str) -> None:
    flows = RUNNING.get(bot)
    if flows is None:
        return
    try:
        await flows.sweep()
    except Exception:
        log.exception("access sweep failed")


class SchedulerGrantClock:
    """`GrantClock` on the scheduler's persistent job store."""

    def __init__(self, scheduler: BaseScheduler, *, bot: str) -> None:
        self.scheduler = scheduler
        self.bot = bot

    def at(self, grant_id: int, when: datetime, job: str) -> None:
        self.scheduler.add_job(
            run_grant_job,
            DateTrigger(run_date=when, timezone="UTC"),
            args=[grant_id, job, self.bot],
            id=job_id(grant_id, job),
            name=f"Access grant {grant_id}: {job}",
            replace_existing=True,
            misfire_grace_time=None,
        )

    def cancel(self, grant_id: int) -> None:
        prefix = f"access-{grant_id}-"
        for job in self.scheduler.get_jobs():
            if job.id.startswith(prefix):
                with contextlib.suppress(JobLookupError):
                    self.scheduler.remove_job(job.id)


def schedule_sweep(scheduler: BaseScheduler, *, bot: str, seconds: float) -> None:
    scheduler.add_job(
        sweep,
        IntervalTrigger(seconds=seconds, timezone="UTC"),
        args=[bot],
        id=SWEEP_JOB,
        name="Access: lapse unanswered requests, revoke overdue grants",
        replace_existing=True,
    )
