"""What an incident's header shows besides the incident itself: `HeaderFacts`.

Some facts are looked up once, when the header is first posted, and stored with the incident so
that every later render shows the same: the production version at the time, and the first
diagnosis (a timeline event; a slow or failing provider only leaves it out). The others are read
at every render: the last deploy, the runbook's title, when the next stakeholder update is due.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from bot.db import Database
from bot.deploy.flows import deploy_history
from bot.deploy.models import DeployEntry
from bot.incidents import service
from bot.incidents.diagnosis import Diagnosis, DiagnosisProvider, as_diagnosis
from bot.incidents.models import IncidentView
from bot.model_registry.service import ModelService

log = logging.getLogger(__name__)

DIAGNOSIS_TIMEOUT = 10.0


@dataclass(frozen=True)
class HeaderFacts:
    """What the header shows besides the incident itself."""

    last_deploy: DeployEntry | None
    diagnosis: Diagnosis | None
    runbook_title: str | None
    next_update: datetime | None = None  # the next scheduled stakeholder update


async def look_up_opening_facts(
    incident: IncidentView,
    *,
    store: Callable[..., Awaitable[Any]],
    models: ModelService | None,
    diagnosis: Callable[[], DiagnosisProvider | None],
    clock: Callable[[], datetime],
) -> None:
    """Production version and the first diagnosis, looked up once, off the request path, and
    stored with the incident (`store` runs `fn(conn, **kwargs)` in a worker thread)."""
    if incident.production_version is None and models is not None:
        try:
            version = await asyncio.to_thread(models.production_version)
        except Exception as exc:
            log.warning("incident %s: no production version: %s", incident.ref, exc)
        else:
            await store(
                service.set_opening_facts, incident_id=incident.id, production_version=version
            )
    if any(e.kind == "diagnosis" for e in incident.events):
        return
    found = await _diagnose(incident, diagnosis())
    if found is not None:
        await store(
            service.add_event,
            incident_id=incident.id,
            kind="diagnosis",
            now=clock(),
            text=found.title,
            data={"kind": found.kind, "title": found.title, "lines": list(found.lines)},
        )


async def _diagnose(incident: IncidentView, provider: DiagnosisProvider | None) -> Diagnosis | None:
    alerts = incident.firing or incident.alerts
    if provider is None or not alerts:
        return None
    alert = alerts[0]
    try:
        async with asyncio.timeout(DIAGNOSIS_TIMEOUT):
            if inspect.iscoroutinefunction(provider.diagnose):
                result = await provider.diagnose(alertname=alert.alertname, labels=alert.labels)
            else:
                result = await asyncio.to_thread(
                    provider.diagnose, alertname=alert.alertname, labels=alert.labels
                )
                if inspect.isawaitable(result):
                    result = await result
    except Exception:
        log.exception("diagnosis of %s failed", incident.ref)
        return None
    found = as_diagnosis(result)
    # A provider that covers no such alert ("none") leaves the alerts' own descriptions, which
    # say more (data-quality alerts carry the rate, the policy and what is held).
    return None if found is not None and found.kind == "none" else found


async def current_facts(
    incident: IncidentView,
    *,
    db: Database,
    runbook_title: Callable[[str], str | None],
    next_update: datetime | None,
) -> HeaderFacts:
    """The facts for a render of the header now (`next_update`: from the updates domain)."""
    try:
        history = await asyncio.to_thread(deploy_history, db, limit=1)
    except Exception:
        log.exception("no deploy history for %s", incident.ref)
        history = []
    diagnosis = next(
        (as_diagnosis(_Stored(e.data)) for e in incident.events if e.kind == "diagnosis"),
        None,
    )
    title = runbook_title(incident.runbook_id) if incident.runbook_id else None
    return HeaderFacts(
        last_deploy=history[0] if history else None,
        diagnosis=diagnosis,
        runbook_title=title,
        next_update=next_update,
    )


class _Stored:
    """A diagnosis as stored in an event's data."""

    def __init__(self, data: dict[str, Any]) -> None:
        self.kind = data.get("kind", "")
        self.title = data.get("title", "")
        self.lines = data.get("lines", [])
