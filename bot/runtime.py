"""The three ways to run the bot: HTTP, Socket Mode, and the local workspace."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
import secrets
import signal
import sys

from bot.app import BotApp
from bot.config import Settings
from bot.db.migrate import upgrade_to_head
from bot.deploy.model_server import ModelServerClient
from bot.localslack import LocalSlack
from bot.localslack.responder import ScriptedResponder
from bot.localslack.shell import run_shell
from bot.localslack.shell_io import log_to_file
from bot.model_registry.bootstrap import bootstrap_from_settings
from bot.pipelines.embedded import EmbeddedDagster, beside_bot
from bot.servers import ServerTask
from bot.serving.engines import build_local_front
from bot.startup import FIRST_START, Progress

log = logging.getLogger(__name__)


def _settle_heap() -> None:
    """Move start-up objects (MLflow, scikit-learn, SQLAlchemy: hundreds of thousands) out of the
    garbage collector's view, so full collections during serving take microseconds, not the tens
    of milliseconds that show up as p99 spikes on Slack acks."""
    gc.collect()
    gc.freeze()


def _stop_event() -> asyncio.Event:
    """Set on SIGINT/SIGTERM so every mode shuts down gracefully."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(sig, stop.set)
    return stop


async def serve_http(settings: Settings, *, port: int | None = None) -> None:
    """HTTP mode: Slack posts to /slack/events; /healthz and /metrics beside it."""
    dagster, settings = beside_bot(settings)
    app = BotApp.build(settings)
    await app.start()
    await app.start_monitoring()
    _settle_heap()
    server = ServerTask(
        app.web, host=settings.host, port=port or settings.port, log_level=settings.log_level
    )
    await server.start()
    _tell_dagster(dagster, settings, server.port)
    print(f"oncall-bot: HTTP mode on http://{settings.host}:{server.port}/slack/events", flush=True)
    try:
        await _stop_event().wait()
    finally:
        await server.stop()
        await app.stop()
        _stop_dagster(dagster)


async def serve_socket(settings: Settings) -> None:
    """Socket Mode: events arrive over a WebSocket; /healthz and /metrics still served on PORT."""
    # Only Socket Mode needs the websocket client stack; HTTP and local runs never load it.
    from slack_bolt.adapter.socket_mode.async_handler import AsyncSocketModeHandler

    dagster, settings = beside_bot(settings)
    app = BotApp.build(settings)
    await app.start()
    await app.start_monitoring()
    handler = AsyncSocketModeHandler(app.bolt, settings.slack_app_token)
    await handler.connect_async()
    server = ServerTask(
        app.web, host=settings.host, port=settings.port, log_level=settings.log_level
    )
    await server.start()
    _tell_dagster(dagster, settings, server.port)
    print(
        f"oncall-bot: Socket Mode connected; health on http://{settings.host}:{server.port}/healthz",
        flush=True,
    )
    try:
        await _stop_event().wait()
    finally:
        await handler.close_async()
        await server.stop()
        await app.stop()
        _stop_dagster(dagster)


async def _until_serving(url: str, timeout: float = 30.0) -> None:
    """Wait (bounded) until the model server loaded production, so the first status is true."""
    client = ModelServerClient(url)
    try:
        deadline = asyncio.get_running_loop().time() + timeout
        while (await client.health()).version is None:
            if asyncio.get_running_loop().time() > deadline:
                return  # /iris status will say what the server reports
            await asyncio.sleep(0.1)
    finally:
        await client.aclose()


def _tell_dagster(dagster: EmbeddedDagster | None, settings: Settings, port: int) -> None:
    """Where the embedded Dagster's failure sensor posts: this bot's /pipelines/dagster."""
    if dagster is not None:
        url = f"http://{dagster.host}:{port}/pipelines/dagster"
        dagster.register_bot(url=url, token=settings.pipeline_webhook_token or "")


def _stop_dagster(dagster: EmbeddedDagster | None) -> None:
    if dagster is not None:
        dagster.stop()


LOCAL_BOT_TOKEN = "xoxb-local"


