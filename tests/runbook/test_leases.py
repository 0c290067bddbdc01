"""Two processes on one database: a run is driven by one live engine, taken over once stale."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import update

from bot.db import Database
from bot.runbook import RunbookEngine, RunStatus, leases, process
from bot.runbook import service as runs
from bot.runbook.models import RunbookRun
from bot.runbook.schema import Runbook
from tests.runbook.fakes import fake_actions

NOW = datetime(2026, 11, 28, 12, 0, tzinfo=UTC)
STALE = timedelta(seconds=30)
REPO = Path(__file__).resolve().parents[2]


def lease(db: Database, run_id: int) -> tuple[str | None, datetime | None]:
    with db.session() as session:
        run = runs.get_run(session=session, run_id=run_id)
        assert run is not None
        return run.driver, run.driver_seen_at


def age_lease(db: Database, run_id: int, by: timedelta) -> None:
    """What a dead driver leaves behind: a lease nobody renewed for `by`."""
    with db.connection() as conn:
        seen = datetime.now(UTC) - by
        conn.execute(update(RunbookRun).where(RunbookRun.id == run_id).values(driver_seen_at=seen))


def new_run(db: Database, runbooks: dict[str, Runbook]) -> int:
    with db.session() as session:
        run = runs.create_run(
            session=session, runbook=runbooks["abc"], params={"value": "x"}, actor="U1"
        )
        return run.id


def test_claim_renew_release_with_explicit_time(db: Database, runbooks: dict[str, Runbook]) -> None:
    run_id = new_run(db, runbooks)
    with db.connection() as conn:
        claim = dict(conn=conn, run_id=run_id, stale_after=STALE)
        assert leases.claim(**claim, driver="a", now=NOW)
        assert leases.claim(**claim, driver="a", now=NOW + timedelta(seconds=1))  # mine: renews
        assert not leases.claim(**claim, driver="b", now=NOW + timedelta(seconds=30))
        later = NOW + timedelta(seconds=20)
        assert leases.renew(conn=conn, driver="a", run_ids=[run_id], now=later) == 1
        assert leases.renew(conn=conn, driver="b", run_ids=[run_id], now=later) == 0
        assert not leases.claim(**claim, driver="b", now=later + STALE)  # not older than 30 s
        assert leases.claim(**claim, driver="b", now=later + STALE + timedelta(seconds=1))
        leases.release(conn=conn, run_id=run_id, driver="a")  # not a's any more: no-op
    assert lease(db, run_id)[0] == "b"
    with db.connection() as conn:
        leases.release(conn=conn, run_id=run_id, driver="b")
        assert leases.claim(conn=conn, run_id=run_id, driver="c", now=NOW, stale_after=STALE)


async def test_a_live_driver_keeps_its_run(
    make_engine: Callable[..., RunbookEngine], db: Database, db_url: str
) -> None:
    fakes = fake_actions()
    started, release = asyncio.Event(), asyncio.Event()
    fakes.block["serving.smoke_test"] = (started, release)
    first = make_engine(actions=fakes.registry, heartbeat=0.05)
    state = await first.start("abc", {"value": "x"}, actor="U1")
    await started.wait()
    driver, seen = lease(db, state.id)
    assert driver is not None and seen is not None

    other = fake_actions()
    second = make_engine(db=Database(db_url), actions=other.registry)
    assert await second.resume_incomplete() == []
    # The heartbeat keeps the lease fresh while the step is in flight.
    async with asyncio.timeout(5):
        while lease(db, state.id)[1] == seen:
            await asyncio.sleep(0.02)
    assert lease(db, state.id)[0] == driver
    assert await second.resume_incomplete() == []

    release.set()
    done = await first.wait(state.id, timeout=5)
    assert done.status is RunStatus.SUCCEEDED
    assert fakes.count("serving.smoke_test") == 1
    assert other.names() == []
    assert lease(db, state.id) == (None, None)  # a finished run is free


async def test_a_dead_drivers_run_is_taken_over_once_stale(
    make_engine: Callable[..., RunbookEngine], db: Database, db_url: str
) -> None:
    before = fake_actions()
    started, never = asyncio.Event(), asyncio.Event()
    before.block["serving.smoke_test"] = (started, never)
    first = make_engine(actions=before.registry)
    state = await first.start("abc", {"value": "x"}, actor="U1")
    await started.wait()
    # The process dies: its tasks stop and nothing releases the lease.
    first._leases.release = lambda run_id: None  # type: ignore[method-assign]
    await first.aclose()
    assert lease(db, state.id)[0] is not None

    after = fake_actions()
    second = make_engine(db=Database(db_url), actions=after.registry)
    assert await second.resume_incomplete() == []  # still fresh: it might be alive
    age_lease(db, state.id, by=timedelta(seconds=31))
    assert await second.resume_incomplete() == [state.id]
    assert await second.resume_incomplete() == []  # now second's own run
    done = await second.wait(state.id, timeout=5)

    assert done.status is RunStatus.SUCCEEDED
    assert before.names() == ["model.preflight", "serving.smoke_test"]
    assert after.names() == ["serving.smoke_test", "test.echo"]
    assert lease(db, state.id) == (None, None)


async def test_runs_waiting_for_a_click_are_released(
    make_engine: Callable[..., RunbookEngine], db: Database
) -> None:
    engine = make_engine()
    state = await engine.start("deploy", {"version": "2"}, actor="U1")
    assert (await engine.wait(state.id, timeout=5)).status is RunStatus.WAITING_CONFIRMATION
    assert lease(db, state.id) == (None, None)


# --- a driver known to be dead --------------------------------------------------------------

HOLDER = """
import time
from bot.runbook.process import driver_id
print(driver_id(), flush=True)
time.sleep(120)
"""


def test_driver_ids_tell_a_dead_process_of_this_machine() -> None:
    mine = process.driver_id()
    token, machine, pid, started = mine.split("-")
    assert int(pid) == os.getpid() and machine == process.machine()
    assert not process.is_dead(mine)
    assert process.is_dead(f"x-{machine}-{pid}-{int(started) + 1}")  # the pid was reused
    assert not process.is_dead(f"x-0123456789-{pid}-{started}")  # another machine: unknown
    assert not process.is_dead("a1b2c3d4e5f6")  # an id that names no process
    assert not process.is_dead(f"x-{machine}-notapid-{started}")


async def test_a_run_whose_driver_process_was_killed_is_resumed_at_once(
    make_engine: Callable[..., RunbookEngine], db: Database, runbooks: dict[str, Runbook]
) -> None:
    run_id = new_run(db, runbooks)
    with db.session() as session:
        run = runs.get_run(session=session, run_id=run_id)
        assert run is not None
        runs.set_run_status(session=session, run=run, status=RunStatus.RUNNING)
        runs.mark_step_running(session=session, run=run, index=0)
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLDER], stdout=subprocess.PIPE, text=True, cwd=REPO
    )
    try:
        assert holder.stdout is not None
        driver = (await asyncio.wait_for(asyncio.to_thread(holder.stdout.readline), 60)).strip()
        with db.connection() as conn:
            assert leases.claim(
                conn=conn, run_id=run_id, driver=driver, now=datetime.now(UTC), stale_after=STALE
            )
        fakes = fake_actions()
        engine = make_engine(actions=fakes.registry)
        assert await engine.resume_incomplete() == []  # its driver lives: hands off

        holder.send_signal(signal.SIGKILL)  # the lease stays fresh, its holder is gone
        await asyncio.to_thread(holder.wait, 10)
        assert await engine.resume_incomplete() == [run_id]
        done = await engine.wait(run_id, timeout=5)
    finally:
        if holder.poll() is None:
            holder.kill()
            holder.wait()
    assert done.status is RunStatus.SUCCEEDED
    assert fakes.names() == ["model.preflight", "serving.smoke_test", "test.echo"]
    assert lease(db, run_id) == (None, None)
