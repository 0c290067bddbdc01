"""The bundle of long-lived objects the composition root (bot/app.py) builds and hands to the
adapters (Slack handlers, web routes, scheduled jobs). Every field is set when it is built."""

from __future__ import annotations

import time
from dataclasses import dataclass, field

from apscheduler.schedulers.asyncio import AsyncIOScheduler

from bot.access.flows import AccessFlows
from bot.access.roles import RolePolicy
from bot.alerts.intake import AlertIntake
from bot.audit.buffer import AuditBuffer
from bot.capacity.service import CapacityService
from bot.config import Mode, Settings
from bot.db import Database
from bot.deploy.model_server import ModelServerClient
from bot.gameday.flows import GameDays
from bot.incidents.flows import IncidentFlows
from bot.messages import TemplateRenderer
from bot.metrics import BotMetrics
from bot.model_registry.service import ModelService
from bot.model_status import ModelStatusCache
from bot.monitoring import MonitoringService
from bot.pipelines.wiring import Pipelines
from bot.process_pool import ProcessPool
from bot.quality.service import QualityService
from bot.runbook import RunbookEngine
from bot.slack.status_cache import StatusCache
from bot.tasks import BackgroundTasks
from bot.updates.flows import IncidentUpdates


@dataclass
class Services:
    settings: Settings
    mode: Mode
    db: Database
    renderer: TemplateRenderer
    roles: RolePolicy
    scheduler: AsyncIOScheduler
    tasks: BackgroundTasks
    metrics: BotMetrics
    pool: ProcessPool
    models: ModelService
    model_server: ModelServerClient
    model_status: ModelStatusCache  # `/iris status` and the stakeholder page (GET /status)
    engine: RunbookEngine
    monitoring: MonitoringService
    # Alert intake (Alertmanager webhook and, when they raise alerts, the bot's own monitors).
    alert_sink: AlertIntake
    incidents: IncidentFlows
    updates: IncidentUpdates  # stakeholder updates, following the incidents
    access: AccessFlows  # the access runbook: requests, grants, revocations
    quality: QualityService  # feature contracts, missing-feature policies, late sources
    pipelines: Pipelines  # the data pipeline on Dagster: monitor, flows, ingestion
    gameday: GameDays  # game day drills (bot/gameday)
    capacity: CapacityService  # serving engine, latency SLO burn, scaling
    audit_buffer: AuditBuffer = field(init=False)
    status_cache: StatusCache = field(default_factory=StatusCache)
    started_monotonic: float = field(default_factory=time.monotonic)

    def __post_init__(self) -> None:
        self.audit_buffer = AuditBuffer(self.db)

    @property
    def uptime_seconds(self) -> float:
        return time.monotonic() - self.started_monotonic
