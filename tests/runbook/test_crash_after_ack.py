"""A Confirm click that Slack saw acknowledged survives the bot being killed right after the ack.

The bot runs in a process of its own (tests/crash.py), driven over HTTP by the Slack stand-in. It
is killed with SIGKILL a few milliseconds after it acked the Confirm click of a deploy; a new bot
on the same database takes over and the deploy completes exactly once, with the lock released,
at once (not after the dead driver's lease went stale).
"""

from __future__ import annotations

import asyncio
import shutil
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path

import pytest
from sqlalchemy import select

from bot.app import BotApp
from bot.audit.models import AuditRecord
from bot.db.migrate import upgrade_to_head
from bot.deploy import service as deploy_service
from bot.localslack import LocalSlack
from bot.model_registry.mlflow_backend import MlflowModelService
from bot.runbook import RunStatus
from bot.runbook.models import RunbookRun
from bot.servers import ServerTask
from bot.serving.server import build_model_app
from tests.crash import Zygote
from tests.harness import (
    APP_TOKEN,
    BOT_TOKEN,
    ONCALL,
    SIGNING_SECRET,
    _wait_serving,
    make_settings,
)
from tests.registry.store import template_store


@dataclass
class Stage:
    """What outlives the killed bot: the stand-in, the model server, the database, the store."""

    tmp_path: Path
    slack: LocalSlack
    model_server: ServerTask
    overrides: dict[str, object]


@pytest.fixture
async def stage(tmp_path: Path, db_url: str) -> AsyncIterator[Stage]:
    var = tmp_path / "var"
    var.mkdir(parents=True)
    shutil.copy2(template_store() / "mlflow.db", var / "mlflow.db")
    slack = LocalSlack(
        bot_token=BOT_TOKEN, app_token=APP_TOKEN, signing_secret=SIGNING_SECRET, request_url=None
    )
    await slack.start(host="127.0.0.1", port=0)
    overrides: dict[str, object] = {
        "slack_api_url": slack.api_url,
        "database_url": db_url,
        "model_poll_seconds": 0.05,
        "deploy_wait_seconds": 5.0,
        "leader_check_seconds": 0.2,
    }
    settings = make_settings(tmp_path, **overrides)
    upgrade_to_head(settings.resolved_database_url)
    model_server = ServerTask(build_model_app(settings), host="127.0.0.1", port=0, lifespan="on")
    await model_server.start()
    overrides["model_server_url"] = f"http://127.0.0.1:{model_server.port}"
    await _wait_serving(str(overrides["model_server_url"]))
    try:
        yield Stage(tmp_path, slack, model_server, overrides)
    finally:
        await slack.stop()
        await model_server.stop()


def last_run(app: BotApp) -> RunbookRun | None:
    with app.services.db.session() as session:
        return session.scalars(select(RunbookRun).order_by(RunbookRun.id.desc())).first()


async def run_until(app: BotApp, done: Callable[[RunbookRun], bool], timeout: float) -> RunbookRun:
    async with asyncio.timeout(timeout):
        while True:
            run = last_run(app)
            if run is not None and done(run):
                return run
            await asyncio.sleep(0.05)


# Every delay on SQLite, two on PostgreSQL: the kill loop is the slow part of the suite.
@pytest.mark.parametrize(
    ("db_url", "delay_ms"),
    [("sqlite", d) for d in (0, 5, 20, 50)] + [("postgresql", d) for d in (0, 20)],
    indirect=["db_url"],
)
async def test_a_confirm_acked_just_before_a_kill_is_carried_out_once(
    stage: Stage, zygote: Zygote, delay_ms: int
) -> None:
    first = await zygote.bot(stage.tmp_path, **stage.overrides)
    stage.slack.request_url = f"{first.url}/slack/events"
    ack = await stage.slack.slash(user=ONCALL, channel="oncall", text="deploy v2", command="/iris")
    assert ack.status == 200
    card = await stage.slack.wait_for(
        lambda m: "Promote v2 to production" in m.plain() and bool(m.buttons), timeout=60
    )
    clicked = await stage.slack.click(ONCALL, card, "runbook.confirm")
    assert clicked.status == 200 and not clicked.timed_out  # Slack has been told "ok"
    await asyncio.sleep(delay_ms / 1000)
    await first.kill()

    settings = make_settings(stage.tmp_path, **stage.overrides)
    second = BotApp.build(settings)
    await second.start()
    server = ServerTask(second.web, host="127.0.0.1", port=0)
    await server.start()
    stage.slack.request_url = f"http://127.0.0.1:{server.port}/slack/events"
    engine = second.services.engine
    assert engine is not None
    try:
        # Taken over well before the 30 s after which a dead driver's lease goes stale: the new
        # bot knew the old driver was dead.
        assert engine.stale_after >= 30
        await run_until(
            second,
            lambda r: r.driver == engine.driver or RunStatus(r.status).finished,
            timeout=20,
        )
        # Finished, and its driver let go of it (just after the last checklist update).
        run = await run_until(
            second, lambda r: RunStatus(r.status).finished and r.driver is None, timeout=120
        )
        assert run.status == RunStatus.SUCCEEDED.value, (run.status, run.error)
        confirm = next(s for s in run.steps if s.step_id == "confirm")
        assert confirm.confirmed_by == ONCALL
        assert run.driver_seen_at is None

        models = second.services.models
        assert isinstance(models, MlflowModelService)
        assert models.production_version() == 2
        with second.services.db.session() as session:
            history = deploy_service.history(session)
            assert deploy_service.current_lock(session) is None  # the deploy lock is free
            clicks = session.scalars(
                select(AuditRecord).where(AuditRecord.action == "button runbook.confirm")
            ).all()
        assert [(h.kind, h.from_version, h.to_version, h.outcome) for h in history] == [
            ("deploy", 1, 2, "succeeded")
        ]
        assert [(c.actor, c.result) for c in clicks] == [(ONCALL, "ok")]  # audited before the ack

    finally:
        await server.stop()
        await second.stop()
