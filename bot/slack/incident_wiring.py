"""The alerts, monitoring, incidents and updates domains wired for the composition root
(bot/app.py): the alert intake and its HTTP route, the monitors that raise alerts into it, the
incident flows and their Slack reporter, the stakeholder updates (Slack notifier, commander
reminders) that follow the incidents."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import timedelta
from functools import partial

from apscheduler.schedulers.asyncio import AsyncIOScheduler
from slack_sdk.web.async_client import AsyncWebClient
from starlette.routing import BaseRoute

from bot.alerts.intake import AlertIntake
from bot.alerts.webhook import WebhookAuth, alertmanager_route
from bot.config import Settings
from bot.db import Database, utcnow
from bot.incidents.changes import IncidentChanges, IncidentTimeline
from bot.incidents.flows import IncidentFlows
from bot.incidents.postmortem import PostmortemWriter
from bot.messages import TemplateRenderer
from bot.metrics import BotMetrics
from bot.model_registry.service import ModelService
from bot.monitoring import MonitoringService
from bot.monitoring.service import build_monitoring
from bot.monitoring.sink import LoggingAlertSink
from bot.runbook import Runbook, runbooks_for_alert
from bot.slack.incident_reporter import SlackIncidentReporter
from bot.slack.reminder_poster import SlackReminderPoster
from bot.slack.updates_notifier import SlackUpdateNotifier
from bot.slack.user_names import SlackUserNames
from bot.updates.flows import IncidentUpdates, cadence_minutes
from bot.updates.pace import UpdatePace
from bot.updates.reminders import CommanderReminders
from bot.updates.scheduled import SchedulerSnoozeClock, SchedulerUpdateClock, bot_key


@dataclass(frozen=True)
class RunbookIndex:
    """The loaded runbooks as the incidents see them: which one an alert suggests, and titles."""

    runbooks: Mapping[str, Runbook]

    def choose(self, alertname: str, labels: dict[str, str]) -> str | None:
        snake = re.sub(r"(?<!^)(?=[A-Z])", "_", alertname).lower()
        for name in dict.fromkeys((alertname, snake)):
            found = runbooks_for_alert(dict(self.runbooks), name)
            if found:
                return found[0].id
        return None

    def title(self, runbook_id: str) -> str | None:
        runbook = self.runbooks.get(runbook_id)
        return runbook.title if runbook is not None else None


def build_intake(
    settings: Settings, *, db: Database, runbooks: RunbookIndex, changes: IncidentChanges
) -> AlertIntake:
    """The alert intake: Alertmanager's webhook and the bot's own monitors deliver here."""
    return AlertIntake(
        db=db, model=settings.model_name, choose_runbook=runbooks.choose, on_change=changes.changed
    )


def webhook_routes(settings: Settings, intake: AlertIntake) -> list[BaseRoute]:
    auth = WebhookAuth(
        token=settings.alert_webhook_token,
        user=settings.alert_webhook_user,
        password=settings.alert_webhook_password,
    )
    return [alertmanager_route(intake, auth)]


def build_updates(
    settings: Settings,
    *,
    db: Database,
    renderer: TemplateRenderer,
    scheduler: AsyncIOScheduler,
    client: AsyncWebClient,
    timeline: IncidentTimeline,
) -> IncidentUpdates:
    """Stakeholder updates and commander reminders, writing their lines on the timelines."""
    cadence = {
        "SEV1": settings.update_cadence_sev1_minutes,
        "SEV2": settings.update_cadence_sev2_minutes,
        "SEV3": settings.update_cadence_sev3_minutes,
        "SEV4": settings.update_cadence_sev4_minutes,
    }
    minutes_for = partial(cadence_minutes, cadence)
    # The persistent (default) job store; the key finds this bot again from a stored job.
    key = bot_key(settings.resolved_database_url)
    # One cadence minute for the clock, the slots and the reminders (a drill may shorten it).
    pace = UpdatePace()
    # Commander reminders ride on the update clock; a snooze is a one-shot scheduler job.
    reminders = CommanderReminders(
        db=db,
        poster=SlackReminderPoster(
            client, renderer, slash=settings.slash_command, cadence=minutes_for
        ),
        snoozes=SchedulerSnoozeClock(scheduler, bot=key),
        cadence=minutes_for,
        clock=timeline.clock,
        pace=pace,
    )
    return IncidentUpdates(
        db=db,
        notifier=SlackUpdateNotifier(client, renderer, slash=settings.slash_command),
        schedule=SchedulerUpdateClock(scheduler, bot=key, pace=pace),
        cadence=cadence,
        stakeholder_channel=settings.stakeholder_channel or None,
        clock=timeline.clock,
        record=timeline.record,
        reminders=reminders,
        pace=pace,
    )


def build_incident_flows(
    settings: Settings,
    *,
    db: Database,
    renderer: TemplateRenderer,
    client: AsyncWebClient,
    models: ModelService,
    monitoring: MonitoringService,
    runbooks: RunbookIndex,
    changes: IncidentChanges,
    updates: IncidentUpdates,
) -> IncidentFlows:
    """The incident flows, reporting to Slack; the monitors give the first diagnosis."""
    reporter = SlackIncidentReporter(
        client,
        renderer,
        channel=settings.incident_channel,
        slash=settings.slash_command,
        quiet_minutes=settings.incident_quiet_minutes,
    )
    postmortems = PostmortemWriter(
        db=db,
        folder=settings.oncall_data_dir / "postmortems",
        renderer=renderer,
        models=models,
        monitor=monitoring,
    )
    postmortems.names = SlackUserNames(client)
    return IncidentFlows(
        db=db,
        reporter=reporter,
        models=models,
        diagnosis=monitoring,
        runbook_title=runbooks.title,
        quiet=timedelta(minutes=settings.incident_quiet_minutes),
        postmortems=postmortems,
        model_name=settings.model_name,
        clock=utcnow,
        changes=changes,
        # The incidents publish their changes; the stakeholder updates follow them.
        watchers=[updates],
    )


@dataclass(frozen=True)
class Alerting:
    """The alert intake, the monitors that raise alerts into it, the incidents and the updates."""

    intake: AlertIntake
    monitoring: MonitoringService
    incidents: IncidentFlows
    updates: IncidentUpdates


def build_alerting(
    settings: Settings,
    *,
    db: Database,
    renderer: TemplateRenderer,
    scheduler: AsyncIOScheduler,
    client: AsyncWebClient,
    models: ModelService,
    metrics: BotMetrics,
    runbooks: RunbookIndex,
) -> Alerting:
    """Intake, monitors, stakeholder updates and incident flows, in the order they need."""
    # Two real cycles meet here: the monitors raise alerts into the intake, whose changes the
    # incident flows publish, and the flows read the monitors' diagnoses; the flows tell the
    # stakeholder updates of each publication, and every update sent is a timeline line the flows
    # publish. The hub of changes (bot/incidents/changes.py) is built first and given to the
    # intake, the updates' timeline and the flows, so each of them is built whole, in order.
    changes = IncidentChanges()
    intake = build_intake(settings, db=db, runbooks=runbooks, changes=changes)
    monitoring = build_monitoring(
        settings,
        db=db,
        models=models,
        # Unless the team's own Alertmanager raises the alerts from the exported gauges:
        # then the findings are only logged, so one problem never opens two incidents.
        sink=intake if settings.monitor_alerts == "bot" else LoggingAlertSink(),
        renderer=renderer,
        registry=metrics.registry,
    )
    updates = build_updates(
        settings,
        db=db,
        renderer=renderer,
        scheduler=scheduler,
        client=client,
        timeline=IncidentTimeline(db=db, changes=changes),
    )
    incidents = build_incident_flows(
        settings,
        db=db,
        renderer=renderer,
        client=client,
        models=models,
        monitoring=monitoring,
        runbooks=runbooks,
        changes=changes,
        updates=updates,
    )
    return Alerting(intake=intake, monitoring=monitoring, incidents=incidents, updates=updates)
