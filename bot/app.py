"""The composition root: settings in, a wired bot out.

Everything long-lived is built here once and handed down: database, renderer, roles, scheduler,
Slack client, Bolt app, web app. Nothing else in the package builds these or keeps them in
module globals, which is what lets tests run many bots in one process.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from slack_bolt.async_app import AsyncApp
from slack_sdk.web.async_client import AsyncWebClient
from starlette.applications import Starlette

from bot.access.actions import register_access_actions
from bot.access.flows import AccessFlows
from bot.access.roles import RolePolicy
from bot.alerts.webhook import WebhookAuth
from bot.capacity.actions import CapacityDeps, register_capacity_actions
from bot.capacity.build import build_capacity
from bot.capacity.ray_tasks import RayTaskPool
from bot.capacity.scheduled import schedule_capacity_jobs
from bot.capacity.service import CapacityService
from bot.commands.catalog import CommandCatalog
from bot.config import Settings
from bot.db import Database
from bot.db.migrate import upgrade_to_head
from bot.deploy.actions import DeployDeps, register_deploy_actions
from bot.deploy.model_server import ModelServerClient
from bot.gameday.context import BotControl, GamedayDeps
from bot.gameday.ports import Responder
from bot.gameday.scheduled import SchedulerPacer
from bot.gameday.wiring import build_gamedays
from bot.incidents.runbook_link import IncidentRunbookReporter
from bot.leader import LeaderElection, leader_lock
from bot.local_jobs import local_jobs_route
from bot.messages import TemplateRenderer, require_valid_templates
from bot.metrics import BotMetrics
from bot.model_registry.mlflow_backend import MlflowModelService
from bot.model_registry.service import ModelService
from bot.model_status import ModelStatusCache
from bot.monitoring.scheduled import schedule_monitor_jobs
from bot.pipelines.actions import PipelineActionDeps, register_pipeline_actions
from bot.pipelines.ingest import Ingestor
from bot.pipelines.scheduled import schedule_pipeline_jobs
from bot.pipelines.service import PipelineService
from bot.pipelines.webhook import pipeline_route
from bot.pipelines.wiring import (
    DAGSTER_TIMEOUT,
    build_pipelines,
    make_ingestor,
    pipeline_engine,
)
from bot.process_pool import ProcessPool
from bot.quality.actions import QualityDeps, register_quality_actions
from bot.quality.scheduled import schedule_quality_jobs
from bot.retrain.actions import RetrainDeps, register_retrain_actions
from bot.retrain.scheduled import schedule_retrain_jobs
from bot.runbook import ActionCatalog, RunbookEngine, load_runbooks
from bot.scheduling import make_scheduler, scheduler_election
from bot.services import Services
from bot.slack.access_wiring import AccessRuntime, build_access
from bot.slack.bolt_app import build_bolt_app
from bot.slack.client import make_web_client
from bot.slack.gameday_reporter import SlackDrillReporter
from bot.slack.handlers import register_all
from bot.slack.handlers.retrain import SlackRetrainReporter
from bot.slack.incident_wiring import RunbookIndex, build_alerting, webhook_routes
from bot.slack.interactions import InteractionRouter
from bot.slack.quality_wiring import build_quality
from bot.slack.runbook_reporter import SlackRunbookReporter
from bot.tasks import BackgroundTasks
from bot.updates.scheduled import RUNNING, bot_key, rekey_stored_jobs
from bot.web import build_web_app

log = logging.getLogger(__name__)

BUNDLED_RUNBOOKS = Path(__file__).resolve().parents[1] / "runbooks"


@dataclass
class BotApp:
    services: Services
    client: AsyncWebClient
    bolt: AsyncApp
    web: Starlette
    commands: CommandCatalog
    interactions: InteractionRouter
    started: bool = False
    election: LeaderElection | None = None
    access: AccessRuntime | None = None
    _recovery: asyncio.Task[int] | None = None
    _resumer: asyncio.Task[None] | None = None
    _access_task: asyncio.Task[None] | None = None

    @property
    def model_status(self) -> ModelStatusCache:
        return self.services.model_status

    @classmethod
    def build(
        cls,
        settings: Settings,
        *,
        migrate: bool = True,
        scripted: Callable[[], Responder] | None = None,
        control: BotControl | None = None,
    ) -> BotApp:
        """Wire every part; `migrate` applies database migrations first. `scripted` makes the
        game days' scripted responder (where the host can click: the local workspace, tests);
        `control` lets a drill restart the bot (the host's restart)."""
        settings.oncall_data_dir.mkdir(parents=True, exist_ok=True)
        url = settings.resolved_database_url
        if migrate:
            upgrade_to_head(url)
        db = Database(url)
        renderer = TemplateRenderer(settings.templates_dir)
        # A broken template stops start-up here, not the first time someone needs the message.
        require_valid_templates(renderer)
        roles = RolePolicy.from_ids(
            admins=settings.oncall_admins, engineers=settings.oncall_engineers
        )
        scheduler = make_scheduler(db.engine)
        metrics = BotMetrics()
        pool = (
            RayTaskPool(address=settings.ray_address, data_dir=settings.oncall_data_dir)
            if settings.serving_engine == "ray"  # training runs as Ray tasks, off this machine
            else ProcessPool(settings.worker_processes)
        )
        client = make_web_client(token=settings.slack_bot_token, base_url=settings.slack_api_url)
        models = MlflowModelService.from_settings(settings)
        model_server = ModelServerClient(settings.model_server_url)
        access = build_access(
            settings,
            db=db,
            scheduler=scheduler,
            client=client,
            renderer=renderer,
            admins=roles.admins,
            bot=bot_key(url),
        )
        engine_backend = pipeline_engine(dagster_url=settings.dagster_url, timeout=DAGSTER_TIMEOUT)
        ingestor = make_ingestor(
            service=engine_backend,
            dagster_url=settings.dagster_url,
            database_url=url,
            data_dir=settings.oncall_data_dir,
        )
        capacity = build_capacity(settings)
        actions = build_actions(
            settings,
            db=db,
            models=models,
            model_server=model_server,
            roles=roles,
            renderer=renderer,
            pool=pool,
            client=client,
            access=access.flows,
            ingestor=ingestor,
            pipelines=engine_backend,
            capacity=capacity,
        )
        runbooks = load_runbooks(settings.runbooks_dir or BUNDLED_RUNBOOKS, actions=actions)
        alerting = build_alerting(
            settings,
            db=db,
            renderer=renderer,
            scheduler=scheduler,
            client=client,
            models=models,
            metrics=metrics,
            runbooks=RunbookIndex(runbooks),
        )
        incidents = alerting.incidents
        pipelines = build_pipelines(
            service=engine_backend,
            ingestor=ingestor,
            ui_url=settings.dagster_url,
            sink=alerting.intake,
            incidents=incidents,
            renderer=renderer,
        )
        # Runs started for an incident (or in its thread) also write to the incident's timeline.
        engine = RunbookEngine(
            db,
            runbooks,
            actions,
            IncidentRunbookReporter(
                SlackRunbookReporter(client, renderer, slash=settings.slash_command),
                incidents=incidents,
            ),
            renderer=renderer,
        )
        quality = build_quality(
            settings, db=db, models=models, sink=alerting.intake, renderer=renderer, client=client
        )
        gameday = build_gamedays(
            settings,
            deps_without_http=lambda http: GamedayDeps(
                settings=settings,
                db=db,
                models=models,
                engine=engine,
                monitoring=alerting.monitoring,
                incidents=incidents,
                updates=alerting.updates,
                http=http,
                renderer=renderer,
            ),
            reporter=SlackDrillReporter(
                client, renderer, channel=settings.oncall_channel, slash=settings.slash_command
            ),
            pacer=SchedulerPacer(
                scheduler,
                monitor_seconds=settings.monitor_interval_seconds,
                pace=alerting.updates.pace,
            ),
            renderer=renderer,
            # On by default where the bot runs its own stand-in and can click (local workspace).
            local=scripted is not None,
            scripted=scripted,
            control=control,
        )
        services = Services(
            settings=settings,
            mode=settings.mode,
            db=db,
            renderer=renderer,
            roles=roles,
            scheduler=scheduler,
            tasks=BackgroundTasks(),
            metrics=metrics,
            pool=pool,
            models=models,
            model_server=model_server,
            model_status=ModelStatusCache(models=models, server=model_server),
            engine=engine,
            monitoring=alerting.monitoring,
            alert_sink=alerting.intake,
            incidents=incidents,
            updates=alerting.updates,
            access=access.flows,
            quality=quality,
            pipelines=pipelines,
            gameday=gameday,
            capacity=capacity,
        )
        commands = CommandCatalog()
        interactions = InteractionRouter()
        register_all(services, commands, interactions)
        alerting.monitoring.commands = frozenset(c.name for c in commands.sorted())
        bolt, _ = build_bolt_app(
            services, client=client, commands=commands, interactions=interactions
        )
        routes = [
            *webhook_routes(settings, alerting.intake),
            local_jobs_route(services),
            pipeline_route(pipelines.monitor, WebhookAuth(token=settings.pipeline_webhook_token)),
        ]
        web = build_web_app(services, bolt, extra_routes=routes)
        return cls(
            services=services,
            client=client,
            bolt=bolt,
            web=web,
            commands=commands,
            interactions=interactions,
            access=access,
        )

    async def start(self) -> None:
        """Start the scheduler and anything else that runs in the background."""
        if self.started:
            return
        settings, scheduler = self.services.settings, self.services.scheduler
        # Paused: this process adds and reschedules jobs in the shared store, but runs them only
        # while it is the leader of the processes on this database (bot/leader.py).
        scheduler.start(paused=True)
        schedule_retrain_jobs(self.services)
        schedule_monitor_jobs(self.services)
        schedule_quality_jobs(
            scheduler, self.services.quality, seconds=settings.quality_interval_seconds
        )
        schedule_pipeline_jobs(self.services)
        await self.services.gameday.prepare()  # a drill left running keeps its --speed
        schedule_capacity_jobs(self.services, self.client)
        url = settings.resolved_database_url
        key = bot_key(url)
        rekey_stored_jobs(scheduler, key)
        updates = self.services.updates
        if self.access is not None:
            self.access.start(scheduler, settings.access_sweep_seconds)

        def elected() -> None:
            # Stored update jobs find this bot under its database's key (bot/updates/scheduled.py);
            # only the leader registers, so a standby in the same process never shadows it.
            RUNNING[key] = updates
            if self.access is not None:
                self.access.lead()
            if self.started:  # a takeover: finish what the old leader left behind
                self.services.tasks.spawn(self._take_over(), name="leader takeover")

        def deposed() -> None:
            if RUNNING.get(key) is updates:
                del RUNNING[key]
            if self.access is not None:
                self.access.step_down()

        self.election = scheduler_election(
            scheduler,
            leader_lock(url),
            interval=settings.leader_check_seconds,
            on_elected=elected,
            on_deposed=deposed,
        )
        await self.election.start()
        await self.services.incidents.start()
        if self.election.is_leader:
            await self._take_over()
        self.started = True
        log.info("bot started in %s mode", self.services.mode)

    async def _take_over(self) -> None:
        """The leader's duties at start-up or takeover: runbook runs a stopped process left
        running, and stakeholder updates a crashed sender left unfinished.

        Only the leader does this. A run another live process drives is skipped (its lease is
        fresh, bot/runbook/leases.py). A run whose driver is a dead process of this machine (the
        crashed bot this one replaces, say) is resumed now, not once its lease goes stale: the
        driver id names its process, and the kernel says it is gone (bot/runbook/process.py).
        While this process leads, it looks again every time a lease could have gone stale, for
        runs whose driver died after the takeover or ran on another machine.
        """
        engine = self.services.engine
        resumed = await engine.resume_incomplete()
        if resumed:
            log.info("resumed runbook runs %s", resumed)
        if drills := await self.services.gameday.recover():  # resumed, or cleaned up
            log.info("game day drills resumed after a restart: %s", drills)

        async def resume_while_leading() -> None:
            while self.election is not None and self.election.is_leader:
                await asyncio.sleep(engine.stale_after)
                if self.election is None or not self.election.is_leader:
                    return
                try:
                    if later := await engine.resume_incomplete():
                        log.info("resumed runbook runs whose driver stopped: %s", later)
                except Exception:
                    log.warning("could not look for runbook runs to resume", exc_info=True)

        if self._resumer is None or self._resumer.done():
            self._resumer = self.services.tasks.spawn(resume_while_leading(), name="runbook-resume")
        if self.access is not None and (self._access_task is None or self._access_task.done()):
            # Missed deadlines are revoked, unfinished grants retried, hand-made changes reported.
            self._access_task = self.services.tasks.spawn(
                self.access.take_over(), name="access-reconcile"
            )
        updates = self.services.updates
        if self._recovery is None:
            # In the background: it goes at Slack's pace and may wait out the grace period.
            self._recovery = self.services.tasks.spawn(
                updates.recover(wait_for_fresh=True), name="incident-update-recovery"
            )
            self._recovery.add_done_callback(self._recovered)

    def _recovered(self, _: asyncio.Task[None]) -> None:
        self._recovery = None

    async def stop(self) -> None:
        if not self.started:
            return
        self.started = False
        await self.model_status.stop()
        await self.services.gameday.aclose()  # drills pause; the next start resumes them
        if self._resumer is not None:
            self._resumer.cancel()  # before the engine closes, so it resumes nothing more
        await self.services.engine.aclose()
        if self._recovery is not None:
            self._recovery.cancel()  # safe: its rows stay for the next pass
        await self.services.tasks.drain()
        await self.services.capacity.aclose()
        await self.services.updates.idle(timeout=5.0)  # its updates land on the timelines
        await self.services.incidents.aclose()
        self.services.alert_sink.close()
        await self.services.updates.aclose()
        await self.services.model_server.aclose()
        await self.services.monitoring.aclose()
        if self.access is not None:
            self.access.stop()
        await self.services.quality.aclose()
        await self.services.pipelines.aclose()
        if self.election is not None:
            # Pauses the scheduler and unregisters first, then a standby may take over.
            await self.election.stop()
            self.election = None
        if self.services.scheduler.running:
            self.services.scheduler.shutdown(wait=False)
        self.services.pool.shutdown()
        self.services.audit_buffer.flush()
        self.services.db.dispose()

    async def start_monitoring(self) -> None:
        """Long-running helpers of a serving bot (not of a test that only sends commands)."""
        # MLflow's first use initialises its store (seconds); pay it now, off the request path.
        await asyncio.to_thread(self._warm_registry)
        self.model_status.start()

    def _warm_registry(self) -> None:
        try:
            self.services.models.connect()
        except Exception as exc:
            log.warning("model registry not reachable yet: %s", exc)


def domain_actions(
    deploy: DeployDeps,
    retrain: RetrainDeps,
    access: AccessFlows,
    pipeline: PipelineActionDeps,
    capacity: CapacityDeps,
) -> ActionCatalog:
    """Every action a runbook step may name, from every domain, each given its dependencies."""
    actions = ActionCatalog()
    register_deploy_actions(actions, deploy)
    register_retrain_actions(actions, retrain)
    register_access_actions(actions, access)
    # Data quality's actions need nothing the deploy actions do not have already.
    register_quality_actions(
        actions,
        QualityDeps(
            db=deploy.db, models=deploy.models, model_server_url=deploy.settings.model_server_url
        ),
    )
    register_pipeline_actions(actions, pipeline)
    register_capacity_actions(actions, capacity)
    return actions


def build_actions(
    settings: Settings,
    *,
    db: Database,
    models: ModelService,
    model_server: ModelServerClient,
    roles: RolePolicy,
    renderer: TemplateRenderer,
    pool: ProcessPool,
    client: AsyncWebClient,
    access: AccessFlows,
    ingestor: Ingestor,
    pipelines: PipelineService,
    capacity: CapacityService,
) -> ActionCatalog:
    """The runbook actions of every domain, each domain given its typed dependencies."""
    # Closed over by each domain's actions at registration, rather than handed to the engine:
    # the engine then needs to know nothing of any domain, and each action's needs are read off
    # one dataclass beside it.
    return domain_actions(
        DeployDeps(
            db=db,
            models=models,
            model_server=model_server,
            roles=roles,
            renderer=renderer,
            settings=settings,
        ),
        RetrainDeps(
            db=db,
            models=models,
            pool=pool,
            reports=SlackRetrainReporter(client, renderer, slash=settings.slash_command),
            settings=settings,
            ingestor=ingestor,
        ),
        access,
        PipelineActionDeps(pipelines=pipelines),
        CapacityDeps(capacity=capacity, db=db, renderer=renderer, slash=settings.slash_command),
    )
