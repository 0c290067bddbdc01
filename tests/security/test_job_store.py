"""The scheduler's job store holds no secret: neither the database URL (with its password) nor
any token, for every job a running bot stores; jobs find the bot by a non-secret key."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import psycopg
import pytest
from sqlalchemy import text

from bot.scheduling import JOBS_TABLE
from bot.updates.scheduled import RUNNING, bot_key, job_id, rekey_stored_jobs, snooze_job_id
from tests.conftest import PG_ADMIN_DSN
from tests.harness import APP_TOKEN, BOT_TOKEN, ONCALL, SIGNING_SECRET, start_harness
from tests.incidents.helpers import prepare, settle

PASSWORD = "Pa55-w0rd-in-the-url"
WEBHOOK_SECRETS = {"alert_webhook_token": "tok-3kq9", "alert_webhook_password": "pw-8zq1"}


@pytest.fixture
def url_with_password(postgres_url: str) -> Iterator[str]:
    """A schema of the test database, reached through a URL that carries a password (the
    server trusts local connections, so the password is only there to be looked for)."""
    schema = f"t_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(postgres_url.replace("+psycopg", ""), autocommit=True) as conn:
        conn.execute(f'CREATE SCHEMA "{schema}"')
    user_at = PG_ADMIN_DSN.split("://", 1)[1].split("@", 1)[0]
    with_password = postgres_url.replace(f"{user_at}@", f"{user_at}:{PASSWORD}@", 1)
    assert PASSWORD in with_password
    yield f"{with_password}?options=-csearch_path%3D{schema}"
    with psycopg.connect(postgres_url.replace("+psycopg", ""), autocommit=True) as conn:
        conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')


async def test_stored_jobs_hold_no_database_url_or_token(
    tmp_path: Path, url_with_password: str
) -> None:
    bot = await start_harness(
        tmp_path,
        database_url=url_with_password,
        retrain_cron="0 3 * * 1",
        ingest_interval_seconds=300,
        monitor_interval_seconds=60,
        alert_webhook_user="alertmanager",
        **WEBHOOK_SECRETS,
    )
    prepare(bot, without_registry=True)
    try:
        # Everything that stores a job: an incident's update clock, and a snoozed reminder.
        await bot.command("incident declare sev1 Setosa predictions are all wrong", user=ONCALL)
        await bot.slack.wait_for_text("You are the commander", user=ONCALL)
        await settle(bot)
        updates = bot.app.services.updates
        updates.reminders.snoozes.start(1, datetime.now(UTC) + timedelta(minutes=30))
        scheduler = bot.app.services.scheduler
        assert scheduler.get_job(job_id(1)) is not None
        assert scheduler.get_job(snooze_job_id(1)) is not None
        with bot.app.services.db.engine.connect() as conn:
            rows = conn.execute(text(f"SELECT id, job_state FROM {JOBS_TABLE}")).all()
        assert {job_id(1), snooze_job_id(1)} <= {row.id for row in rows}
        stored = b"".join(bytes(row.job_state) for row in rows)
        no_password = url_with_password.replace(f":{PASSWORD}", "")
        secrets = [
            PASSWORD,
            url_with_password,
            no_password,
            BOT_TOKEN,
            APP_TOKEN,
            SIGNING_SECRET,
            *WEBHOOK_SECRETS.values(),
        ]
        found = [s for s in secrets if s.encode() in stored]
        assert not found, f"the job store holds {found}"
        # What the jobs carry instead finds the running bot.
        key = bot_key(url_with_password)
        assert key.encode() in stored and RUNNING[key] is updates
    finally:
        await bot.stop()


async def test_jobs_stored_with_the_url_are_rekeyed_at_start(tmp_path: Path) -> None:
    """A job an earlier version stored with the database URL gets the key instead."""
    bot = await start_harness(tmp_path)
    try:
        url = bot.settings.resolved_database_url
        scheduler = bot.app.services.scheduler
        clock = bot.app.services.updates.schedule
        clock.start(7, 30, datetime.now(UTC))
        scheduler.modify_job(job_id(7), args=[7, url])  # as stored before
        await bot.restart_bot()
        scheduler = bot.app.services.scheduler
        assert list(scheduler.get_job(job_id(7)).args) == [7, bot_key(url)]
        assert rekey_stored_jobs(scheduler, bot_key(url)) == 0
    finally:
        await bot.stop()


def test_the_key_ignores_the_password_and_tells_databases_apart() -> None:
    a = "postgresql+psycopg://u:one@h/db"
    assert bot_key(a) == bot_key("postgresql+psycopg://u:two@h/db")
    assert bot_key(a) != bot_key("postgresql+psycopg://u:one@h/other")
    assert bot_key(a).startswith("db-") and int(bot_key(a)[3:], 16) >= 0
