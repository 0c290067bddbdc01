"""Driver leases: at most one live engine instance drives a run, across processes.

Several bot processes may share one database. The engine that drives a run holds its lease
(`runbook_runs.driver`, `driver_seen_at`) and renews it every heartbeat; another engine may take
the run over only when the lease is free (released when the drive loop stopped) or stale (its
holder stopped renewing: the process died) or its holder is known to be dead. Claiming is one
conditional UPDATE, so of two engines claiming at once exactly one wins, on SQLite and PostgreSQL
alike.

Knowing a holder is dead, without waiting for its lease to go stale: the driver id names the
process (`process.py`), and a process on the same machine asks the kernel whether that process
still runs. A crashed bot restarted on its host (or a standby beside it) therefore resumes the
dead bot's runs at once instead of answering "lock held" for half a minute. A holder on another
machine cannot be checked that way; its lease is taken over once stale, as before.

The functions never commit (the caller's session or connection is the transaction);
`DriverLeases` is one engine's use of them, with the heartbeat task.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Collection
from datetime import datetime, timedelta

from sqlalchemy import or_, select, update
from sqlalchemy.engine import Connection
from sqlalchemy.orm import Session

from bot.db import Database, utcnow
from bot.runbook import process
from bot.runbook.models import RunbookRun

log = logging.getLogger(__name__)


def claim(
    *,
    conn: Session | Connection,
    run_id: int,
    driver: str,
    now: datetime,
    stale_after: timedelta,
    dead_driver: str | None = None,
) -> bool:
    """Take the lease of a run if it is free, ours, stale or held by `dead_driver` (a holder
    known to be dead); True when this driver holds it."""
    takeable = [
        RunbookRun.driver.is_(None),
        RunbookRun.driver == driver,
        RunbookRun.driver_seen_at.is_(None),
        RunbookRun.driver_seen_at < now - stale_after,
    ]
    if dead_driver is not None:
        # Only while the dead holder still holds it: a live engine that took the run over in
        # the meantime keeps it.
        takeable.append(RunbookRun.driver == dead_driver)
    query = (
        update(RunbookRun)
        .where(RunbookRun.id == run_id, or_(*takeable))
        .values(driver=driver, driver_seen_at=now)
        .execution_options(synchronize_session=False)
    )
    return conn.execute(query).rowcount == 1  # type: ignore[attr-defined]


def renew(
    *, conn: Session | Connection, driver: str, run_ids: Collection[int], now: datetime
) -> int:
    """Mark our leases on these runs fresh; returns how many we still hold."""
    if not run_ids:
        return 0
    query = (
        update(RunbookRun)
        .where(RunbookRun.id.in_(list(run_ids)), RunbookRun.driver == driver)
        .values(driver_seen_at=now)
        .execution_options(synchronize_session=False)
    )
    return conn.execute(query).rowcount  # type: ignore[attr-defined, no-any-return]


def release(*, conn: Session | Connection, run_id: int, driver: str) -> None:
    """Give the lease up (only if we still hold it), so any engine may drive the run next."""
    query = (
        update(RunbookRun)
        .where(RunbookRun.id == run_id, RunbookRun.driver == driver)
        .values(driver=None, driver_seen_at=None)
        .execution_options(synchronize_session=False)
    )
    conn.execute(query)


class DriverLeases:
    """One engine instance's leases: its driver id, claim/release, and the heartbeat task that
    renews them every `heartbeat` seconds while it drives any run (`driven()` is not empty).
    """

    def __init__(
        self, db: Database, *, heartbeat: float, driven: Callable[[], Collection[int]]
    ) -> None:
        self.driver = process.driver_id()
        self.stale_after = timedelta(seconds=3 * heartbeat)
        self._db = db
        self._interval = heartbeat
        self._driven = driven
        self._task: asyncio.Task[None] | None = None
        log.info("runbook engine driver %s (lease heartbeat %ss)", self.driver, heartbeat)

    def claim(self, run_id: int, conn: Session | Connection | None = None) -> bool:
        """Take (or renew) the lease on a run, in `conn`'s transaction or a new one."""
        if conn is None:
            with self._db.connection() as own:
                return self.claim(run_id, own)
        now = utcnow()
        ok = claim(
            conn=conn, run_id=run_id, driver=self.driver, now=now, stale_after=self.stale_after
        )
        if not ok:
            holder = conn.execute(select(RunbookRun.driver).where(RunbookRun.id == run_id)).scalar()
            if holder is not None and process.is_dead(holder):
                log.info("runbook run %s: its driver %s is gone; taking it over", run_id, holder)
                ok = claim(
                    conn=conn,
                    run_id=run_id,
                    driver=self.driver,
                    now=now,
                    stale_after=self.stale_after,
                    dead_driver=holder,
                )
        if ok and (self._task is None or self._task.done()):
            self._task = asyncio.create_task(self._beat(), name=f"runbook-leases-{self.driver}")
        return ok

    def release(self, run_id: int) -> None:
        try:
            with self._db.connection() as conn:
                release(conn=conn, run_id=run_id, driver=self.driver)
        except Exception:
            # It goes stale instead, and the leader's next resume pass picks the run up.
            log.warning("runbook run %s: could not release its lease", run_id, exc_info=True)

    async def _beat(self) -> None:
        while True:
            await asyncio.sleep(self._interval)
            run_ids = self._driven()
            if not run_ids:
                return
            try:
                with self._db.connection() as conn:
                    held = renew(conn=conn, driver=self.driver, run_ids=run_ids, now=utcnow())
            except Exception:
                log.warning("runbook leases: could not renew %s", sorted(run_ids), exc_info=True)
                continue
            if held < len(run_ids):
                # Our lease went stale (the loop or the database stalled) and another engine may
                # have taken a run over; our drive loop re-claims before each step and stops.
                log.warning("runbook leases: %d of %s lost", len(run_ids) - held, sorted(run_ids))

    async def aclose(self) -> None:
        if self._task is not None and not self._task.done():
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
        self._task = None
