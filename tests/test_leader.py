"""Leader election: of the bot processes on one database, exactly one runs the scheduler.

The locks on both databases, a holder that dies (its session terminated, its process killed),
and two whole bots sharing a database and one Slack workspace.
"""

from __future__ import annotations

import asyncio
import logging
import signal
import subprocess
import sys
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import httpx
import psycopg
import pytest
from apscheduler.schedulers.base import STATE_PAUSED, STATE_RUNNING
from sqlalchemy import create_engine, text
from sqlalchemy.pool import NullPool

from bot.app import BotApp
from bot.leader import SCHEDULER_LOCK, LeaderElection, LeaderLock, leader_lock, lock_key
from bot.localslack import LocalSlack
from bot.servers import ServerTask
from bot.updates.scheduled import RUNNING, bot_key, job_id
from tests.harness import APP_TOKEN, BOT_TOKEN, SIGNING_SECRET, BotHarness, make_settings
from tests.incidents.test_lifecycle import declare

TICK = 0.2  # LEADER_CHECK_SECONDS in these tests


async def eventually(check: Callable[[], object], *, timeout: float = 10.0) -> None:
    """Poll `check` (run in a thread: lock calls block) until it is truthy or the deadline."""
    deadline = asyncio.get_running_loop().time() + timeout
    while not await asyncio.to_thread(check):
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"not within {timeout}s: {check}")
        await asyncio.sleep(0.02)


class Recorder:
    """Callbacks of one election, in order."""

    def __init__(self) -> None:
        self.events: list[str] = []

    def election(self, lock: LeaderLock, interval: float = TICK) -> LeaderElection:
        return LeaderElection(
            lock,
            interval=interval,
            on_elected=lambda: self.events.append("elected"),
            on_deposed=lambda: self.events.append("deposed"),
        )


def release_all(*locks: LeaderLock) -> None:
    for lock in locks:
        lock.release()


# --- the locks -------------------------------------------------------------------------------


def test_two_locks_on_one_database_one_leader_then_hand_over(db_url: str) -> None:
    first, second = leader_lock(db_url), leader_lock(db_url)
    try:
        assert first.acquire() is True
        assert second.acquire() is False
        assert first.acquire() is True  # still held: the check is cheap and repeatable
        assert second.acquire() is False

        first.release()
        assert second.acquire() is True
        assert first.acquire() is False
    finally:
        release_all(first, second)


def test_locks_of_other_names_and_in_memory_databases_do_not_conflict(db_url: str) -> None:
    scheduler, other = leader_lock(db_url), leader_lock(db_url, "oncall-bot:other")
    memory = [leader_lock("sqlite://"), leader_lock("sqlite:///:memory:")]
    try:
        assert scheduler.acquire() and other.acquire()
        assert all(lock.acquire() for lock in memory + memory)
    finally:
        release_all(scheduler, other, *memory)


def test_lock_key_is_stable_and_signed_64_bit() -> None:
    key = lock_key(SCHEDULER_LOCK + ":public")
    assert key == lock_key(SCHEDULER_LOCK + ":public")  # not Python's salted hash()
    assert -(2**63) <= key < 2**63
    assert key != lock_key(SCHEDULER_LOCK + ":t_other")


def test_sqlite_lock_file_sits_beside_the_database(tmp_path: Path) -> None:
    lock = leader_lock(f"sqlite:///{tmp_path / 'var' / 'oncall.db'}")
    try:
        assert lock.acquire()
        assert (tmp_path / "var" / "oncall.db.scheduler.lock").exists()
    finally:
        release_all(lock)


HOLDER = """
import sys, time
from bot.leader import leader_lock
lock = leader_lock(sys.argv[1])
print("held" if lock.acquire() else "refused", flush=True)
time.sleep(120)
"""


async def test_killed_holder_process_hands_the_lock_over(db_url: str) -> None:
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLDER, db_url],
        stdout=subprocess.PIPE,
        text=True,
        cwd=Path(__file__).resolve().parents[1],
    )
    standby = leader_lock(db_url)
    try:
        assert holder.stdout is not None
        assert await asyncio.wait_for(asyncio.to_thread(holder.stdout.readline), 30) == "held\n"
        assert standby.acquire() is False
        holder.send_signal(signal.SIGKILL)  # no clean-up code runs: the OS or server frees it
        await asyncio.to_thread(holder.wait, 10)
        await eventually(standby.acquire)
    finally:
        if holder.poll() is None:
            holder.kill()
            holder.wait()
        release_all(standby)


