"""Leader election: of the bot processes on one database, exactly one runs the scheduler.

Two processes may run against one database for availability. Both accept commands and write jobs
to the shared job store, but only the holder of the leader lock runs them, so no job fires twice.
The lock is one the operating system or the database server drops by itself when its holder dies,
so a standby takes over on its next try without anyone cleaning up:

- PostgreSQL: a session-level advisory lock (`pg_try_advisory_lock`) on one dedicated connection
  kept open while leading. The key is derived from a name and the schema, so bots on separate
  schemas of one database (tests do this) elect separately.
- SQLite: processes sharing the file share a machine, so an exclusive `flock` on a file beside
  the database (`<db>.scheduler.lock`). An in-memory database belongs to one process: always
  leader.

The lock calls block (network, file system); `LeaderElection` runs them in a thread.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import hashlib
import logging
import os
from collections.abc import Callable
from pathlib import Path
from typing import Protocol

from sqlalchemy import create_engine, text
from sqlalchemy.engine import Connection, make_url
from sqlalchemy.pool import NullPool

log = logging.getLogger(__name__)

SCHEDULER_LOCK = "oncall-bot:scheduler"

# libpq settings of the lock's connection: a server that vanished (not just a dead backend,
# which errors at once) fails the liveness query within about half a minute instead of hanging.
PG_CONNECT_ARGS = {
    "connect_timeout": 5,
    "keepalives": 1,
    "keepalives_idle": 10,
    "keepalives_interval": 5,
    "keepalives_count": 3,
}


class LeaderLock(Protocol):
    """A non-blocking lock that is released when its holder dies; not thread-safe."""

    def acquire(self) -> bool:
        """Take the lock if free; if held already, check it still is. True while held."""
        ...

    def release(self) -> None:
        """Give the lock up (no-op when not held)."""
        ...


def lock_key(name: str) -> int:
    """A stable signed 64-bit key for `pg_try_advisory_lock` (Python's hash() is salted)."""
    return int.from_bytes(hashlib.sha256(name.encode()).digest()[:8], "big", signed=True)


def leader_lock(url: str, name: str = SCHEDULER_LOCK) -> LeaderLock:
    """The lock that fits the database at `url`."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "postgresql":
        return PostgresAdvisoryLock(url, name)
    if parsed.get_backend_name() == "sqlite":
        database = parsed.database or ""
        if database in ("", ":memory:") or parsed.query.get("mode") == "memory":
            return AlwaysLeader()
        return FileLock(Path(f"{database}.{name.rsplit(':', 1)[-1]}.lock"))
    raise ValueError(f"no leader lock for {parsed.get_backend_name()} databases")


class AlwaysLeader:
    """A database only this process can see (SQLite in memory)."""

    def acquire(self) -> bool:
        return True

    def release(self) -> None:
        pass


class FileLock:
    """An exclusive `flock` on `path`, held through an open descriptor."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._fd: int | None = None

    def acquire(self) -> bool:
        if self._fd is not None:
            return self._still_held()
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            return False
        except BaseException:
            os.close(fd)
            raise
        self._fd = fd
        if not self._still_held():  # the file was replaced between open and flock
            return False
        with contextlib.suppress(OSError):  # the holder's pid, for a human looking
            os.ftruncate(fd, 0)
            os.write(fd, f"{os.getpid()}\n".encode())
        return True

    def _still_held(self) -> bool:
        # A lock on a file that was deleted or replaced no longer excludes anyone.
        assert self._fd is not None
        try:
            ours, on_disk = os.fstat(self._fd), os.stat(self.path)
            same = (ours.st_dev, ours.st_ino) == (on_disk.st_dev, on_disk.st_ino)
        except OSError:
            same = False
        if not same:
            self.release()
        return same

    def release(self) -> None:
        # The file stays: deleting it would let a newcomer lock a fresh file beside our lock.
        fd, self._fd = self._fd, None
        if fd is not None:
            with contextlib.suppress(OSError):
                fcntl.flock(fd, fcntl.LOCK_UN)
            os.close(fd)


class PostgresAdvisoryLock:
    """`pg_try_advisory_lock` on a dedicated connection (never a pooled one) held while leading."""

    def __init__(self, url: str, name: str) -> None:
        self.name = name
        # NullPool: the connection is opened for the lock and closed with it, never pooled.
        self._engine = create_engine(url, poolclass=NullPool, connect_args=PG_CONNECT_ARGS)
        self._conn: Connection | None = None

    def acquire(self) -> bool:
        if self._conn is not None:
            return self._still_held()
        # Autocommit: a session that sits "idle in transaction" for days may be killed for it.
        conn = self._engine.connect().execution_options(isolation_level="AUTOCOMMIT")
        try:
            schema = conn.scalar(text("SELECT coalesce(current_schema(), '')"))
            got = conn.scalar(
                text("SELECT pg_try_advisory_lock(CAST(:key AS bigint))"),
                {"key": lock_key(f"{self.name}:{schema}")},
            )
        except BaseException:
            _close(conn)
            raise
        if not got:
            _close(conn)
            return False
        self._conn = conn
        return True

    def _still_held(self) -> bool:
        # The lock lives exactly as long as the session: a live connection still holds it.
        assert self._conn is not None
        try:
            self._conn.execute(text("SELECT 1"))
        except Exception as exc:
            log.warning("leader lock connection lost: %s", str(exc).splitlines()[0])
            self.release()
            return False
        return True

    def release(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            # Closing the session releases the lock; no explicit unlock needed.
            _close(conn)


def _close(conn: Connection) -> None:
    with contextlib.suppress(Exception):
        conn.invalidate()  # the DBAPI connection is closed, not reset for reuse
    with contextlib.suppress(Exception):
        conn.close()


class LeaderElection:
    """Try for the lock every `interval` seconds; tell the callbacks when leadership changes.

    `on_elected` / `on_deposed` run in the event loop when this process wins / loses the lock
    (an unreachable database counts as losing it); `while_leader` after every tick it holds it.
    """

    def __init__(
        self,
        lock: LeaderLock,
        *,
        interval: float,
        on_elected: Callable[[], None],
        on_deposed: Callable[[], None],
        while_leader: Callable[[], None] | None = None,
    ) -> None:
        self.lock = lock
        self.interval = interval
        self.on_elected = on_elected
        self.on_deposed = on_deposed
        self.while_leader = while_leader
        self.is_leader = False
        self._failing = False
        self._stopping = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        """One try now (a lone bot leads before start-up returns), then one every interval."""
        await self.tick()
        self._task = asyncio.get_running_loop().create_task(self._run(), name="leader-election")

    async def _run(self) -> None:
        while not self._stopping.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stopping.wait(), self.interval)
            if not self._stopping.is_set():
                await self.tick()

    async def tick(self) -> bool:
        """Try for (or check) the lock once; returns whether this process leads."""
        try:
            held = await asyncio.to_thread(self.lock.acquire)
        except Exception as exc:
            if not self._failing:
                log.warning("leader lock unavailable, not leading: %s", str(exc).splitlines()[0])
            self._failing, held = True, False
        else:
            if self._failing:
                log.info("leader lock reachable again")
            self._failing = False
        if held != self.is_leader:
            self.is_leader = held
            _call(self.on_elected if held else self.on_deposed)
        if held and self.while_leader is not None:
            _call(self.while_leader)
        return held

    async def stop(self, timeout: float = 5.0) -> None:
        """Stop trying and give the lock up; a standby takes over on its next tick."""
        self._stopping.set()
        if self._task is not None:
            done, _ = await asyncio.wait({self._task}, timeout=timeout)
            if not done:  # a lock call hangs on a dead network: the server drops it for us
                self._task.cancel()
                log.warning("leader lock call still hanging at stop; not released explicitly")
                self._leave()
                return
        self._leave()
        await asyncio.to_thread(self.lock.release)

    def _leave(self) -> None:
        if self.is_leader:
            self.is_leader = False
            _call(self.on_deposed)


def _call(callback: Callable[[], None]) -> None:
    try:
        callback()
    except Exception:
        log.exception("leader election callback %r failed", callback)
