"""`PipelineService`: what the bot needs from a pipeline engine, whatever the engine.

The Dagster backend (`bot/pipelines/dagster_backend.py`) is the first; an Airflow one (its REST
API: clear task instances, backfills) would be one more module implementing this protocol.
Every method raises `EngineUnavailable` when the engine does not answer and `PipelineRefused`
when it refuses the request.
"""

from __future__ import annotations

from typing import Any, Protocol

from bot.pipelines.models import AssetInfo, BackfillInfo, FailedStep, JobInfo, PipelineRun


class PipelineService(Protocol):
    async def jobs(self) -> list[JobInfo]:
        """The pipeline's jobs."""
        ...

    async def assets(self) -> list[AssetInfo]:
        """Every asset with its freshness SLA and recent materializations."""
        ...

    async def runs(self, *, job: str | None = None, limit: int = 20) -> list[PipelineRun]:
        """The newest runs, newest first."""
        ...

    async def run(self, *, run_id: str) -> PipelineRun | None:
        """One run by id or unique id prefix; None when there is none."""
        ...

    async def failures(self, *, run_id: str) -> list[FailedStep]:
        """The failed steps of a run with their error messages."""
        ...

    async def launch(self, *, job: str, partition: str | None = None) -> str:
        """Start a run of a job (of one partition); returns the run id."""
        ...

    async def reexecute(self, *, run_id: str, from_failure: bool) -> str:
        """Rerun a finished run, from its failed steps or whole; returns the new run id."""
        ...

    async def terminate(self, *, run_id: str) -> None:
        """Stop a queued or running run."""
        ...

    async def backfill(self, *, job: str, partitions: list[str], max_parallel: int) -> str:
        """Start one run per partition, at most max_parallel at once; returns the backfill id."""
        ...

    async def backfill_status(self, *, backfill_id: str) -> BackfillInfo | None:
        """A backfill's runs per partition."""
        ...

    async def active_backfills(self) -> list[BackfillInfo]:
        """Backfills still running."""
        ...

    async def cancel_backfill(self, *, backfill_id: str) -> None:
        """Stop a backfill: no new runs, its queued runs withdrawn."""
        ...

    async def materialization_metadata(self, *, run_id: str, asset: str) -> dict[str, Any]:
        """What a run's materialization of an asset reported (rows added, quarantined, ...)."""
        ...

    def run_url(self, run_id: str) -> str:
        """The engine's own page of a run (the log link)."""
        ...

    async def aclose(self) -> None: ...
