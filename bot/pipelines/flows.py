"""What `/iris pipeline ...` does, without Slack: the overview, a run or job, rerun and backfill
with their previews, each refusal a `PipelineRefused(kind, **facts)` for `pipeline_refused.j2`."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from bot.pipelines.freshness import Freshness
from bot.pipelines.models import (
    ACTIVE,
    DONE_OK,
    AssetInfo,
    BackfillInfo,
    FailedStep,
    JobInfo,
    PipelineRefused,
    PipelineRun,
)
from bot.pipelines.monitor import PipelineMonitor
from bot.pipelines.partitions import expand, parse_day
from bot.pipelines.service import PipelineService

MAX_PARALLEL = 8
BACKFILL_MODES = ("only-missing", "failed", "all")


@dataclass(frozen=True)
class JobRow:
    job: JobInfo
    last_run: PipelineRun | None
    assets: list[tuple[AssetInfo, Freshness | None]]


@dataclass(frozen=True)
class Overview:
    jobs: list[JobRow]
    reachable: bool


@dataclass(frozen=True)
class RunDetail:
    run: PipelineRun
    failures: list[FailedStep]
    url: str


@dataclass(frozen=True)
class JobDetail:
    job: JobInfo
    runs: list[PipelineRun]
    missing: list[str]  # partitions never materialized (up to today)
    failed: list[str]


@dataclass(frozen=True)
class RerunPlan:
    run: PipelineRun
    from_failure: bool
    to_run: list[str]
    reused: list[str]
    failures: list[FailedStep] = field(default_factory=list)


@dataclass(frozen=True)
class BackfillPlan:
    job: str
    start: str
    end: str
    mode: str
    partitions: list[str]
    skipped: int
    max_parallel: int


class PipelineFlows:
    def __init__(self, *, pipelines: PipelineService, monitor: PipelineMonitor) -> None:
        self.pipelines = pipelines
        self.monitor = monitor

    async def overview(self) -> Overview:
        """Every job with its last run, every asset with its freshness."""
        jobs = await self.pipelines.jobs()
        runs = await self.pipelines.runs(limit=50)
        assets = {a.key: a for a in await self.pipelines.assets()}
        rows = []
        for job in jobs:
            last = next((r for r in runs if r.job == job.name), None)
            rows.append(
                JobRow(
                    job=job,
                    last_run=last,
                    assets=[
                        (assets[a], self.monitor.freshness.get(a))
                        for a in job.assets
                        if a in assets
                    ],
                )
            )
        return Overview(jobs=rows, reachable=True)

    async def _job(self, name: str) -> JobInfo | None:
        return next((j for j in await self.pipelines.jobs() if j.name == name), None)

    async def _known_jobs(self) -> list[str]:
        return [j.name for j in await self.pipelines.jobs()]

    async def show(self, *, target: str) -> RunDetail | JobDetail:
        """A job by name, or a run by id (or its first 8 characters)."""
        job = await self._job(target)
        if job is not None:
            runs = await self.pipelines.runs(job=job.name, limit=10)
            missing, failed = await self._partitions(job)
            return JobDetail(job=job, runs=runs, missing=missing, failed=failed)
        run = await self.pipelines.run(run_id=target)
        if run is None:
            raise PipelineRefused("unknown_target", target=target, jobs=await self._known_jobs())
        failures = await self.pipelines.failures(run_id=run.run_id) if run.failed else []
        return RunDetail(run=run, failures=failures, url=self.pipelines.run_url(run.run_id))

    async def _partitions(self, job: JobInfo) -> tuple[list[str], list[str]]:
        if not job.partitioned:
            return [], []
        assets = [a for a in await self.pipelines.assets() if a.key in job.assets and a.partitioned]
        if not assets:
            return [], []
        keys = assets[0].partition_keys
        done = frozenset.intersection(*(a.materialized_partitions for a in assets))
        failed = set().union(*(a.failed_partitions for a in assets))
        return [k for k in keys if k not in done], sorted(failed)

    async def plan_rerun(self, *, run_ref: str, from_failure: bool) -> RerunPlan:
        """What a rerun would do; refused for an unknown, running or successful run."""
        run = await self.pipelines.run(run_id=run_ref)
        if run is None:
            raise PipelineRefused("unknown_run", run=run_ref)
        if run.status in ACTIVE:
            raise PipelineRefused("run_active", run=run.short_id, status=run.status)
        if run.status in DONE_OK:
            raise PipelineRefused("rerun_success", run=run.short_id, job=run.job)
        steps = [s.key for s in run.steps]
        if from_failure:
            ok = [s.key for s in run.steps if s.status == "SUCCESS"]
            to_run = [s for s in steps if s not in ok]
            reused = ok
        else:
            to_run, reused = steps, []
        failures = await self.pipelines.failures(run_id=run.run_id)
        return RerunPlan(
            run=run, from_failure=from_failure, to_run=to_run, reused=reused, failures=failures
        )

    async def rerun(self, *, run_id: str, from_failure: bool) -> str:
        """Launch the rerun (checked again: someone may have rerun it meanwhile)."""
        plan = await self.plan_rerun(run_ref=run_id, from_failure=from_failure)
        return await self.pipelines.reexecute(run_id=plan.run.run_id, from_failure=from_failure)

    async def plan_backfill(
        self, *, job: str, start: str, end: str, mode: str, max_parallel: int
    ) -> BackfillPlan:
        """The partitions a backfill would run; refused for bad jobs, ranges and overlaps."""
        info = await self._job(job)
        if info is None:
            raise PipelineRefused("unknown_job", job=job, jobs=await self._known_jobs())
        if not info.partitioned:
            raise PipelineRefused("not_partitioned", job=job)
        first, last = parse_day(start), parse_day(end)
        if first is None or last is None:
            raise PipelineRefused("bad_date", given=start if first is None else end)
        if last < first:
            raise PipelineRefused("range_reversed", start=start, end=end)
        if not 1 <= max_parallel <= MAX_PARALLEL:
            raise PipelineRefused("bad_parallel", given=max_parallel, most=MAX_PARALLEL)
        assets = [
            a for a in await self.pipelines.assets() if a.key in info.assets and a.partitioned
        ]
        keys = assets[0].partition_keys if assets else ()
        wanted = expand(start, end)
        if not keys or wanted[0] not in keys or wanted[-1] not in keys:
            raise PipelineRefused(
                "beyond_partitions", start=start, end=end,
                first=keys[0] if keys else "", last=keys[-1] if keys else "",
            )  # fmt: skip
        missing, failed = await self._partitions(info)
        if mode == "all":
            chosen = wanted
        elif mode == "failed":
            chosen = [p for p in wanted if p in set(failed)]
        else:
            chosen = [p for p in wanted if p in set(missing)]
        if not chosen:
            raise PipelineRefused("nothing_to_backfill", job=job, start=start, end=end, mode=mode)
        running = [
            r for r in await self.pipelines.runs(job=job, limit=200)
            if r.status in ACTIVE and r.partition in set(chosen)
        ]  # fmt: skip
        if running:
            raise PipelineRefused(
                "backfill_overlap",
                job=job,
                backfill=running[0].backfill_id or running[0].short_id,
                overlap=sorted({r.partition for r in running if r.partition}),
            )
        for other in await self.pipelines.active_backfills():
            overlap = sorted(set(other.partitions) & set(chosen))
            if overlap and (not other.job or other.job == job) and not other.finished:
                raise PipelineRefused(
                    "backfill_overlap", job=job, backfill=other.backfill_id, overlap=overlap
                )
        return BackfillPlan(
            job=job, start=start, end=end, mode=mode, partitions=chosen,
            skipped=len(wanted) - len(chosen), max_parallel=max_parallel,
        )  # fmt: skip

    async def backfill(self, plan: BackfillPlan) -> str:
        """Launch a planned backfill (planned again first: another may have started)."""
        fresh = await self.plan_backfill(
            job=plan.job, start=plan.start, end=plan.end, mode=plan.mode,
            max_parallel=plan.max_parallel,
        )  # fmt: skip
        return await self.pipelines.backfill(
            job=fresh.job, partitions=fresh.partitions, max_parallel=fresh.max_parallel
        )

    async def progress(self, *, backfill_id: str) -> BackfillInfo | None:
        return await self.pipelines.backfill_status(backfill_id=backfill_id)

    async def cancel(self, *, backfill_id: str) -> None:
        await self.pipelines.cancel_backfill(backfill_id=backfill_id)


def facts(plan: Any) -> dict[str, Any]:
    """A plan as button value facts (what the Confirm click needs to run it)."""
    if isinstance(plan, BackfillPlan):
        return {
            "job": plan.job,
            "start": plan.start,
            "end": plan.end,
            "mode": plan.mode,
            "n": plan.max_parallel,
        }
    return {"run": plan.run.run_id, "ff": plan.from_failure}
