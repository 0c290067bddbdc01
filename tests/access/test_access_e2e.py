"""Runbook 7 end to end: request -> approve -> the user's own credentials read the registered
model (MLflow auth server, REST) and the training table (PostgreSQL) -> a restart -> the deadline
passes -> the same calls are refused. Read each test as a chat transcript."""

from __future__ import annotations

import asyncio
import json
from datetime import timedelta
from pathlib import Path

from sqlalchemy import text

from bot.access import service
from bot.access.models import ACTIVE, REVOKED, GrantView
from bot.app import BotApp
from bot.db import Database
from bot.db.base import utcnow
from bot.servers import ServerTask
from tests.access.conftest import ADMIN_PASSWORD, AccessWorld, user_reads_model, user_selects
from tests.conftest import PG_ADMIN_DSN
from tests.harness import ADMIN, ONCALL, VIEWER, BotHarness, start_harness


async def access_bot(tmp_path: Path, world: AccessWorld, **overrides: object) -> BotHarness:
    values: dict[str, object] = {
        "access_policy_file": world.policy,
        "access_mlflow_url": world.mlflow_url,
        "access_mlflow_password": ADMIN_PASSWORD,
        "access_postgres_dsn": PG_ADMIN_DSN,
        "access_account_prefix": world.prefix,
        "access_retry_seconds": 0.05,
    }
    values.update(overrides)
    return await start_harness(tmp_path, **values)


def grant_of(bot: BotHarness, grant_id: int) -> GrantView:
    with bot.app.services.db.connection() as conn:
        found = service.get(conn, grant_id=grant_id)
    assert found is not None
    return found


async def wait_state(
    bot: BotHarness, grant_id: int, state: str, timeout: float = 90.0
) -> GrantView:
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        grant = grant_of(bot, grant_id)
        if grant.state == state:
            return grant
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"{grant.ref} is {grant.state} ({grant.last_error}), not {state}")
        await asyncio.sleep(0.05)


async def request_and_approve(bot: BotHarness, text: str) -> int:
    since = bot.slack.seq
    await bot.command(f"access request {text}", user=ONCALL)
    card = await bot.slack.wait_for(
        lambda m: "Access request" in m.plain() and bool(m.buttons), timeout=30, since=since
    )
    grant_id = int(card.buttons[0][2] or 0)
    await bot.slack.click(ADMIN, card, "access.approve")
    return grant_id


async def pass_deadline(bot: BotHarness, grant_id: int) -> None:
    """Time moves: the grant's end is now past, and its deadline job (re)armed at that time
    runs on the leader's persistent scheduler like any other."""
    with bot.app.services.db.connection() as conn:
        service.set_fields(conn, grant_id=grant_id, until=utcnow() - timedelta(seconds=1))
    bot.app.services.access.lifecycle.schedule(grant_of(bot, grant_id))


async def test_request_approve_restart_expire(tmp_path: Path, world: AccessWorld) -> None:
    bot = await access_bot(tmp_path, world)
    try:
        # "I can't access the registry": a diagnosis, with a Request access button.
        await bot.command("access check", user=ONCALL)
        check = await bot.slack.wait_for_text("Missing for the runbooks", timeout=15)
        assert "`registry:iris_classifier`: no access" in check.plain()
        assert any(b[0].startswith("access.request.") for b in check.buttons)
        assert await asyncio.to_thread(user_reads_model, world, ONCALL) == 403
        assert not await asyncio.to_thread(user_selects, world, ONCALL)

        since = bot.slack.seq
        ack = await bot.command(
            "access request registry:iris_classifier READ for 2h because debug INC-7 drift",
            user=ONCALL,
        )
        assert ack.status == 200, ack
        card = await bot.slack.wait_for(
            lambda m: "Access request" in m.plain() and bool(m.buttons), timeout=30, since=since
        )
        model_grant = int(card.buttons[0][2] or 0)
        # The requester cannot approve it, a viewer is no approver.
        await bot.slack.click(ONCALL, card, "access.approve")
        await bot.slack.wait_for_text("cannot decide your own request", timeout=30)
        await bot.slack.click(VIEWER, card, "access.approve")
        await bot.slack.wait_for_text("not an approver", timeout=30)
        assert grant_of(bot, model_grant).state == "pending"
        # A double click on Approve grants once.
        await asyncio.gather(
            bot.slack.click(ADMIN, card, "access.approve"),
            bot.slack.click(ADMIN, card, "access.approve"),
        )
        grant = await wait_state(bot, model_grant, ACTIVE)
        assert grant.approved_by == ADMIN
        await bot.slack.wait_for_text("is already decided", timeout=30)
        assert await asyncio.to_thread(user_reads_model, world, ONCALL) == 200
        await bot.slack.wait_for_text("You have *READ* on `registry:iris_classifier`", timeout=30)

        data_grant = await request_and_approve(bot, "data:training for 4h because retrain check")
        await wait_state(bot, data_grant, ACTIVE)
        assert await asyncio.to_thread(user_selects, world, ONCALL)

        # A restart between approval and expiry: the grants and their jobs are in the database.
        await bot.restart_bot()
        assert grant_of(bot, model_grant).state == ACTIVE
        assert await asyncio.to_thread(user_reads_model, world, ONCALL) == 200

        await pass_deadline(bot, model_grant)
        await pass_deadline(bot, data_grant)
        await wait_state(bot, model_grant, REVOKED)
        await wait_state(bot, data_grant, REVOKED)
        assert await asyncio.to_thread(user_reads_model, world, ONCALL) == 403
        assert not await asyncio.to_thread(user_selects, world, ONCALL)
        await bot.slack.wait_for_text("has ended (expired)", timeout=30)

        # The audit export: one file with the requests, approvals, grants and revocations.
        await bot.command("access audit --since 1d --format json", user=ADMIN)
        await bot.slack.wait_for_text("uploaded here", timeout=30)
        (file_id,) = list(bot.slack.workspace.files)
        exported = json.loads(bot.slack.file_content(file_id) or b"{}")
        assert {g["id"] for g in exported["grants"]} >= {model_grant, data_grant}
        actions = {e["action"] for e in exported["events"]}
        assert {"access.request", "access.approve", "access.granted", "access.revoked"} <= actions
    finally:
        await bot.stop()


