"""Ingestion runs the pipeline's job: `/iris data ingest` and the retrain's ingest step call here.

There is one ingestion code path, the `ingest_landing` Dagster job (pipelines/assets.py), which
validates through bot/data/ingest.py. With a Dagster to talk to, the bot launches the job there
and waits; a bot with no Dagster (a library user, a test) executes the same job in process.
"""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol

from bot.data.schemas import IngestReport
from bot.pipelines.models import EngineUnavailable, FailedStep, PipelineRun
from bot.pipelines.service import PipelineService

INGEST_JOB = "ingest_landing"
VALIDATED = "validated_rows"


class IngestFailed(Exception):
    """The ingest run failed: which run and which steps."""

    def __init__(self, run: PipelineRun | None, steps: list[FailedStep], url: str = "") -> None:
        super().__init__(steps[0].error if steps else "the ingest run failed")
        self.run = run
        self.steps = steps
        self.url = url


class Ingestor(Protocol):
    async def ingest(self, *, partition: str | None = None) -> IngestReport: ...


def today() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%d")


def report_from(metadata: dict[str, Any], seconds: float) -> IngestReport:
    return IngestReport(
        files=list(metadata.get("files") or []),
        skipped=[],
        rows_added=int(metadata.get("rows_added") or 0),
        rows_quarantined=int(metadata.get("rows_quarantined") or 0),
        reasons=dict(metadata.get("reasons") or {}),
        examples=[],
        seconds=round(seconds, 3),
    )


async def wait_for_run(
    pipelines: PipelineService, run_id: str, *, timeout: float, poll: float = 0.5
) -> PipelineRun:
    """Poll until the run finishes; EngineUnavailable when it does not within `timeout`."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            run = await pipelines.run(run_id=run_id)
        except EngineUnavailable:
            run = None  # a busy or restarting engine: ask again until the deadline
        if run is not None and run.finished:
            return run
        if time.monotonic() > deadline:
            raise EngineUnavailable("run_timeout", run=run_id, seconds=timeout)
        await asyncio.sleep(poll)


class DagsterIngest:
    """Launch `ingest_landing` for a day's partition on Dagster and wait for it."""

    def __init__(self, pipelines: PipelineService, *, timeout: float = 900.0) -> None:
        self.pipelines = pipelines
        self.timeout = timeout

    async def ingest(self, *, partition: str | None = None) -> IngestReport:
        start = time.perf_counter()
        run_id = await self.pipelines.launch(job=INGEST_JOB, partition=partition or today())
        run = await wait_for_run(self.pipelines, run_id, timeout=self.timeout)
        if run.failed:
            steps = await self.pipelines.failures(run_id=run_id)
            raise IngestFailed(run, steps, self.pipelines.run_url(run_id))
        metadata = await self.pipelines.materialization_metadata(run_id=run_id, asset=VALIDATED)
        return report_from(metadata, time.perf_counter() - start)


class InProcessIngest:
    """The same job executed in this process (no Dagster server): for a bot without one."""

    def __init__(self, *, database_url: str, data_dir: Path) -> None:
        self.database_url = database_url
        self.data_dir = data_dir

    async def ingest(self, *, partition: str | None = None) -> IngestReport:
        start = time.perf_counter()
        metadata = await asyncio.to_thread(self._execute, partition or today())
        return report_from(metadata, time.perf_counter() - start)

    def _execute(self, partition: str) -> dict[str, Any]:
        # Dagster takes seconds to import: only a bot that ingests without a Dagster server
        # pays for it, and only on its first ingestion.
        from bot.pipelines.inprocess import execute_ingest

        result = execute_ingest(
            database_url=self.database_url, data_dir=self.data_dir, partition=partition
        )
        if isinstance(result, list):
            raise IngestFailed(None, result)
        return result
