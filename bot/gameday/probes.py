"""The probes a scenario checks: before the fault (steady state), to see it detected, to see it
mitigated, and after the clean-up. Each is a kind in the probe registry."""

from __future__ import annotations

import asyncio
import operator
import string
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import httpx
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import select

from bot.deploy import service as deploy_service
from bot.gameday import service
from bot.gameday.context import DrillContext
from bot.gameday.kinds import KindRegistry, KindSpec, Param, Probe, ProbeResult
from bot.incidents.models import Incident, IncidentAlert, IncidentStatus
from bot.model_registry.mlflow_tags import T_DISCARDED_BY
from bot.runbook.models import RunbookRun, RunbookStep

OPS = {">": operator.gt, ">=": operator.ge, "<": operator.lt, "<=": operator.le, "==": operator.eq}


class _Vars(dict[str, Any]):
    def __missing__(self, key: str) -> str:
        return "{" + key + "}"


def fill(value: Any, ctx: DrillContext) -> Any:
    """`{model_server}` and the drill's noted facts (`{production_before}`) put into a value."""
    if not isinstance(value, str) or "{" not in value:
        return value
    names = _Vars(ctx.vars, model_server=ctx.deps.settings.model_server_url.rstrip("/"))
    return string.Formatter().vformat(value, (), names)


def _same(expected: Any, actual: Any) -> bool:
    return str(expected) == str(actual)


@dataclass(frozen=True)
class HttpProbe:
    url: str
    status: int
    json: dict[str, Any]

    async def check(self, ctx: DrillContext) -> ProbeResult:
        url = fill(self.url, ctx)
        try:
            response = await ctx.deps.http.get(url, timeout=2.0)
        except httpx.HTTPError as exc:
            return ProbeResult(False, "http_error", {"url": url, "error": type(exc).__name__})
        if response.status_code != self.status:
            return ProbeResult(
                False,
                "http_status",
                {"url": url, "status": response.status_code, "want": self.status},
            )
        if self.json:
            try:
                body = response.json()
            except ValueError:
                return ProbeResult(False, "not_json", {"url": url})
            for key, want in self.json.items():
                want = fill(want, ctx)
                if not _same(want, body.get(key)):
                    return ProbeResult(
                        False,
                        "json_field",
                        {"url": url, "key": key, "got": body.get(key), "want": want},
                    )
        return ProbeResult(True, "http_ok", {"url": url, "status": response.status_code})


@dataclass(frozen=True)
class PrometheusProbe:
    """A sample of a Prometheus exposition (the model server's or the bot's /metrics)."""

    url: str
    metric: str
    labels: dict[str, Any]
    op: str
    value: float

    async def check(self, ctx: DrillContext) -> ProbeResult:
        url = fill(self.url, ctx)
        try:
            response = await ctx.deps.http.get(url, timeout=2.0)
            response.raise_for_status()
        except httpx.HTTPError as exc:
            return ProbeResult(False, "http_error", {"url": url, "error": type(exc).__name__})
        total, found = 0.0, False
        for family in text_string_to_metric_families(response.text):
            for sample in family.samples:
                if sample.name != self.metric:
                    continue
                if all(sample.labels.get(k) == str(fill(v, ctx)) for k, v in self.labels.items()):
                    total, found = total + sample.value, True
        if not found:
            return ProbeResult(False, "metric_missing", {"metric": self.metric, "url": url})
        ok = OPS[self.op](total, self.value)
        return ProbeResult(
            ok,
            "metric",
            {"metric": self.metric, "total": total, "op": self.op, "value": self.value},
        )


@dataclass(frozen=True)
class BotStateProbe:
    """A fact of the bot's own state (registry, model server, deploy lock, incidents)."""

    check_name: str
    version: Any

    async def check(self, ctx: DrillContext) -> ProbeResult:
        deps = ctx.deps
        name = self.check_name
        if name in ("served_is_production", "production_is"):
            production = await asyncio.to_thread(deps.models.production_version)
            if name == "production_is":
                want = fill(self.version, ctx)
                ok = _same(want, production)
                return ProbeResult(ok, "production_is", {"production": production, "want": want})
            try:
                body = (
                    await deps.http.get(
                        f"{deps.settings.model_server_url.rstrip('/')}/healthz", timeout=2.0
                    )
                ).json()
            except (httpx.HTTPError, ValueError) as exc:
                return ProbeResult(False, "model_server_silent", {"error": type(exc).__name__})
            served = body.get("version")
            return ProbeResult(
                served == production,
                "served_is_production",
                {"served": served, "production": production},
            )
        if name == "deploy_lock_free":
            with deps.db.session() as session:
                lock = deploy_service.current_lock(session)
            return ProbeResult(lock is None, "deploy_lock", {"free": lock is None})
        if name == "no_open_incidents":
            open_ids = await deps.incidents.open_ids()
            return ProbeResult(not open_ids, "open_incidents", {"count": len(open_ids)})
        # no_firing_alerts
        firing = deps.monitoring.tracker.firing()
        return ProbeResult(not firing, "firing_alerts", {"firing": list(firing)})


