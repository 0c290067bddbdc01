"""The stakeholder status page's facts: the production model, its health, open and recent incidents.

Every part is gathered on its own; a part that fails is "unavailable", never an error page.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from bot.incidents.flows import IncidentFlows
from bot.incidents.models import EventView, IncidentView

log = logging.getLogger(__name__)

RECENT = timedelta(days=7)


@dataclass
class ModelPart:
    name: str
    available: bool
    production: int | None = None
    health: str = "unavailable"  # healthy | degraded | down | unavailable
    detail: str = ""


@dataclass
class IncidentPart:
    ref: str
    title: str
    severity: str
    status: str
    impact: str
    commander: str | None
    started_at: datetime
    resolved_at: datetime | None
    summary: str
    latest_update: EventView | None


@dataclass
class StatusPage:
    generated_at: datetime
    model: ModelPart
    open_incidents: list[IncidentPart] = field(default_factory=list)
    resolved_incidents: list[IncidentPart] = field(default_factory=list)
    incidents_available: bool = True
    overall: str = "operational"  # operational | degraded | incident | unknown

    def as_json(self) -> dict[str, Any]:
        def incident(i: IncidentPart) -> dict[str, Any]:
            update = i.latest_update
            return {
                "ref": i.ref,
                "title": i.title,
                "severity": i.severity,
                "status": i.status,
                "impact": i.impact,
                "commander": i.commander,
                "started_at": i.started_at.isoformat(),
                "resolved_at": i.resolved_at.isoformat() if i.resolved_at else None,
                "summary": i.summary,
                "latest_update": (
                    {"text": update.text, "at": update.at.isoformat(), "by": update.actor}
                    if update
                    else None
                ),
            }

        return {
            "generated_at": self.generated_at.isoformat(),
            "overall": self.overall,
            "model": {
                "name": self.model.name,
                "available": self.model.available,
                "production": f"v{self.model.production}" if self.model.production else None,
                "health": self.model.health,
                "detail": self.model.detail,
            },
            "incidents_available": self.incidents_available,
            "open_incidents": [incident(i) for i in self.open_incidents],
            "resolved_incidents": [incident(i) for i in self.resolved_incidents],
        }


def _part(i: IncidentView) -> IncidentPart:
    updates = [e for e in i.events if e.kind == "update"]
    return IncidentPart(
        ref=i.ref,
        title=i.title,
        severity=i.severity,
        status=i.status,
        impact=i.impact,
        commander=i.commander,
        started_at=i.created_at,
        resolved_at=i.resolved_at,
        summary=i.summary,
        latest_update=updates[-1] if updates else None,
    )


def model_part(name: str, status: Any) -> ModelPart:
    """From the bot's ModelStatusCache.status (None: not wired)."""
    try:
        if status is None or status.refreshed_at is None:
            return ModelPart(name=name, available=False, detail="not checked yet")
        server = status.server
        if server is None or not server.reachable:
            health, detail = "down", "the model server is unreachable"
        elif server.version is None:
            health, detail = "degraded", "the model server is up but serves no model"
        elif server.version != status.production:
            health, detail = "degraded", f"the model server serves v{server.version}"
        else:
            health, detail = "healthy", f"serving v{server.version}"
        if status.registry_error:
            detail += "; the model registry is unavailable"
        return ModelPart(
            name=name, available=True, production=status.production, health=health, detail=detail
        )
    except Exception:
        log.exception("status page: model part failed")
        return ModelPart(name=name, available=False)


async def gather(*, flows: IncidentFlows | None, model: ModelPart, now: datetime) -> StatusPage:
    page = StatusPage(generated_at=now, model=model)
    try:
        if flows is None:
            raise RuntimeError("incidents are not set up")
        for incident_id in await flows.open_ids():
            incident = await flows.get(incident_id=incident_id)
            if incident is not None:
                page.open_incidents.append(_part(incident))
        page.open_incidents.sort(key=lambda i: (i.severity, i.started_at))
        page.resolved_incidents = [_part(i) for i in await flows.resolved_since(now - RECENT)]
    except Exception:
        log.exception("status page: incidents unavailable")
        page.incidents_available = False
    if page.open_incidents:
        page.overall = "incident"
    elif not model.available or not page.incidents_available:
        page.overall = "unknown"
    elif model.health != "healthy":
        page.overall = "degraded"
    return page
