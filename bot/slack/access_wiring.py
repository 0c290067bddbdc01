"""Wiring of the access runbook: the policy (checked at start), the providers from the settings,
the Slack notifier and channel membership, the scheduler's clock, and the embedded MLflow auth
server when access control is on and no team server is named."""

from __future__ import annotations

import asyncio
import logging
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from apscheduler.schedulers.base import BaseScheduler
from slack_sdk.web.async_client import AsyncWebClient

from bot.access.channel_provider import ChannelProvider
from bot.access.flows import AccessFlows
from bot.access.lifecycle import GrantLifecycle
from bot.access.mlflow_provider import MlflowAuthProvider
from bot.access.mlflow_server import MlflowAuthServer, free_port
from bot.access.policy import load_policy
from bot.access.postgres_provider import PostgresRoleProvider
from bot.access.providers import AccessProvider, ManualProvider, UnconfiguredProvider
from bot.access.scheduled import RUNNING, SchedulerGrantClock, schedule_sweep
from bot.config import Settings
from bot.db import Database
from bot.db.base import utcnow
from bot.messages import TemplateRenderer
from bot.slack.access_notifier import SlackAccessNotifier, SlackChannelMembership

log = logging.getLogger(__name__)


@dataclass
class AccessRuntime:
    flows: AccessFlows
    server: MlflowAuthServer | None
    bot: str

    def start(self, scheduler: BaseScheduler, seconds: float) -> None:
        schedule_sweep(scheduler, bot=self.bot, seconds=seconds)
        if self.server is not None and self.server.process is None:
            self.server.start()  # ready in the background; grants retry until it answers

    def lead(self) -> None:
        RUNNING[self.bot] = self.flows

    def step_down(self) -> None:
        if RUNNING.get(self.bot) is self.flows:
            del RUNNING[self.bot]

    async def take_over(self) -> None:
        """The leader's start-up: say what is wrong with a provider, then reconcile."""
        if self.server is not None:
            await asyncio.to_thread(self.server.wait_ready)
        problems = await self.flows.check_providers()
        for provider, problem in problems.items():
            log.warning("access provider %s: %s", provider, problem)
        done = await self.flows.lifecycle.reconcile()
        if any(done.values()):
            log.info("access grants reconciled: %s", done)

    def stop(self) -> None:
        self.step_down()
        if self.server is not None:
            self.server.stop()


def build_access(
    settings: Settings,
    *,
    db: Database,
    scheduler: BaseScheduler,
    client: AsyncWebClient,
    renderer: TemplateRenderer,
    admins: frozenset[str],
    bot: str,
    now: Callable[[], datetime] = utcnow,
) -> AccessRuntime:
    policy = load_policy(settings.access_policy_file)  # a mistake stops start-up: file:line

    def account_of(user: str) -> str:
        return f"{settings.access_account_prefix}{user}".lower()

    server = None
    url, password = settings.access_mlflow_url, settings.access_mlflow_password
    if settings.access_control and not url:
        password = password or secrets.token_urlsafe(18)
        server = MlflowAuthServer(
            settings.oncall_data_dir / "mlflow-auth",
            username=settings.access_mlflow_username,
            password=password,
        )
        server.port = free_port()
        url = server.url
    providers: dict[str, AccessProvider] = {
        "mlflow": MlflowAuthProvider(
            url,
            username=settings.access_mlflow_username,
            password=password or "",
            account_of=account_of,
        )
        if url
        else UnconfiguredProvider("mlflow", "ACCESS_CONTROL or ACCESS_MLFLOW_URL"),
        "postgres": PostgresRoleProvider(settings.access_postgres_dsn, account_of=account_of)
        if settings.access_postgres_dsn
        else UnconfiguredProvider("postgres", "ACCESS_POSTGRES_DSN"),
        "slack": ChannelProvider(SlackChannelMembership(client)),
        "manual": ManualProvider(),
    }
    notifier = SlackAccessNotifier(client, renderer, slash=settings.slash_command, admins=admins)
    lifecycle = GrantLifecycle(
        db=db,
        policy=policy,
        providers=providers,
        notifier=notifier,
        clock=SchedulerGrantClock(scheduler, bot=bot),
        now=now,
        retry_base_seconds=settings.access_retry_seconds,
    )
    flows = AccessFlows(
        db=db,
        policy=policy,
        providers=providers,
        lifecycle=lifecycle,
        notifier=notifier,
        admins=admins,
        now=now,
    )
    return AccessRuntime(flows=flows, server=server, bot=bot)