BOT_STATE_CHECKS = (
    "served_is_production",
    "production_is",
    "deploy_lock_free",
    "no_open_incidents",
    "no_firing_alerts",
)


@dataclass(frozen=True)
class RunbookRunProbe:
    """A run of `runbook` started since the fault reached `status` (or its step `step` did)."""

    runbook: str
    status: str
    step: str

    async def check(self, ctx: DrillContext) -> ProbeResult:
        since = datetime.fromtimestamp(ctx.fault_at or ctx.started, UTC)
        with ctx.deps.db.session() as session:
            runs = session.scalars(
                select(RunbookRun)
                .where(RunbookRun.runbook_id == self.runbook)
                .order_by(RunbookRun.id.desc())
                .limit(5)
            ).all()
            for run in runs:
                created = (
                    run.created_at if run.created_at.tzinfo else run.created_at.replace(tzinfo=UTC)
                )
                if created < since.replace(microsecond=0):
                    continue
                if self.step:
                    step = session.scalars(
                        select(RunbookStep).where(
                            RunbookStep.run_id == run.id, RunbookStep.step_id == self.step
                        )
                    ).first()
                    if step is not None and step.status == self.status:
                        return ProbeResult(
                            True,
                            "runbook_step",
                            {
                                "runbook": self.runbook,
                                "run": run.id,
                                "step": self.step,
                                "status": step.status,
                            },
                        )
                elif run.status == self.status:
                    return ProbeResult(
                        True,
                        "runbook_run",
                        {"runbook": self.runbook, "run": run.id, "status": run.status},
                    )
        return ProbeResult(
            False,
            "no_runbook_run",
            {"runbook": self.runbook, "step": self.step, "status": self.status},
        )


@dataclass(frozen=True)
class IncidentProbe:
    """An incident (tagged DRILL unless `drill` is false) with this alert is open or resolved
    (and, with `acknowledged`, someone took it as commander)."""

    alertname: str
    status: str
    drill: bool
    acknowledged: bool

    async def check(self, ctx: DrillContext) -> ProbeResult:
        with ctx.deps.db.session() as session:
            query = (
                select(Incident)
                .join(IncidentAlert, IncidentAlert.incident_id == Incident.id)
                .where(IncidentAlert.alertname == self.alertname, Incident.drill.is_(self.drill))
            )
            rows = session.scalars(query.order_by(Incident.id.desc())).all()
            for row in rows:
                is_open = row.status != IncidentStatus.RESOLVED
                if self.acknowledged and not row.commander:
                    continue
                if (self.status == "open") == is_open:
                    ctx.vars.setdefault("incidents", [])
                    if row.id not in ctx.vars["incidents"]:
                        ctx.vars["incidents"].append(row.id)
                    return ProbeResult(
                        True,
                        "incident",
                        {
                            "number": row.number,
                            "alertname": self.alertname,
                            "status": str(row.status),
                        },
                    )
        return ProbeResult(
            False, "no_incident", {"status": self.status, "alertname": self.alertname}
        )


@dataclass(frozen=True)
class CandidateProbe:
    """A version registered since the drill started has this validation status (and, with
    `discarded`, someone discarded it)."""

    status: str
    discarded: bool

    async def check(self, ctx: DrillContext) -> ProbeResult:
        before = int(ctx.vars.get("latest_version_before") or 0)
        versions = await asyncio.to_thread(ctx.deps.models.list_versions)
        for version in versions:
            if version.version > before and version.validation_status == self.status:
                if self.discarded and not version.tags.get(T_DISCARDED_BY):
                    return ProbeResult(
                        False,
                        "candidate_kept",
                        {"version": version.version, "status": self.status},
                    )
                return ProbeResult(
                    True, "candidate", {"version": version.version, "status": self.status}
                )
        return ProbeResult(False, "no_candidate", {"status": self.status})


