"""Postmortem drafts: the facts an incident leaves behind, rendered as Markdown by `bot.messages`."""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, Protocol

from bot.db import Database
from bot.deploy.flows import deploy_history
from bot.deploy.models import DeployEntry
from bot.incidents.models import IncidentView, aware
from bot.messages import TemplateRenderer
from bot.model_registry.service import ModelService

log = logging.getLogger(__name__)

RUN_KINDS = ("run_step", "run_finished", "run_started")


@dataclass(frozen=True)
class VersionFacts:
    version: int
    accuracy: float | None = None
    macro_f1: float | None = None
    estimator: str | None = None
    error: str | None = None


@dataclass
class PostmortemFacts:
    incident: IncidentView
    generated_at: datetime
    opened_version: VersionFacts | None = None
    resolved_version: VersionFacts | None = None
    deploys: list[DeployEntry] = field(default_factory=list)
    deploys_error: str | None = None
    monitor: Any = None
    runs: list[dict[str, Any]] = field(default_factory=list)


class MonitorReadings(Protocol):
    """The monitors' latest results (the monitoring service), quoted in the draft."""

    @property
    def latest(self) -> Any: ...


class UserNames(Protocol):
    """Display names of user ids (a file cannot show Slack mentions as names)."""

    async def resolve(self, ids: list[str]) -> dict[str, str]: ...


class PostmortemWriter:
    """Gathers what the postmortem needs, renders it, stores it under `<data dir>/postmortems`."""

    def __init__(
        self,
        *,
        db: Database,
        folder: Path,
        renderer: TemplateRenderer,
        models: ModelService | None,
        monitor: MonitorReadings | None,
    ) -> None:
        self.db = db
        self.folder = folder
        self.renderer = renderer
        self.models = models
        self.monitor = monitor
        # Set by the composition root when Slack can name people; else ids are shown.
        self.names: UserNames | None = None

    def path(self, incident: IncidentView) -> Path:
        return self.folder / f"{incident.ref}.md"

    async def write(self, incident: IncidentView, now: datetime) -> tuple[Path, str]:
        """Render the draft for `incident` and store it; (path, markdown)."""
        facts = await asyncio.to_thread(self._facts, incident, now)
        people = [incident.commander or "", *incident.participants]
        people += [e.actor for e in incident.events if e.actor]
        people += [d.actor for d in facts.deploys if getattr(d, "actor", None)]
        names = await self.names.resolve([p for p in people if p]) if self.names else {}
        text = self.renderer.render_document(
            "postmortem.md.j2", facts=facts, i=incident, names=names
        )
        target = self.path(incident)

        def store() -> None:
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(text, encoding="utf-8")

        await asyncio.to_thread(store)
        return target, text

    def _facts(self, incident: IncidentView, now: datetime) -> PostmortemFacts:
        facts = PostmortemFacts(incident=incident, generated_at=now)
        facts.opened_version = self._version(incident.production_version)
        facts.resolved_version = self._version(incident.resolved_version)
        try:
            until = incident.resolved_at or now
            facts.deploys = [
                d
                for d in deploy_history(self.db, limit=50)
                if incident.created_at <= aware(d.started_at) <= until  # type: ignore[operator]
            ][::-1]
        except Exception as exc:
            facts.deploys_error = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        try:
            facts.monitor = self.monitor.latest if self.monitor is not None else None
        except Exception:
            facts.monitor = None
        runs: dict[int, dict[str, Any]] = {}
        for e in incident.events:
            run_id = e.data.get("run_id")
            if run_id is None or e.kind not in (*RUN_KINDS, "rollback_started", "retrain_started"):
                continue
            run = runs.setdefault(
                int(run_id), {"id": run_id, "runbook": e.data.get("runbook", ""), "steps": []}
            )
            run["runbook"] = e.data.get("runbook") or run["runbook"]
            if e.kind == "run_step":
                run["steps"].append(e.text)
            elif e.kind == "run_finished":
                run["outcome"] = e.data.get("status", "")
            run.setdefault("actor", e.actor)
        facts.runs = list(runs.values())
        return facts

    def _version(self, version: int | None) -> VersionFacts | None:
        if version is None:
            return None
        models = self.models
        if models is None:
            return VersionFacts(version=version, error="model registry not connected")
        try:
            d = models.describe(version)
        except Exception as exc:
            return VersionFacts(version=version, error=str(exc).splitlines()[0][:200])
        return VersionFacts(
            version=version, accuracy=d.accuracy, macro_f1=d.macro_f1, estimator=d.estimator
        )
