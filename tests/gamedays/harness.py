"""A bot with a real model server and the game days on, whose scripted responder clicks through
the Slack stand-in (the same wiring as tests/harness.py:start_model_harness)."""

from __future__ import annotations

import asyncio
import shutil
from pathlib import Path
from typing import Any

from bot.app import BotApp
from bot.db.migrate import upgrade_to_head
from bot.localslack import LocalSlack
from bot.localslack.responder import ScriptedResponder
from bot.servers import ServerTask
from bot.serving.server import build_model_app
from tests.harness import (
    ADMIN,
    APP_TOKEN,
    BOT_TOKEN,
    SIGNING_SECRET,
    ModelBotHarness,
    _wait_serving,
    make_settings,
)
from tests.registry.store import template_store

SPEED = 60.0  # a 60 s monitor interval becomes 1 s


def scripted(slack: LocalSlack) -> ScriptedResponder:
    return ScriptedResponder(slack, user=ADMIN)


class HarnessControl:
    """BotControl for drills whose fault is a restart: the harness restarts the bot."""

    def __init__(self) -> None:
        self.harness: GamedayHarness | None = None
        self.restarts: list[asyncio.Task[None]] = []

    async def restart(self) -> None:
        assert self.harness is not None
        self.restarts.append(asyncio.get_running_loop().create_task(self.harness.restart_bot()))


class GamedayHarness(ModelBotHarness):
    control: HarnessControl | None = None

    async def restart_bot(self) -> None:
        """Stop the bot and build a new one on the same database, store and stand-in."""
        await self.server.stop()
        await self.app.stop()
        self.app = BotApp.build(
            self.settings, scripted=lambda: scripted(self.slack), control=self.control
        )
        await self.app.start()
        self.server = ServerTask(self.app.web, host="127.0.0.1", port=0)
        await self.server.start()
        self.slack.request_url = f"{self.url}/slack/events"


async def start_gameday_harness(tmp_path: Path, **overrides: Any) -> GamedayHarness:
    var = tmp_path / "var"
    var.mkdir(parents=True, exist_ok=True)
    shutil.copy2(template_store() / "mlflow.db", var / "mlflow.db")
    slack = LocalSlack(
        bot_token=BOT_TOKEN, app_token=APP_TOKEN, signing_secret=SIGNING_SECRET, request_url=None
    )
    await slack.start(host="127.0.0.1", port=0)
    values: dict[str, Any] = {
        "slack_api_url": slack.api_url,
        "model_poll_seconds": 0.05,
        "deploy_wait_seconds": 5.0,
        "gameday_enabled": True,
        "ingest_interval_seconds": 0,
    }
    values.update(overrides)
    settings = make_settings(tmp_path, **values)
    upgrade_to_head(settings.resolved_database_url)
    model_server = ServerTask(build_model_app(settings), host="127.0.0.1", port=0, lifespan="on")
    await model_server.start()
    settings = settings.model_copy(
        update={"model_server_url": f"http://127.0.0.1:{model_server.port}"}
    )
    await _wait_serving(settings.model_server_url)
    control = HarnessControl()
    app = BotApp.build(settings, scripted=lambda: scripted(slack), control=control)
    await app.start()
    await app.model_status.refresh()
    server = ServerTask(app.web, host="127.0.0.1", port=0)
    await server.start()
    harness = GamedayHarness(
        slack=slack, app=app, settings=settings, server=server, model_server=model_server
    )
    harness.control = control
    control.harness = harness
    slack.request_url = f"{harness.url}/slack/events"
    return harness