@dataclass(frozen=True)
class UpdatesProbe:
    """The drill's incidents: at least `slots` scheduled updates, each sent to every subscriber
    (`vars.subscribers`), nothing failed or left queued; with `reminded`, the commander was
    reminded."""

    slots: int
    reminded: bool

    async def check(self, ctx: DrillContext) -> ProbeResult:
        since = datetime.fromtimestamp(ctx.started, UTC)
        wanted = set(ctx.vars.get("subscribers", []))

        def read() -> tuple[list[int], list[dict[str, set[str]]], dict[str, int], int]:
            with ctx.deps.db.engine.connect() as conn:
                ids = service.drill_incidents(conn, since=since)
                slots = [service.scheduled_slots(conn, incident_id=i) for i in ids]
                ledger = service.deliveries(conn, incident_ids=ids)
                return ids, slots, ledger, service.reminders_posted(conn, incident_ids=ids)

        ids, slots, ledger, reminders = await asyncio.to_thread(read)
        if not ids:
            return ProbeResult(False, "no_drill_incident")
        if self.reminded and not reminders:
            return ProbeResult(False, "not_reminded")
        complete = [s for per in slots for s, who in per.items() if wanted <= who]
        unfinished = sum(n for state, n in ledger.items() if state != "sent")
        ok = len(complete) >= self.slots and unfinished == 0
        return ProbeResult(ok, "updates", {"complete": len(complete), "unfinished": unfinished})


def register_probes(probes: KindRegistry[Probe]) -> None:
    """The probe kinds every scenario may use."""
    probes.add(
        KindSpec(
            "http",
            "GET a URL; expect a status and fields of its JSON body",
            lambda a: HttpProbe(a["url"], a["status"], a["json"]),
            {
                "url": Param("str", required=True),
                "status": Param("int", default=200),
                "json": Param("dict", default={}),
            },
        )
    )
    probes.add(
        KindSpec(
            "prometheus",
            "a metric of a Prometheus exposition compared with a value",
            lambda a: PrometheusProbe(
                a["url"], a["metric"], a["labels"], a["op"], float(a["value"])
            ),
            {
                "url": Param("str", default="{model_server}/metrics"),
                "metric": Param("str", required=True),
                "labels": Param("dict", default={}),
                "op": Param("str", default=">=", choices=tuple(OPS)),
                "value": Param("float", default=0.0),
            },
        )
    )
    probes.add(
        KindSpec(
            "bot_state",
            "a fact of the bot: " + ", ".join(BOT_STATE_CHECKS),
            lambda a: BotStateProbe(a["check"], a["version"]),
            {
                "check": Param("str", required=True, choices=BOT_STATE_CHECKS),
                "version": Param("str", default=""),
            },
        )
    )
    probes.add(
        KindSpec(
            "runbook_run",
            "a run of a runbook (or one of its steps) reached a status since the fault",
            lambda a: RunbookRunProbe(a["runbook"], a["status"], a["step"]),
            {
                "runbook": Param("str", required=True),
                "status": Param("str", required=True),
                "step": Param("str", default=""),
            },
        )
    )
    probes.add(
        KindSpec(
            "incident",
            "an incident with this alert is open (or resolved), tagged DRILL",
            lambda a: IncidentProbe(a["alertname"], a["status"], a["drill"], a["acknowledged"]),
            {
                "alertname": Param("str", required=True),
                "acknowledged": Param("bool", default=False),
                "status": Param("str", default="open"),
                "drill": Param("bool", default=True),
            },
        )
    )
    probes.add(
        KindSpec(
            "candidate",
            "a version registered since the drill started has this validation status",
            lambda a: CandidateProbe(a["status"], a["discarded"]),
            {
                "status": Param("str", required=True, choices=("passed", "rejected", "pending")),
                "discarded": Param("bool", default=False),
            },
        )
    )
    probes.add(
        KindSpec(
            "updates",
            "scheduled updates of the drill's incidents reached every subscriber",
            lambda a: UpdatesProbe(int(a["slots"]), bool(a["reminded"])),
            {"slots": Param("int", default=1), "reminded": Param("bool", default=False)},
        )
    )
