"""The pipeline monitor: failures (pushed and polled), freshness, and their one incident per job.

A failure arrives twice over: Dagster's run-failure sensor posts it (`on_push`) and `check`
polls the run list, so a missed push is found within one poll interval. Both deliver the same
notification, which the alert intake applies once. An incident resolves on its own when the
job's newest run succeeded and its assets are no longer stale.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

from bot.alerts.intake import AlertSink, DeliveryResult
from bot.db import utcnow
from bot.messages import TemplateRenderer
from bot.pipelines import freshness as fr
from bot.pipelines.alerts import FAILED, STALE, pipeline_payload
from bot.pipelines.models import AssetInfo, EngineUnavailable, FailedStep, PipelineRun
from bot.pipelines.service import PipelineService

log = logging.getLogger(__name__)

# The assets a retrain reads, and those the monitors judge.
TRAINING_ASSETS = ("landing_files", "validated_rows", "training_set")
MONITORING_ASSETS = ("served_inputs", "monitoring_window")


class IncidentCloser(Protocol):
    async def resolve(self, *, incident_id: int, actor: str | None, summary: str = "") -> bool: ...

    async def record(
        self,
        *,
        incident_id: int,
        kind: str,
        actor: str | None = None,
        text: str = "",
        data: dict[str, Any] | None = None,
    ) -> int: ...


@dataclass
class JobProblem:
    """What is wrong with one job now: failed runs by partition, stale assets."""

    failures: dict[str, tuple[PipelineRun, list[FailedStep]]] = field(default_factory=dict)
    stale: dict[str, fr.Freshness] = field(default_factory=dict)
    incident_id: int | None = None

    @property
    def open(self) -> bool:
        return bool(self.failures or self.stale)


class PipelineMonitor:
    def __init__(
        self,
        *,
        pipelines: PipelineService,
        sink: AlertSink,
        incidents: IncidentCloser,
        renderer: TemplateRenderer,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self.pipelines = pipelines
        self.sink = sink
        self.incidents = incidents
        self.renderer = renderer
        self.clock = clock
        self.freshness: dict[str, fr.Freshness] = {}
        self.reachable: bool | None = None
        self.problems: dict[str, JobProblem] = {}
        self.assets: dict[str, AssetInfo] = {}
        self.checked_at: datetime | None = None
        self._lock = asyncio.Lock()
        self.pushed = 0

    # --- what other domains ask ------------------------------------------------------------
    def retrain_hold(self) -> dict[str, Any] | None:
        """Why a retrain must wait (training data stale or its job failed), or None."""
        # An asset that never brought data is new, not late: it holds nothing (as it opens nothing).
        known = [self.freshness[a] for a in TRAINING_ASSETS if a in self.freshness]
        stale = [f for f in known if f.state == fr.STALE and f.last_new_at is not None]
        failed = [
            (job, run, steps)
            for job, problem in self.problems.items()
            for run, steps in problem.failures.values()
            if any(a in TRAINING_ASSETS for a in self._assets_of(job))
        ]
        if not stale and not failed:
            return None
        return {"stale": stale, "failed": failed}

    def window_stale(self) -> bool:
        """Whether the monitors are judging an old window of served inputs."""
        return any(
            self.freshness.get(a) is not None and self.freshness[a].state == fr.STALE
            for a in MONITORING_ASSETS
        )

    def _assets_of(self, job: str) -> list[str]:
        return [k for k, a in self.assets.items() if job in a.jobs]

    # --- detection -------------------------------------------------------------------------
    async def on_push(self, *, pushed: PipelineRun, steps: list[FailedStep]) -> DeliveryResult:
        """A failure the engine pushed: confirmed with the engine when it answers, then opened
        or updated (the same notification the poll would send, so a repeat changes nothing)."""
        self.pushed += 1
        async with self._lock:
            run = pushed
            try:
                if not self.assets:  # the impact names the job's assets and what they feed
                    self.assets = {a.key: a for a in await self.pipelines.assets()}
                run = await self.pipelines.run(run_id=pushed.run_id) or pushed
                if not steps:
                    steps = await self.pipelines.failures(run_id=pushed.run_id)
            except EngineUnavailable:
                pass  # the push itself says enough to open the incident
            return await self._failed(run, steps)

    async def check(self) -> None:
        """Poll the engine: failed runs not yet known, recoveries, freshness of every asset."""
        async with self._lock:
            try:
                runs = await self.pipelines.runs(limit=100)
                assets = await self.pipelines.assets()
            except EngineUnavailable as exc:
                if self.reachable is not False:
                    log.warning("pipeline engine not answering: %s", exc)
                self.reachable = False
                self.freshness = {k: fr.unknown(k, v) for k, v in self.freshness.items()}
                return
            self.reachable = True
            now = self.clock()
            self.checked_at = now
            self.assets = {a.key: a for a in assets}
            latest: dict[tuple[str, str | None], PipelineRun] = {}
            for run in runs:  # newest first
                if run.finished:
                    latest.setdefault((run.job, run.partition), run)
            for (job, partition), run in latest.items():
                known = self.problems.get(job)
                if run.failed:
                    already = known is not None and known.failures.get(partition or "")
                    if not already or already[0].run_id != run.run_id:
                        await self._failed(run, await self.pipelines.failures(run_id=run.run_id))
                elif known is not None and (partition or "") in known.failures:
                    await self._run_recovered(job, partition or "", run)
            for asset in assets:
                before = self.freshness.get(asset.key)
                self.freshness[asset.key] = fr.judge(
                    asset, now=now, previous=before.state if before else None
                )
            for asset in assets:
                await self._judge_staleness(asset, now)
            for job in list(self.problems):
                await self._maybe_close(job)

    # --- incidents -------------------------------------------------------------------------
    def _text(self, part: str, **facts: Any) -> str:
        return self.renderer.render("pipeline_alert", part=part, **facts).text

    def _impact(self, job: str) -> dict[str, Any]:
        assets = self._assets_of(job)
        downstream = sorted({d for a in assets for d in self.assets[a].downstream} - set(assets))
        return {
            "retrains_held": any(a in TRAINING_ASSETS for a in assets),
            "monitoring_old": any(a in MONITORING_ASSETS for a in assets),
            "downstream": downstream,
        }

    def _last_good(self, job: str) -> datetime | None:
        times = [self.assets[a].last.at for a in self._assets_of(job) if self.assets[a].last]
        return max(times) if times else None

    async def _failed(self, run: PipelineRun, steps: list[FailedStep]) -> DeliveryResult:
        problem = self.problems.setdefault(run.job, JobProblem())
        problem.failures[run.partition or ""] = (run, steps)
        facts = {
            "job": run.job,
            "run": run,
            "steps": steps,
            "url": self.pipelines.run_url(run.run_id),
            "last_good": self._last_good(run.job),
            "impact": self._impact(run.job),
        }
        payload = pipeline_payload(
            alertname=FAILED,
            job=run.job,
            partition=run.partition,
            status="firing",
            starts_at=run.ended_at or self.clock(),
            summary=self._text("failed_summary", **facts),
            description=self._text("failed_description", **facts),
            generator_url=facts["url"],
        )
        result = await self.sink.deliver(payload)
        if result.incident_id is not None:
            problem.incident_id = result.incident_id
        return result

    async def _run_recovered(self, job: str, partition: str, run: PipelineRun) -> None:
        problem = self.problems[job]
        failed, _ = problem.failures.pop(partition)
        facts = {
            "job": job,
            "run": run,
            "failed_run": failed,
            "url": self.pipelines.run_url(run.run_id),
        }
        payload = pipeline_payload(
            alertname=FAILED,
            job=job,
            partition=failed.partition,
            status="resolved",
            starts_at=failed.ended_at or self.clock(),
            ends_at=run.ended_at or self.clock(),
            summary=self._text("recovered_summary", **facts),
            description=self._text("recovered_description", **facts),
            generator_url=facts["url"],
        )
        await self.sink.deliver(payload)
        if problem.incident_id is not None:
            await self.incidents.record(
                incident_id=problem.incident_id,
                kind="pipeline",
                text=self._text("rerun_result", **facts),
                data={"run_id": run.run_id, "status": run.status},
            )

    async def _judge_staleness(self, asset: AssetInfo, now: datetime) -> None:
        verdict = self.freshness[asset.key]
        for job in asset.jobs:
            problem = self.problems.get(job)
            was_stale = problem is not None and asset.key in problem.stale
            # An asset that never brought data is new, not late: it opens nothing.
            if verdict.state == fr.STALE and not was_stale and verdict.last_new_at is not None:
                problem = self.problems.setdefault(job, JobProblem())
                problem.stale[asset.key] = verdict
                facts = {"job": job, "asset": verdict, "impact": self._impact(job)}
                result = await self.sink.deliver(
                    pipeline_payload(
                        alertname=STALE,
                        job=job,
                        status="firing",
                        starts_at=now,
                        summary=self._text("stale_summary", **facts),
                        description=self._text("stale_description", **facts),
                    )
                )
                if result.incident_id is not None:
                    problem.incident_id = result.incident_id
            elif verdict.state != fr.STALE and was_stale and problem is not None:
                problem.stale.pop(asset.key)
                facts = {"job": job, "asset": verdict, "impact": self._impact(job)}
                await self.sink.deliver(
                    pipeline_payload(
                        alertname=STALE,
                        job=job,
                        status="resolved",
                        starts_at=now,
                        ends_at=now,
                        summary=self._text("fresh_summary", **facts),
                        description=self._text("fresh_description", **facts),
                    )
                )

    async def _maybe_close(self, job: str) -> None:
        problem = self.problems.get(job)
        if problem is None or problem.open:
            return
        # A rerun succeeded and nothing of the job is stale: the incident is over.
        stale_now = [
            a
            for a in self._assets_of(job)
            if self.freshness.get(a) and self.freshness[a].state == fr.STALE
        ]
        if stale_now:
            return
        del self.problems[job]
        if problem.incident_id is not None:
            await self.incidents.resolve(
                incident_id=problem.incident_id,
                actor=None,
                summary=self._text("resolved_summary", job=job),
            )
