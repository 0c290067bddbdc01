"""Postmortem drafts (Markdown) and the stakeholder status page, rendered as text by Jinja2.

These are not Block Kit messages, so they do not go through `bot.messages`: a separate Jinja2
environment reads the same template folders (an operator's `TEMPLATES_DIR` first), plain for
Markdown and autoescaped for HTML.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import jinja2

from bot.db import Database
from bot.deploy.flows import deploy_history
from bot.deploy.models import DeployEntry
from bot.incidents.models import IncidentView, aware
from bot.registry.service import ModelService

log = logging.getLogger(__name__)

BUNDLED_TEMPLATES = Path(__file__).resolve().parents[2] / "templates"
RUN_KINDS = ("run_step", "run_finished", "run_started")


def template_env(override_dir: Path | None, *, html: bool) -> jinja2.Environment:
    """Jinja2 over the operator's folder then the bundled one; autoescaped for HTML."""
    loaders: list[jinja2.BaseLoader] = []
    if override_dir is not None:
        loaders.append(jinja2.FileSystemLoader(str(override_dir)))
    loaders.append(jinja2.FileSystemLoader(str(BUNDLED_TEMPLATES)))
    env = jinja2.Environment(
        loader=jinja2.ChoiceLoader(loaders),
        autoescape=html,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
        undefined=jinja2.ChainableUndefined,
    )
    env.filters["when"] = lambda v: v.strftime("%Y-%m-%d %H:%M:%S UTC") if v else "—"
    env.filters["duration"] = duration
    return env


def duration(seconds: float | None) -> str:
    """3725 → '1h 2m'."""
    if seconds is None:
        return "—"
    minutes = int(max(0.0, seconds) // 60)
    hours, minutes = divmod(minutes, 60)
    days, hours = divmod(hours, 24)
    if days:
        return f"{days}d {hours}h"
    if hours:
        return f"{hours}h {minutes}m"
    return f"{minutes}m"


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


class PostmortemWriter:
    """Gathers what the postmortem needs, renders it, stores it under `<data dir>/postmortems`."""

    def __init__(
        self,
        *,
        db: Database,
        folder: Path,
        templates_dir: Path | None,
        models: Callable[[], ModelService | None],
        monitor_snapshot: Callable[[], Any],
    ) -> None:
        self.db = db
        self.folder = folder
        self.env = template_env(templates_dir, html=False)
        self.models = models
        self.monitor_snapshot = monitor_snapshot

    def path(self, incident: IncidentView) -> Path:
        return self.folder / f"{incident.ref}.md"

    async def write(self, incident: IncidentView, now: datetime) -> tuple[Path, str]:
        """Render the draft for `incident` and store it; (path, markdown)."""
        facts = await asyncio.to_thread(self._facts, incident, now)
        text = self.env.get_template("postmortem.md.j2").render(facts=facts, i=incident)
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
            facts.monitor = self.monitor_snapshot()
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
        models = self.models()
        if models is None:
            return VersionFacts(version=version, error="model registry not connected")
        try:
            d = models.describe(version)
        except Exception as exc:
            return VersionFacts(version=version, error=str(exc).splitlines()[0][:200])
        return VersionFacts(
            version=version, accuracy=d.accuracy, macro_f1=d.macro_f1, estimator=d.estimator
        )
