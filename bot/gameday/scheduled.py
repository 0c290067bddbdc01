"""The pacer: a drill's `--speed` shortens the monitor job's interval and the stakeholder
updates' cadence minute while the drill runs.

The same job runs the same checks, only more often, so a drill takes the code paths of real
time. APScheduler stays out of the rest of the domain: this module is its one adapter.
"""

from __future__ import annotations

import logging

from apscheduler.schedulers.base import BaseScheduler
from apscheduler.triggers.interval import IntervalTrigger

from bot.gameday.context import MIN_MONITOR_SECONDS
from bot.monitoring.scheduled import JOBSTORE, MONITOR_JOB
from bot.updates.pace import MINUTE, UpdatePace

log = logging.getLogger(__name__)


class SchedulerPacer:
    def __init__(
        self, scheduler: BaseScheduler, *, monitor_seconds: float, pace: UpdatePace
    ) -> None:
        self.scheduler = scheduler
        self.monitor_seconds = monitor_seconds
        self.pace = pace  # the stakeholder updates' cadence minute
        self.speed = 1.0

    def _interval(self, seconds: float) -> None:
        if self.monitor_seconds <= 0 or not self.scheduler.running:
            return
        job = self.scheduler.get_job(MONITOR_JOB, jobstore=JOBSTORE)
        if job is None:
            return
        job.reschedule(IntervalTrigger(seconds=seconds))

    def compress(self, speed: float) -> None:
        """Run the monitors `speed` times as often (the drill's monitor interval)."""
        self.speed = speed
        self._interval(max(self.monitor_seconds / speed, MIN_MONITOR_SECONDS))
        self.pace.minute = MINUTE / speed

    def restore(self) -> None:
        if self.speed != 1.0:
            self._interval(self.monitor_seconds)
        self.pace.minute = MINUTE
        self.speed = 1.0