def holder_pids(url: str) -> list[int]:
    """Backends holding the scheduler lock of `url`'s schema, from the server's lock table."""
    engine = create_engine(url, poolclass=NullPool)
    try:
        with engine.connect() as conn:
            schema = conn.scalar(text("SELECT current_schema()"))
            key = lock_key(f"{SCHEDULER_LOCK}:{schema}") & 0xFFFF_FFFF_FFFF_FFFF
            rows = conn.execute(
                text(
                    "SELECT pid FROM pg_locks WHERE locktype = 'advisory' AND granted"
                    " AND database = (SELECT oid FROM pg_database WHERE datname = current_database())"
                    " AND classid = :hi AND objid = :lo AND objsubid = 1"
                ),
                {"hi": key >> 32, "lo": key & 0xFFFF_FFFF},
            )
            return [row.pid for row in rows]
    finally:
        engine.dispose()


@pytest.mark.parametrize("db_url", ["postgresql"], indirect=True)
async def test_postgres_holder_whose_session_dies_is_deposed_and_the_standby_leads(
    db_url: str,
) -> None:
    holder, standby = Recorder(), Recorder()
    first = holder.election(leader_lock(db_url))
    second = standby.election(leader_lock(db_url))
    await first.start()
    await second.start()
    try:
        assert (first.is_leader, second.is_leader) == (True, False)
        [pid] = holder_pids(db_url)
        admin = db_url.replace("postgresql+psycopg://", "postgresql://", 1).split("?")[0]
        with psycopg.connect(admin, autocommit=True) as conn:
            assert conn.execute("SELECT pg_terminate_backend(%s)", [pid]).fetchone() == (True,)

        await eventually(lambda: second.is_leader)
        await eventually(lambda: holder.events == ["elected", "deposed"])
        assert standby.events == ["elected"]
        assert len(holder_pids(db_url)) == 1 and holder_pids(db_url) != [pid]
        await asyncio.sleep(3 * TICK)  # and it stays that way
        assert (first.is_leader, second.is_leader) == (False, True)
    finally:
        await first.stop()
        await second.stop()
    assert standby.events == ["elected", "deposed"]
    assert holder_pids(db_url) == []


# --- the election loop -----------------------------------------------------------------------


async def test_election_hands_over_when_the_leader_stops(db_url: str) -> None:
    a, b = Recorder(), Recorder()
    first, second = a.election(leader_lock(db_url)), b.election(leader_lock(db_url))
    await first.start()
    await second.start()
    try:
        assert (first.is_leader, second.is_leader) == (True, False)
        await first.stop()
        assert a.events == ["elected", "deposed"]
        await eventually(lambda: second.is_leader, timeout=5 * TICK + 2)
        assert b.events == ["elected"]
    finally:
        await first.stop()
        await second.stop()


@dataclass
class FlakyLock:
    """A lock whose database can go away."""

    down: bool = False
    tries: int = 0

    def acquire(self) -> bool:
        self.tries += 1
        if self.down:
            raise OSError("connection refused\nsecond line")
        return True

    def release(self) -> None:
        pass


async def test_unreachable_database_counts_as_not_leader_and_is_logged_once(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO, logger="bot.leader")
    lock, recorder = FlakyLock(), Recorder()
    election = recorder.election(lock, interval=0.02)
    await election.start()
    try:
        assert election.is_leader
        lock.down = True
        await eventually(lambda: recorder.events == ["elected", "deposed"])
        tries = lock.tries
        await eventually(lambda: lock.tries >= tries + 5)  # the loop keeps trying
        lock.down = False
        await eventually(lambda: recorder.events == ["elected", "deposed", "elected"])
    finally:
        await election.stop()
    assert recorder.events == ["elected", "deposed", "elected", "deposed"]
    unavailable = [r for r in caplog.records if "leader lock unavailable" in r.getMessage()]
    assert len(unavailable) == 1 and "second line" not in unavailable[0].getMessage()
    assert any("reachable again" in r.getMessage() for r in caplog.records)


