"""Shared fixtures: databases (SQLite and PostgreSQL) and a bot wired to the Slack stand-in."""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import psycopg
import pytest

from bot.db import Database
from bot.db.migrate import upgrade_to_head
from tests.crash import Zygote
from tests.harness import BotHarness, migrated_sqlite, start_harness

PG_ADMIN_DSN = os.environ.get("ONCALL_TEST_PG", "postgresql://postgres@127.0.0.1:5432/test")


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    """A fresh PostgreSQL database for this test session, dropped at the end.

    PostgreSQL runs on every machine (make test starts it when missing), so this never skips:
    a missing server is a failure, not a skipped storage path.
    """
    name = f"oncall_test_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(PG_ADMIN_DSN, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    base = PG_ADMIN_DSN.rsplit("/", 1)[0].replace("postgresql://", "postgresql+psycopg://", 1)
    yield f"{base}/{name}"
    with psycopg.connect(PG_ADMIN_DSN, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """Each storage test runs on both databases the bot supports."""
    if request.param == "sqlite":
        # Already migrated (a copy): `db` and the bots built on it find nothing left to apply.
        yield f"sqlite:///{migrated_sqlite(tmp_path / 'oncall.db')}"
        return
    url = request.getfixturevalue("postgres_url")
    schema = f"t_{uuid.uuid4().hex[:10]}"
    admin = url.replace("postgresql+psycopg://", "postgresql://", 1)
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'CREATE SCHEMA "{schema}"')
    # Each test gets its own schema in the session's database, so tests never see each other.
    yield f"{url}?options=-csearch_path%3D{schema}"
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')


@pytest.fixture
def db(db_url: str) -> Iterator[Database]:
    """A database at the latest migration, on SQLite and on PostgreSQL (see `db_url`)."""
    upgrade_to_head(db_url)
    database = Database(db_url)
    yield database
    database.dispose()


@pytest.fixture
async def bot(tmp_path: Path) -> AsyncIterator[BotHarness]:
    """The bot in HTTP mode over real HTTP, talking to the Slack stand-in."""
    harness = await start_harness(tmp_path, mode="http")
    try:
        yield harness
    finally:
        await harness.stop()


@pytest.fixture
async def socket_bot(tmp_path: Path) -> AsyncIterator[BotHarness]:
    """The bot in Socket Mode, connected to the stand-in's WebSocket."""
    harness = await start_harness(tmp_path, mode="socket")
    try:
        yield harness
    finally:
        await harness.stop()


@pytest.fixture(scope="session")
def zygote() -> Iterator[Zygote]:
    """Forks bots and model servers for tests that kill them (tests/crash.py)."""
    parent = Zygote()
    yield parent
    parent.close()
