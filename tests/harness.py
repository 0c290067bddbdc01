"""A bot wired to the Slack stand-in, driven like a chat transcript.

    ack = await bot.command("deploy v2", user=ONCALL)
    await bot.slack.wait_for_text("Deploy v1 → v2")

Nothing is patched: the bot runs its real HTTP server (or Socket Mode client) and its Slack Web
API calls land at the stand-in over real HTTP.
"""

from __future__ import annotations

import asyncio
import atexit
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from bot.app import BotApp
from bot.config import Settings
from bot.db.migrate import upgrade_to_head
from bot.localslack import AckResult, LocalSlack
from bot.servers import ServerTask

ADMIN = "U0ADMIN"
ONCALL = "U0ONCALL"
VIEWER = "U0VIEWER"
SIGNING_SECRET = "test-signing-secret"
BOT_TOKEN = "xoxb-test"
APP_TOKEN = "xapp-test"


@dataclass
class BotHarness:
    slack: LocalSlack
    app: BotApp
    settings: Settings
    server: ServerTask
    socket_handler: Any = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.port}"

    async def command(self, text: str, *, user: str = ONCALL, channel: str = "oncall") -> AckResult:
        return await self.slack.slash(
            user=user, channel=channel, text=text, command=self.settings.slash_command
        )

    async def restart_bot(self) -> None:
        """Stop the bot and build a new one on the same database, store and stand-in (HTTP)."""
        await self.server.stop()
        await self.app.stop()
        self.app = BotApp.build(self.settings)
        await self.app.start()
        self.server = ServerTask(self.app.web, host="127.0.0.1", port=0)
        await self.server.start()
        self.slack.request_url = f"{self.url}/slack/events"

    async def stop(self) -> None:
        if self.socket_handler is not None:
            await self.socket_handler.close_async()
        await self.server.stop()
        await self.app.stop()
        await self.slack.stop()


_migrated: Path | None = None


def migrated_sqlite(path: Path) -> Path:
    """Put a SQLite database already at the newest migration at `path` (a copy of one migrated
    per test process): migrating a fresh file costs a fraction of a second, per bot."""
    global _migrated
    if _migrated is None:
        folder = Path(tempfile.mkdtemp(prefix="oncall-db-template-"))
        atexit.register(shutil.rmtree, folder, ignore_errors=True)
        upgrade_to_head(f"sqlite:///{folder / 'oncall.db'}")
        _migrated = folder / "oncall.db"
    path.parent.mkdir(parents=True, exist_ok=True)
    if not path.exists():
        shutil.copyfile(_migrated, path)
    return path


def make_settings(tmp_path: Path, **overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "slack_bot_token": BOT_TOKEN,
        "slack_signing_secret": SIGNING_SECRET,
        "oncall_data_dir": tmp_path / "var",
        "oncall_admins": frozenset({ADMIN}),
        "oncall_engineers": frozenset({ONCALL}),
        "port": 0,
        "log_level": "WARNING",
    }
    values.update(overrides)
    return Settings(**values)


async def start_harness(
    tmp_path: Path, *, mode: Literal["http", "socket", "local"] = "http", **overrides: Any
) -> BotHarness:
    """The bot in `mode`; "local" is wired as `oncall-bot run` wires the local workspace."""
    from bot.runtime import LOCAL_BOT_TOKEN, local_workspace_settings

    slack = LocalSlack(
        bot_token=LOCAL_BOT_TOKEN if mode == "local" else BOT_TOKEN,
        app_token=APP_TOKEN,
        signing_secret=SIGNING_SECRET,
        request_url=None,
    )
    await slack.start(host="127.0.0.1", port=0)
    extra: dict[str, Any] = {"slack_api_url": slack.api_url}
    if mode == "socket":
        extra["slack_app_token"] = APP_TOKEN
    settings = make_settings(tmp_path, **extra, **overrides)
    if settings.database_url is None:
        migrated_sqlite(settings.oncall_data_dir / "oncall.db")
    if mode == "local":
        bare = settings.model_copy(update={"slack_bot_token": None, "slack_signing_secret": None})
        settings = local_workspace_settings(
            bare, api_url=slack.api_url, signing_secret=SIGNING_SECRET
        )
    app = BotApp.build(settings)
    if mode == "local":
        app.services.mode = "local"
    await app.start()
    server = ServerTask(app.web, host="127.0.0.1", port=0)
    await server.start()
    harness = BotHarness(slack=slack, app=app, settings=settings, server=server)
    if mode in ("http", "local"):
        slack.request_url = f"{harness.url}/slack/events"
    else:
        from slack_bolt.adapter.socket_mode.async_handler import AsyncSocketModeHandler

        handler = AsyncSocketModeHandler(app.bolt, APP_TOKEN)
        await handler.connect_async()
        harness.socket_handler = handler
        await _wait_connected(slack)
    return harness


async def _wait_connected(slack: LocalSlack, timeout: float = 5.0) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while not getattr(slack, "socket_connected", lambda: True)():
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError("the bot did not connect over Socket Mode")
        await asyncio.sleep(0.01)


@dataclass
class ModelBotHarness(BotHarness):
    """The bot plus a real model server on a copy of the bootstrapped MLflow store."""

    model_server: ServerTask | None = None

    async def stop(self) -> None:
        await super().stop()
        if self.model_server is not None:
            await self.model_server.stop()


async def start_model_harness(tmp_path: Path, **overrides: Any) -> ModelBotHarness:
    from bot.serving.server import build_model_app
    from tests.registry.store import template_store

    var = tmp_path / "var"
    var.mkdir(parents=True, exist_ok=True)
    shutil.copy2(template_store() / "mlflow.db", var / "mlflow.db")
    slack = LocalSlack(
        bot_token=BOT_TOKEN, app_token=APP_TOKEN, signing_secret=SIGNING_SECRET, request_url=None
    )
    await slack.start(host="127.0.0.1", port=0)
    settings = make_settings(
        tmp_path,
        slack_api_url=slack.api_url,
        model_poll_seconds=0.05,
        deploy_wait_seconds=5.0,
        **overrides,
    )
    if settings.database_url is None:
        migrated_sqlite(settings.oncall_data_dir / "oncall.db")
    upgrade_to_head(settings.resolved_database_url)
    model_server = ServerTask(build_model_app(settings), host="127.0.0.1", port=0, lifespan="on")
    await model_server.start()
    settings = settings.model_copy(
        update={"model_server_url": f"http://127.0.0.1:{model_server.port}"}
    )
    await _wait_serving(settings.model_server_url)
    app = BotApp.build(settings)
    await app.start()
    await app.model_status.refresh()
    server = ServerTask(app.web, host="127.0.0.1", port=0)
    await server.start()
    harness = ModelBotHarness(
        slack=slack, app=app, settings=settings, server=server, model_server=model_server
    )
    slack.request_url = f"{harness.url}/slack/events"
    return harness


async def _wait_serving(url: str, timeout: float = 30.0) -> None:
    """Until the model server has loaded the production model."""
    import httpx

    deadline = asyncio.get_running_loop().time() + timeout
    async with httpx.AsyncClient() as client:
        while asyncio.get_running_loop().time() < deadline:
            response = await client.get(f"{url}/healthz")
            if response.status_code == 200 and response.json().get("version"):
                return
            await asyncio.sleep(0.02)
    raise AssertionError("the model server did not load a model")
