"""`oncall-bot gameday list|run`: drills from the shell, on a local workspace of their own.

`run` starts what `oncall-bot run` starts (the Slack stand-in, the model server on the data
dir's registry, the bot), on free ports and without the terminal shell, runs one drill with the
scripted responder, prints its report and stops everything. The bench does the same per drill.
"""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

from bot.app import BotApp
from bot.config import Settings
from bot.db.migrate import upgrade_to_head
from bot.gameday.flows import DrillRefused, GameDays
from bot.gameday.scenario import load_scenarios
from bot.gameday.wiring import BUNDLED_GAMEDAYS, gameday_kinds
from bot.localslack import LocalSlack
from bot.localslack.responder import ScriptedResponder
from bot.model_registry.bootstrap import bootstrap_from_settings
from bot.runtime import LOCAL_BOT_TOKEN, local_workspace_settings
from bot.servers import ServerTask
from bot.serving.server import build_model_app

OWNER = "U0ADMIN"
RESPONDER = "U0ONCALL"


@dataclass
class DrillWorkspace:
    app: BotApp
    slack: LocalSlack
    server: ServerTask
    settings: Settings
    restarts: list[asyncio.Task[None]] = field(default_factory=list)

    @property
    def gameday(self) -> GameDays:
        return self.app.services.gameday

    def build(self) -> BotApp:
        app = BotApp.build(
            self.settings,
            scripted=lambda: ScriptedResponder(self.slack, user=RESPONDER),
            control=self,
        )
        app.services.mode = "local"
        return app

    async def restart(self) -> None:
        """BotControl: stop the bot and start a new one on the same data (in the background,
        since the drill asking for it runs inside the bot being stopped)."""
        self.restarts.append(asyncio.get_running_loop().create_task(self._restart()))

    async def _restart(self) -> None:
        await self.server.stop()
        await self.app.stop()
        self.app = self.build()
        await self.app.start()
        self.server = ServerTask(self.app.web, host="127.0.0.1", port=0)
        await self.server.start()
        self.slack.request_url = f"http://127.0.0.1:{self.server.port}/slack/events"


@asynccontextmanager
async def drill_workspace(settings: Settings) -> AsyncIterator[DrillWorkspace]:
    """The local workspace on free ports, the game days on, a scripted responder."""
    secret = secrets.token_hex(16)
    slack = LocalSlack(
        bot_token=LOCAL_BOT_TOKEN, app_token="xapp-local", signing_secret=secret, request_url=None
    )
    await slack.start(host="127.0.0.1", port=0)
    local = local_workspace_settings(settings, api_url=slack.api_url, signing_secret=secret)
    await asyncio.to_thread(bootstrap_from_settings, local)
    upgrade_to_head(local.resolved_database_url)
    model_server = ServerTask(
        await asyncio.to_thread(build_model_app, local), host="127.0.0.1", port=0, lifespan="on"
    )
    await model_server.start()
    local = local.model_copy(
        update={"model_server_url": f"http://127.0.0.1:{model_server.port}", "port": 0}
    )
    workspace = DrillWorkspace(app=None, slack=slack, server=None, settings=local)  # type: ignore[arg-type]
    workspace.app = workspace.build()
    await workspace.app.start()
    workspace.server = ServerTask(workspace.app.web, host="127.0.0.1", port=0)
    await workspace.server.start()
    slack.request_url = f"http://127.0.0.1:{workspace.server.port}/slack/events"
    try:
        await _until_serving(workspace.app)
        yield workspace
    finally:
        for task in workspace.restarts:
            await task
        await workspace.server.stop()
        await workspace.app.stop()
        await model_server.stop()
        await slack.stop()


async def _until_serving(app: BotApp, timeout: float = 60.0) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while asyncio.get_running_loop().time() < deadline:
        if (await app.services.model_server.health()).version:
            return
        await asyncio.sleep(0.05)


async def run_one(
    workspace: DrillWorkspace, scenario: str, *, speed: float, force: bool
) -> dict[str, Any]:
    """One drill with the scripted responder, to its report. DrillRefused if it may not start."""
    days = workspace.gameday
    assert days.scripted is not None
    run_id = await days.start(
        scenario_id=scenario, owner=OWNER, speed=speed, force=force, responder=days.scripted()
    )
    report = await days.wait(run_id, timeout=5.0) if workspace.restarts else None
    while report is None:  # the drill may move to a restarted bot: ask the current one
        for task in workspace.restarts:
            await task
        report = await workspace.gameday.wait(run_id, timeout=1.0)
    return report


def listing_lines(settings: Settings) -> list[str]:
    """`gameday list`: one line per scenario, without starting anything."""
    kinds = gameday_kinds()
    scenarios = load_scenarios(settings.gamedays_dir or BUNDLED_GAMEDAYS, kinds=kinds)
    lines = []
    for s in sorted(scenarios.values(), key=lambda s: s.id):
        waiting = s.waiting_for(kinds)
        state = f"waits for the {waiting} runbook" if waiting else "ready"
        mode = "unattended" if s.unattended else "needs a person"
        lines.append(f"{s.id:32} {s.runbook:14} {state:34} {mode}")
    return lines


def report_lines(report: dict[str, Any]) -> list[str]:
    def secs(value: float | None) -> str:
        return "-" if value is None else f"{value:.1f}s"

    return [
        f"drill #{report['run_id']} {report['scenario']}: {report['outcome']}"
        + (f" ({report['reason']}: {report['reason_detail']})" if report.get("reason") else ""),
        f"  detect {secs(report['detect_seconds'])}  mitigate {secs(report['mitigate_seconds'])}"
        f"  chat actions {report['chat_actions']}  messages {report['messages']}"
        f"  lost {report['lost']}  duplicated {report['duplicated']}",
        f"  report: {report.get('file', '-')}",
    ]


async def run_from_shell(settings: Settings, scenario: str, *, speed: float, force: bool) -> int:
    """`gameday run`: 0 when the drill passed, 1 when it did not, 2 when it was refused."""
    settings = settings.model_copy(update={"gameday_enabled": True})
    async with drill_workspace(settings) as workspace:
        try:
            report = await run_one(workspace, scenario, speed=speed, force=force)
        except DrillRefused as exc:
            print(f"oncall-bot: drill refused: {exc.kind} {exc.facts}")
            return 2
    print("\n".join(report_lines(report)))
    return 0 if report["outcome"] == "passed" else 1