def local_workspace_settings(settings: Settings, *, api_url: str, signing_secret: str) -> Settings:
    """The bot's settings in the local workspace: the stand-in's Web API and signing secret.

    The stand-in signs what it posts to /slack/events and the bot verifies it, as with Slack;
    the secret is new for every run, so nobody else who reaches the port can sign.
    """
    return settings.model_copy(
        update={
            "slack_api_url": api_url,
            "slack_bot_token": LOCAL_BOT_TOKEN,
            "slack_signing_secret": signing_secret,
            # Events come over HTTP from the stand-in, so no Socket Mode whatever is set.
            "slack_app_token": None,
            # The seeded users get roles, so every command can be tried.
            "oncall_admins": settings.oncall_admins or frozenset({"U0ADMIN"}),
            "oncall_engineers": settings.oncall_engineers or frozenset({"U0ONCALL"}),
        }
    )


async def run_local(settings: Settings, *, shell: bool = True) -> None:
    """The local workspace: the Slack stand-in and the bot over real HTTP, plus a terminal shell."""
    bot_url = f"http://{settings.host}:{settings.port}/slack/events"
    secret = secrets.token_hex(16)
    slack = LocalSlack(
        bot_token=LOCAL_BOT_TOKEN,
        app_token="xapp-local",
        signing_secret=secret,
        request_url=bot_url,
    )
    progress = Progress(4)
    progress.note(FIRST_START)
    await slack.start(host=settings.host, port=settings.local_slack_port)
    local = local_workspace_settings(settings, api_url=slack.api_url, signing_secret=secret)
    # The model registry and the model server run beside the bot, as a team's would.
    with progress.step("model registry (MLflow): training and registering v1 and v2 if missing"):
        summary = (await asyncio.to_thread(bootstrap_from_settings, local)).summary
    progress.note("oncall-bot: " + summary)
    with progress.step("database migrations"):
        upgrade_to_head(local.resolved_database_url)
    # The local serving engine: a front on the model server port, supervising worker processes.
    progress.begin("model server: starting its workers and loading the production model")
    model_app = await asyncio.to_thread(build_local_front, local)
    model_server = ServerTask(
        model_app,
        host=settings.host,
        port=settings.model_server_port,
        log_level=settings.log_level,
        lifespan="on",
    )
    await model_server.start()
    local = local.model_copy(
        update={"model_server_url": f"http://{settings.host}:{model_server.port}"}
    )
    await _until_serving(local.model_server_url)
    progress.end()
    progress.begin("bot: scheduler, monitors and the Slack stand-in")
    dagster, local = beside_bot(local)
    # The local workspace can click: drills here get the scripted responder (and are allowed).
    app = BotApp.build(local, scripted=lambda: ScriptedResponder(slack, user="U0ONCALL"))
    app.services.mode = "local"
    await app.start()
    await app.start_monitoring()
    server = ServerTask(
        app.web, host=settings.host, port=settings.port, log_level=settings.log_level
    )
    await server.start()
    progress.end()
    progress.finished()
    _tell_dagster(dagster, local, server.port)
    print(
        f"oncall-bot: local workspace. Slack stand-in at {slack.base_url}, bot at {bot_url}, "
        f"model server at {local.model_server_url}",
        flush=True,
    )
    print(
        f"oncall-bot: open the web workspace at {slack.page_url} "
        "(channels, buttons, modals, charts); the terminal shell below works too",
        flush=True,
    )
    stop = _stop_event()
    try:
        # "quit" ends the session; end of input (no terminal, e.g. under a process manager)
        # leaves the workspace serving until SIGINT/SIGTERM.
        if shell and sys.stdin is not None:
            # Scheduler and server lines go to a file, not between the prompt and the typing.
            print(f"oncall-bot: logging to {log_to_file(settings.oncall_data_dir)}", flush=True)
        if (
            shell
            and sys.stdin is not None
            and await run_shell(
                slack, command=settings.slash_command, data_dir=settings.oncall_data_dir
            )
            == "quit"
        ):
            return
        await stop.wait()
    finally:
        await server.stop()
        await app.stop()
        await model_server.stop()
        await slack.stop()
        _stop_dagster(dagster)