# --- two whole bots ---------------------------------------------------------------------------


@dataclass
class TwoBots:
    """Two bot processes' worth of parts on one database, behind one Slack workspace."""

    slack: LocalSlack
    bots: list[BotHarness]

    def to(self, bot: BotHarness) -> BotHarness:
        """Route Slack's next requests to `bot` (as a load balancer might)."""
        self.slack.request_url = f"{bot.url}/slack/events"
        return bot


async def start_bot(slack: LocalSlack, tmp_path: Path, db_url: str) -> BotHarness:
    settings = make_settings(
        tmp_path,
        slack_api_url=slack.api_url,
        database_url=db_url,
        leader_check_seconds=TICK,
        ingest_interval_seconds=0,
    )
    app = BotApp.build(settings)
    await app.start()
    server = ServerTask(app.web, host="127.0.0.1", port=0)
    await server.start()
    return BotHarness(slack=slack, app=app, settings=settings, server=server)


@pytest.fixture
async def two_bots(db_url: str, tmp_path: Path) -> AsyncIterator[TwoBots]:
    slack = LocalSlack(
        bot_token=BOT_TOKEN, app_token=APP_TOKEN, signing_secret=SIGNING_SECRET, request_url=None
    )
    await slack.start(host="127.0.0.1", port=0)
    pair = TwoBots(slack=slack, bots=[])
    try:
        for name in ("a", "b"):
            pair.bots.append(await start_bot(slack, tmp_path / name, db_url))
        yield pair
    finally:
        for bot in pair.bots:
            await bot.server.stop()
            await bot.app.stop()
        await slack.stop()


def state(bot: BotHarness) -> int:
    return bot.app.services.scheduler.state


def next_run(bot: BotHarness) -> datetime:
    job = bot.app.services.scheduler.get_job(job_id(1))
    assert job is not None
    return job.next_run_time


async def health(bot: BotHarness) -> dict[str, object]:
    async with httpx.AsyncClient() as client:
        response = await client.get(f"{bot.url}/healthz")
    assert response.status_code == 200, response.text
    return response.json()["scheduler"]


async def test_two_bots_one_runs_the_scheduler_and_the_standby_takes_over(
    two_bots: TwoBots, db_url: str
) -> None:
    leader, standby = two_bots.bots
    url = bot_key(leader.settings.resolved_database_url)
    assert (state(leader), state(standby)) == (STATE_RUNNING, STATE_PAUSED)
    assert RUNNING[url] is leader.app.services.updates  # type: ignore[union-attr]
    assert (await health(leader))["leader"] is True
    assert (await health(standby))["leader"] is False
    await two_bots.to(standby).command("status")
    shown = await two_bots.slack.wait_for_text("Oncall bot", user="U0ONCALL")
    assert "standby" in shown.plain(), shown.plain()

    # An incident declared through the standby: its update job lands in the shared store ...
    await declare(two_bots.to(standby), "sev1 Setosa predictions are all wrong")
    assert leader.app.services.scheduler.get_job(job_id(1)) is not None
    # ... and when it falls due (made due now, again through the standby), the leader runs it.
    standby.app.services.scheduler.modify_job(job_id(1), next_run_time=datetime.now(UTC))
    update = await two_bots.slack.wait_for_text(
        "Update on INC-1", channel="ml-stakeholders", timeout=10 * TICK + 5
    )
    assert update is not None
    await eventually(lambda: next_run(leader) > datetime.now(UTC))  # ran, and moved on
    await asyncio.sleep(3 * TICK)
    updates = [m for m in two_bots.slack.messages("ml-stakeholders") if "Update on" in m.plain()]
    assert len(updates) == 1  # once, by the leader only

    # The leader stops: the standby leads within a couple of ticks, and registers itself.
    two_bots.bots.remove(leader)
    await leader.server.stop()
    await leader.app.stop()
    await eventually(lambda: state(standby) == STATE_RUNNING, timeout=5 * TICK + 2)
    assert RUNNING[url] is standby.app.services.updates  # type: ignore[union-attr]
    assert (await health(standby))["leader"] is True
    assert standby.app.services.scheduler.get_job(job_id(1)) is not None
