"""The pipeline domain as the composition root hands it out: engine, monitor, flows, ingestion."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from bot.alerts.intake import AlertSink
from bot.db import utcnow
from bot.messages import TemplateRenderer
from bot.pipelines.dagster_backend import DagsterPipelines
from bot.pipelines.flows import PipelineFlows
from bot.pipelines.ingest import DagsterIngest, Ingestor, InProcessIngest
from bot.pipelines.monitor import IncidentCloser, PipelineMonitor
from bot.pipelines.service import PipelineService

# How long the bot waits for one answer from a Dagster that accepted the connection (a busy
# webserver launching runs takes seconds); one that is down fails within the 1 s connect timeout.
DAGSTER_TIMEOUT = 20.0


@dataclass
class Pipelines:
    service: PipelineService
    monitor: PipelineMonitor
    flows: PipelineFlows
    ingestor: Ingestor
    ui_url: str | None  # the engine's own UI, for links (None: no engine configured)

    async def aclose(self) -> None:
        await self.service.aclose()


def pipeline_engine(*, dagster_url: str | None, timeout: float) -> DagsterPipelines:
    """The engine backend: Dagster at `dagster_url`, or one that says no engine is configured."""
    return DagsterPipelines(dagster_url, timeout=timeout)


def make_ingestor(
    *, service: PipelineService, dagster_url: str | None, database_url: str, data_dir: Path
) -> Ingestor:
    """With Dagster, ingestion launches its job there; without, the same job runs in process."""
    if dagster_url:
        return DagsterIngest(service)
    return InProcessIngest(database_url=database_url, data_dir=data_dir)


def build_pipelines(
    *,
    service: PipelineService,
    ingestor: Ingestor,
    ui_url: str | None,
    sink: AlertSink,
    incidents: IncidentCloser,
    renderer: TemplateRenderer,
    clock: Callable[[], datetime] = utcnow,
) -> Pipelines:
    """The monitor and flows over the engine."""
    monitor = PipelineMonitor(
        pipelines=service, sink=sink, incidents=incidents, renderer=renderer, clock=clock
    )
    return Pipelines(
        service=service,
        monitor=monitor,
        flows=PipelineFlows(pipelines=service, monitor=monitor),
        ingestor=ingestor,
        ui_url=ui_url,
    )
