"""The capacity job: every BURN_CHECK_SECONDS, scrape the model server for the burn rates and
the chart's history; with MONITOR_ALERTS=bot, raise the burn alerts through the alert intake and
post the capacity card, with its buttons, in the thread of the incident a page opens."""

from __future__ import annotations

import asyncio
import logging
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from apscheduler.triggers.interval import IntervalTrigger

from bot.capacity.burn import PAGE
from bot.incidents import service as incidents
from bot.monitoring.alerts import AlertTracker
from bot.scheduling import MEMORY_JOBSTORE

if TYPE_CHECKING:
    from bot.services import Services

log = logging.getLogger(__name__)

JOBSTORE = MEMORY_JOBSTORE
CAPACITY_JOB = "capacity.observe"


def schedule_capacity_jobs(services: Services, client: Any) -> None:
    seconds = services.settings.burn_check_seconds
    if seconds <= 0:
        return
    scheduler = services.scheduler
    tracker = AlertTracker(
        model=services.settings.model_name, repeat_seconds=services.settings.alert_repeat_seconds
    )
    scheduler.add_job(
        observe_and_alert,
        IntervalTrigger(seconds=seconds),
        args=[services, client, tracker],
        id=CAPACITY_JOB,
        name="Capacity and latency SLO burn",
        jobstore=JOBSTORE,
        replace_existing=True,
    )


async def observe_and_alert(services: Services, client: Any, tracker: AlertTracker) -> None:
    """One scrape; the burn alerts go out when the bot raises alerts itself."""
    try:
        capacity = services.capacity
        view = await capacity.observe()
        if services.settings.monitor_alerts != "bot":
            return
        findings = []
        for finding in capacity.findings(view):
            text = services.renderer.render(
                "capacity_alert",
                firing=finding.firing,
                view=view,
                worst=view.burn.worst(finding.alertname),
            ).text
            summary, _, description = text.partition("\n")
            findings.append(replace(finding, summary=summary, description=description.strip()))
        for payload in tracker.update(findings):
            result = await services.alert_sink.deliver(payload)
            opened = getattr(result, "outcome", None) == "opened"
            if opened and payload["commonLabels"].get("alertname") == PAGE:
                services.tasks.spawn(
                    post_card(services, client, result.incident_id), name="capacity-card"
                )
    except Exception:
        log.exception("capacity job failed")


async def post_card(
    services: Services, client: Any, incident_id: int, timeout: float = 30.0
) -> None:
    """Once the incident's header is in Slack, the capacity card with its buttons in the thread."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while loop.time() < deadline:
        with services.db.connection() as conn:
            incident = incidents.get(conn, incident_id=incident_id)
        if incident is not None and incident.header_ts:
            view = services.capacity.view(await services.capacity.engine.status())
            card = services.renderer.render(
                "capacity_card",
                view=view,
                model_name=services.settings.model_name,
                buttons=True,
                max_replicas=services.settings.max_replicas,
            )
            await client.chat_postMessage(
                channel=incident.channel, thread_ts=incident.header_ts, **card.as_kwargs()
            )
            return
        await asyncio.sleep(0.2)
    log.warning("capacity card: incident %s has no Slack thread yet", incident_id)
