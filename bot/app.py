"""The composition root: settings in, a wired bot out.

Everything long-lived is built here once and handed down: database, renderer, roles, scheduler,
Slack client, Bolt app, web app. Nothing else in the package builds these or keeps them in
module globals, which is what lets tests run many bots in one process.
"""

from __future__ import annotations

import logging
import multiprocessing
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass

from slack_bolt.async_app import AsyncApp
from slack_sdk.web.async_client import AsyncWebClient
from starlette.applications import Starlette

from bot.access.roles import RolePolicy
from bot.commands.registry import CommandRegistry
from bot.config import Settings
from bot.db import Database
from bot.db.migrate import upgrade_to_head
from bot.messages import TemplateRenderer
from bot.metrics import BotMetrics
from bot.scheduling import make_scheduler
from bot.services import Services
from bot.slack.bolt_app import build_bolt_app
from bot.slack.client import make_web_client
from bot.slack.handlers import register_all
from bot.slack.interactions import InteractionRegistry
from bot.tasks import BackgroundTasks
from bot.web import build_web_app

log = logging.getLogger(__name__)


@dataclass
class BotApp:
    services: Services
    client: AsyncWebClient
    bolt: AsyncApp
    web: Starlette
    commands: CommandRegistry
    interactions: InteractionRegistry
    started: bool = False

    @classmethod
    def build(cls, settings: Settings, *, migrate: bool = True) -> BotApp:
        """Wire every part; `migrate` applies database migrations first."""
        settings.oncall_data_dir.mkdir(parents=True, exist_ok=True)
        url = settings.resolved_database_url
        if migrate:
            upgrade_to_head(url)
        db = Database(url)
        services = Services(
            settings=settings,
            mode=settings.mode,
            db=db,
            renderer=TemplateRenderer(settings.templates_dir),
            roles=RolePolicy.from_ids(admins=settings.oncall_admins, engineers=settings.oncall_engineers),
            scheduler=make_scheduler(db.engine),
            tasks=BackgroundTasks(),
            metrics=BotMetrics(),
        )
        client = make_web_client(token=settings.slack_bot_token, base_url=settings.slack_api_url)
        commands = CommandRegistry()
        interactions = InteractionRegistry()
        register_all(services, commands, interactions)
        bolt, _ = build_bolt_app(services, client=client, commands=commands, interactions=interactions)
        web = build_web_app(services, bolt)
        return cls(services=services, client=client, bolt=bolt, web=web, commands=commands, interactions=interactions)

    async def start(self) -> None:
        """Start the scheduler and anything else that runs in the background."""
        if self.started:
            return
        self.services.scheduler.start()
        self.started = True
        log.info("bot started in %s mode", self.services.mode)

    async def stop(self) -> None:
        if not self.started:
            return
        self.started = False
        await self.services.tasks.drain()
        if self.services.scheduler.running:
            self.services.scheduler.shutdown(wait=False)
        if self.services.pool is not None:
            self.services.pool.shutdown(wait=False, cancel_futures=True)
        self.services.db.dispose()


def make_process_pool(size: int) -> ProcessPoolExecutor:
    """CPU-bound work (training, evaluation) runs here; forkserver avoids forking a threaded process."""
    return ProcessPoolExecutor(max_workers=size, mp_context=multiprocessing.get_context("forkserver"))
