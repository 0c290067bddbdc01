"""The bundle of long-lived objects the composition root builds and hands to the adapters."""

from __future__ import annotations

import time
from concurrent.futures import Executor
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from apscheduler.schedulers.asyncio import AsyncIOScheduler

from bot.access.roles import RolePolicy
from bot.audit.buffer import AuditBuffer
from bot.config import Mode, Settings
from bot.db import Database
from bot.messages import TemplateRenderer
from bot.metrics import BotMetrics
from bot.tasks import BackgroundTasks

if TYPE_CHECKING:
    from bot.alerts.intake import AlertSink
    from bot.deploy.probe import ModelServerClient
    from bot.incidents.diagnosis import DiagnosisProvider
    from bot.incidents.flows import IncidentFlows
    from bot.monitoring import MonitoringService
    from bot.registry.service import ModelService
    from bot.runbook import RunbookEngine
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
    pool: Executor | None = None
    audit_buffer: AuditBuffer = field(init=False)
    models: ModelService | None = None
    engine: RunbookEngine | None = None
    model_server: ModelServerClient | None = None
    monitoring: MonitoringService | None = None
    # Alert intake (Alertmanager webhook and the bot's own monitors), incidents, diagnosis.
    alert_sink: AlertSink | None = None
    incidents: IncidentFlows | None = None
    updates: IncidentUpdates | None = None  # stakeholder updates, following the incidents
    diagnosis: DiagnosisProvider | None = None
    started_monotonic: float = field(default_factory=time.monotonic)
    # Domain services added by later layers (model service, runbook engine, ...), by name.
    extras: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.audit_buffer = AuditBuffer(self.db)

    @property
    def uptime_seconds(self) -> float:
        return time.monotonic() - self.started_monotonic
