"""One real Dagster (webserver + daemon) for the whole test session, on a random port with its
own DAGSTER_HOME, over one data folder and database that the pipeline tests' bots share."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from bot.db.migrate import upgrade_to_head
from bot.pipelines.embedded import EmbeddedDagster
from tests.harness import BotHarness, start_harness

TOKEN = "pipeline-test-token"
START_DAYS_AGO = 30


@dataclass
class PipelineWorld:
    dagster: EmbeddedDagster
    data_dir: Path
    database_url: str

    @property
    def landing(self) -> Path:
        return self.data_dir / "landing"

    def day(self, days_ago: int) -> str:
        return (datetime.now(UTC) - timedelta(days=days_ago)).strftime("%Y-%m-%d")


@pytest.fixture(scope="session")
def pipeline_world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PipelineWorld]:
    root = tmp_path_factory.mktemp("pipeline-world")
    data_dir = root / "var"
    data_dir.mkdir()
    database_url = f"sqlite:///{(data_dir / 'oncall.db').resolve()}"
    upgrade_to_head(database_url)
    dagster = EmbeddedDagster(
        home=root / "dagster-home",
        data_dir=data_dir,
        database_url=database_url,
        daemon_interval=1.0,  # backfills and the failure sensor within a second
        schedules=False,  # the tests launch every run themselves
        runs_in_daemon=True,  # no Python start-up per run: the session stays within its budget
        partitions_start=(datetime.now(UTC) - timedelta(days=START_DAYS_AGO)).strftime("%Y-%m-%d"),
    )
    dagster.start()
    try:
        assert dagster.wait_ready(timeout=180), (
            (root / "dagster-home").joinpath("dagster-webserver.log").read_text()[-3000:]
        )
        yield PipelineWorld(dagster=dagster, data_dir=data_dir, database_url=database_url)
    finally:
        dagster.stop()


@pytest.fixture
async def pipeline_bot(tmp_path: Path, pipeline_world: PipelineWorld) -> AsyncIterator[BotHarness]:
    """A bot on the session's data folder and Dagster, its failure endpoint registered."""
    harness = await start_harness(
        tmp_path,
        oncall_data_dir=pipeline_world.data_dir,
        dagster_url=pipeline_world.dagster.url,
        pipeline_webhook_token=TOKEN,
        pipeline_poll_seconds=0,  # the tests poll when they mean to (monitor.check)
        ingest_interval_seconds=0,
        incident_quiet_minutes=1,
    )
    pipeline_world.dagster.register_bot(url=f"{harness.url}/pipelines/dagster", token=TOKEN)
    try:
        yield harness
    finally:
        await harness.stop()
