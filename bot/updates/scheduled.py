"""The update clock of each open incident: one APScheduler job, `incident-update-<id>`.

The jobs live in the persistent job store (the bot's database), so they survive restarts. Missed
runs coalesce into one, which runs at start-up however late it is (the bot's other jobs skip runs
more than 15 minutes late, bot/scheduling.py): stakeholders hear at once that updates resumed, and
the ledger keeps that run from repeating a slot already sent.

A stored job must name a module-level function and picklable arguments, so the job is
`send_due_updates(incident_id, bot)` where `bot` is the key (`bot_key`: a digest of the database
URL without its password) under which the running bot registered its `IncidentUpdates` in
`RUNNING` (the leader, bot/app.py; removed when it stops leading). Why not an attribute on the
scheduler: a job function gets no handle on the scheduler that runs it, so some lookup by a
picklable key is needed either way. The key stays right across restarts and distinct between
bots in one test process, and it is no secret: the job store is a table anyone with read access
to the database can unpickle, so it must not hold the URL (and its password) or any token.

A snoozed commander reminder has a one-shot job, `incident-reminder-<id>`, found the same way.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
from datetime import datetime
from typing import TYPE_CHECKING

from apscheduler.jobstores.base import JobLookupError
from apscheduler.triggers.date import DateTrigger
from apscheduler.triggers.interval import IntervalTrigger
from sqlalchemy.engine import make_url

from bot.updates.pace import UpdatePace

if TYPE_CHECKING:
    from apscheduler.schedulers.base import BaseScheduler

    from bot.updates.pace import UpdatePace
from bot.updates.flows import IncidentUpdates

log = logging.getLogger(__name__)

RUNNING: dict[str, IncidentUpdates] = {}


def bot_key(database_url: str) -> str:
    """The key stored jobs find this bot under: the database, not its credentials."""
    try:
        where = make_url(database_url)._replace(password=None).render_as_string(hide_password=False)
    except Exception:  # not a URL SQLAlchemy reads; never store it as it is
        where = database_url
    return "db-" + hashlib.sha256(where.encode()).hexdigest()[:24]


def rekey_stored_jobs(scheduler: BaseScheduler, key: str) -> int:
    """Give stored update and reminder jobs `key` as their bot; the jobs that changed.

    Jobs stored by an earlier version carry the database URL itself (password included): this
    replaces it, so the secret leaves the job store and the jobs find the running bot again.
    """
    changed = 0
    for job in scheduler.get_jobs():
        if job.func not in (send_due_updates, remind_after_snooze) or len(job.args) != 2:
            continue
        if job.args[1] != key:
            scheduler.modify_job(job.id, args=[job.args[0], key])
            changed += 1
    return changed


def job_id(incident_id: int) -> str:
    return f"incident-update-{incident_id}"


def snooze_job_id(incident_id: int) -> str:
    return f"incident-reminder-{incident_id}"


async def send_due_updates(incident_id: int, bot: str) -> int:
    """The job: send the incident's scheduled update through the bot registered as `bot`."""
    updates = RUNNING.get(bot)
    if updates is None:
        log.warning("incident %s update due, but its bot is not running here", incident_id)
        return 0
    try:
        return await updates.send_due(incident_id)
    except Exception:
        log.exception("scheduled update of incident %s failed", incident_id)
        return 0


async def remind_after_snooze(incident_id: int, bot: str) -> bool:
    """The job: a snooze ended; remind the commander again if still no update went out."""
    updates = RUNNING.get(bot)
    reminders = updates.reminders if updates is not None else None
    if reminders is None:
        log.warning("incident %s snooze ended, but its bot is not running here", incident_id)
        return False
    try:
        return await reminders.check(incident_id) is not None
    except Exception:
        log.exception("reminder of incident %s after a snooze failed", incident_id)
        return False


class SchedulerUpdateClock:
    """`UpdateSchedule` on an APScheduler scheduler (its default, persistent job store)."""

    def __init__(
        self, scheduler: BaseScheduler, *, bot: str, pace: UpdatePace | None = None
    ) -> None:
        self.scheduler = scheduler
        self.bot = bot
        self.pace = pace or UpdatePace()

    def start(self, incident_id: int, minutes: int, now: datetime) -> None:
        step = self.pace.minutes(minutes)
        trigger = IntervalTrigger(
            seconds=step.total_seconds(), start_date=now + step, timezone="UTC"
        )
        if self.scheduler.get_job(job_id(incident_id)) is not None:
            self.scheduler.reschedule_job(job_id(incident_id), trigger=trigger)
            return
        self.scheduler.add_job(
            send_due_updates,
            trigger,
            args=[incident_id, self.bot],
            id=job_id(incident_id),
            name=f"Stakeholder update of incident {incident_id}",
            replace_existing=True,
            # However long the bot was down, the runs it missed become one update at start-up.
            misfire_grace_time=None,
        )

    def stop(self, incident_id: int) -> None:
        with contextlib.suppress(JobLookupError):
            self.scheduler.remove_job(job_id(incident_id))

    def current(self, incident_id: int) -> tuple[datetime, int] | None:
        job = self.scheduler.get_job(job_id(incident_id))
        trigger = getattr(job, "trigger", None)
        if not isinstance(trigger, IntervalTrigger):
            return None
        return trigger.start_date, self.pace.count(trigger.interval)


class SchedulerSnoozeClock:
    """`SnoozeClock` on the scheduler: a one-shot job at the end of the snooze (a new snooze
    replaces it)."""

    def __init__(self, scheduler: BaseScheduler, *, bot: str) -> None:
        self.scheduler = scheduler
        self.bot = bot

    def start(self, incident_id: int, at: datetime) -> None:
        self.scheduler.add_job(
            remind_after_snooze,
            DateTrigger(run_date=at, timezone="UTC"),
            args=[incident_id, self.bot],
            id=snooze_job_id(incident_id),
            name=f"Commander reminder of incident {incident_id} after a snooze",
            replace_existing=True,
            misfire_grace_time=None,
        )

    def stop(self, incident_id: int) -> None:
        with contextlib.suppress(JobLookupError):
            self.scheduler.remove_job(snooze_job_id(incident_id))
