"""The alerts, incidents and updates domains wired for the composition root (bot/app.py): the
alert intake and its HTTP route, the incident flows and their Slack reporter, the stakeholder
updates (Slack notifier, commander reminders) that follow the incidents."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import timedelta
from functools import partial
from typing import Any

from slack_sdk.web.async_client import AsyncWebClient
from starlette.routing import BaseRoute

from bot.alerts.intake import AlertIntake
from bot.alerts.webhook import WebhookAuth, alertmanager_route
from bot.incidents.diagnosis import DiagnosisProvider
from bot.incidents.flows import IncidentFlows
from bot.incidents.postmortem import PostmortemWriter
from bot.runbook.loader import runbooks_for_alert
from bot.services import Services
from bot.slack.incident_reporter import SlackIncidentReporter
from bot.slack.reminder_poster import SlackReminderPoster
from bot.slack.updates_notifier import SlackUpdateNotifier
from bot.updates.flows import IncidentUpdates, cadence_minutes
from bot.updates.reminders import CommanderReminders
from bot.updates.scheduled import SchedulerSnoozeClock, SchedulerUpdateClock, bot_key


@dataclass
class IncidentParts:
    """What the composition root wires: the intake (alert sink), the incident flows, the
    stakeholder updates, the HTTP route."""

    intake: AlertIntake
    flows: IncidentFlows
    updates: IncidentUpdates
    routes: list[BaseRoute]


def build_incidents(services: Services, client: AsyncWebClient) -> IncidentParts:
    """The incident domain wired to Slack, the runbook engine and the diagnosis provider."""
    settings = services.settings

    def runbooks() -> dict[str, Any]:
        return dict(services.engine.runbooks) if services.engine is not None else {}

    def choose_runbook(alertname: str, labels: dict[str, str]) -> str | None:
        loaded = runbooks()
        snake = re.sub(r"(?<!^)(?=[A-Z])", "_", alertname).lower()
        for name in dict.fromkeys((alertname, snake)):
            found = runbooks_for_alert(loaded, name)
            if found:
                return found[0].id
        return None

    def runbook_title(runbook_id: str) -> str | None:
        runbook = runbooks().get(runbook_id)
        return runbook.title if runbook is not None else None

    def diagnosis() -> DiagnosisProvider | None:
        if services.diagnosis is not None:
            return services.diagnosis
        monitoring = getattr(services, "monitoring", None)
        return monitoring if callable(getattr(monitoring, "diagnose", None)) else None

    reporter = SlackIncidentReporter(
        client,
        services.renderer,
        channel=settings.incident_channel,
        slash=settings.slash_command,
        quiet_minutes=settings.incident_quiet_minutes,
    )

    def monitor_snapshot() -> Any:
        monitoring = getattr(services, "monitoring", None)
        return getattr(monitoring, "latest", None)

    postmortems = PostmortemWriter(
        db=services.db,
        folder=settings.oncall_data_dir / "postmortems",
        renderer=services.renderer,
        # Through the incident flows, so that a test (or a bot without a registry) can detach it.
        models=lambda: flows.models,
        monitor_snapshot=monitor_snapshot,
    )
    flows = IncidentFlows(
        db=services.db,
        reporter=reporter,
        models=services.models,
        diagnosis=diagnosis,
        runbook_title=runbook_title,
        quiet=timedelta(minutes=settings.incident_quiet_minutes),
        postmortems=postmortems,
        model_name=settings.model_name,
    )
    cadence = {
        "SEV1": settings.update_cadence_sev1_minutes,
        "SEV2": settings.update_cadence_sev2_minutes,
        "SEV3": settings.update_cadence_sev3_minutes,
        "SEV4": settings.update_cadence_sev4_minutes,
    }
    minutes_for = partial(cadence_minutes, cadence)
    # Commander reminders ride on the update clock; a snooze is a one-shot scheduler job.
    reminders = CommanderReminders(
        db=services.db,
        poster=SlackReminderPoster(
            client, services.renderer, slash=settings.slash_command, cadence=minutes_for
        ),
        snoozes=SchedulerSnoozeClock(
            services.scheduler, bot=bot_key(settings.resolved_database_url)
        ),
        cadence=minutes_for,
        clock=flows.clock,
    )
    updates = IncidentUpdates(
        db=services.db,
        notifier=SlackUpdateNotifier(client, services.renderer, slash=settings.slash_command),
        # The persistent (default) job store; the key finds this bot again from a stored job.
        schedule=SchedulerUpdateClock(
            services.scheduler, bot=bot_key(settings.resolved_database_url)
        ),
        cadence=cadence,
        stakeholder_channel=settings.stakeholder_channel or None,
        clock=flows.clock,
        record=flows.record,
        reminders=reminders,
    )
    # The incidents publish their changes; the stakeholder updates follow them.
    flows.watch(updates)
    intake = AlertIntake(
        db=services.db,
        model=settings.model_name,
        choose_runbook=choose_runbook,
        on_change=flows.mark_dirty,
    )
    auth = WebhookAuth(
        token=settings.alert_webhook_token,
        user=settings.alert_webhook_user,
        password=settings.alert_webhook_password,
    )
    return IncidentParts(
        intake=intake, flows=flows, updates=updates, routes=[alertmanager_route(intake, auth)]
    )