async def test_missed_deadline_is_revoked_at_start_up(tmp_path: Path, world: AccessWorld) -> None:
    bot = await access_bot(tmp_path, world)
    try:
        grant_id = await request_and_approve(
            bot, "registry:iris_classifier READ for 1h because look at v3"
        )
        await wait_state(bot, grant_id, ACTIVE)
        assert await asyncio.to_thread(user_reads_model, world, ONCALL) == 200
        # The bot is down when the deadline passes, and its deadline job is lost with it: the
        # start-up reconciliation alone must find the overdue grant.
        await bot.server.stop()
        await bot.app.stop()
        db = Database(bot.settings.resolved_database_url)
        with db.connection() as conn:
            service.set_fields(conn, grant_id=grant_id, until=utcnow() - timedelta(minutes=5))
            conn.execute(text("DELETE FROM apscheduler_jobs WHERE id LIKE 'access-%'"))
        db.dispose()
        bot.app = BotApp.build(bot.settings)
        await bot.app.start()
        bot.server = ServerTask(bot.app.web, host="127.0.0.1", port=0)
        await bot.server.start()
        bot.slack.request_url = f"{bot.url}/slack/events"
        await wait_state(bot, grant_id, REVOKED)
        assert await asyncio.to_thread(user_reads_model, world, ONCALL) == 403
    finally:
        await bot.stop()


async def test_provider_outage_during_grant_and_revocation(
    tmp_path: Path, world: AccessWorld
) -> None:
    bot = await access_bot(tmp_path, world)
    mlflow = bot.app.services.access.providers["mlflow"]
    try:
        # The provider is down at approval: approved-not-granted, retried, said in the thread.
        mlflow.url = "http://127.0.0.1:9"  # type: ignore[attr-defined]
        grant_id = await request_and_approve(
            bot, "registry:iris_classifier READ for 1h because outage drill"
        )
        await bot.slack.wait_for_text("Trying again in", timeout=30)
        assert grant_of(bot, grant_id).state == "approved"
        mlflow.url = world.mlflow_url  # type: ignore[attr-defined]
        await wait_state(bot, grant_id, ACTIVE)
        assert await asyncio.to_thread(user_reads_model, world, ONCALL) == 200

        # Down again at the deadline: the revocation is retried; the admins hear it keeps failing.
        mlflow.url = "http://127.0.0.1:9"  # type: ignore[attr-defined]
        await pass_deadline(bot, grant_id)
        await bot.slack.wait_for_text("has failed 3 times", timeout=20)
        assert grant_of(bot, grant_id).state == "revoking"
        assert (
            await asyncio.to_thread(user_reads_model, world, ONCALL) == 200
        )  # still there: nothing is lost
        mlflow.url = world.mlflow_url  # type: ignore[attr-defined]
        await wait_state(bot, grant_id, REVOKED, timeout=30)
        assert await asyncio.to_thread(user_reads_model, world, ONCALL) == 403
        with bot.app.services.db.connection() as conn:
            granted = [
                r
                for r in service.audit_since(conn, since=utcnow() - timedelta(hours=1))
                if r["action"] == "access.granted"
            ]
        assert len(granted) == 1  # granted once, whatever the retries
    finally:
        await bot.stop()
