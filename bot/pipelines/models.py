"""Plain values of the pipeline domain: runs, steps, assets, backfills, and refusals."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from bot import engine_outage

# Dagster's run statuses, grouped the way the bot reads them.
DONE_OK = frozenset({"SUCCESS"})
DONE_BAD = frozenset({"FAILURE", "CANCELED"})
ACTIVE = frozenset({"QUEUED", "NOT_STARTED", "STARTING", "STARTED", "CANCELING", "MANAGED"})


class EngineUnavailable(engine_outage.EngineUnavailable):
    """The pipeline engine did not answer (down, unreachable, or too slow)."""


class PipelineRefused(Exception):
    """A request the engine or the bot refuses; renders `pipeline_refused.j2` with its facts."""

    def __init__(self, kind: str, **facts: Any) -> None:
        super().__init__(kind)
        self.kind = kind
        self.facts = facts


@dataclass(frozen=True)
class StepInfo:
    key: str
    status: str
    seconds: float | None


@dataclass(frozen=True)
class FailedStep:
    step_key: str
    error: str


@dataclass(frozen=True)
class PipelineRun:
    run_id: str
    job: str
    status: str
    started_at: datetime | None
    ended_at: datetime | None
    partition: str | None = None
    parent_run_id: str | None = None
    backfill_id: str | None = None
    steps: tuple[StepInfo, ...] = ()

    @property
    def short_id(self) -> str:
        return self.run_id[:8]

    @property
    def finished(self) -> bool:
        return self.status in DONE_OK or self.status in DONE_BAD

    @property
    def failed(self) -> bool:
        return self.status in DONE_BAD


@dataclass(frozen=True)
class Materialization:
    run_id: str
    at: datetime
    partition: str | None
    new_records: int


@dataclass(frozen=True)
class AssetInfo:
    key: str
    jobs: tuple[str, ...]
    partitioned: bool
    warn_seconds: int | None
    fail_seconds: int | None
    downstream: tuple[str, ...] = ()
    materializations: tuple[Materialization, ...] = ()  # newest first
    materialized_partitions: frozenset[str] = frozenset()
    failed_partitions: frozenset[str] = frozenset()
    partition_keys: tuple[str, ...] = ()  # every partition the asset has, oldest first

    @property
    def last(self) -> Materialization | None:
        return self.materializations[0] if self.materializations else None

    @property
    def last_new(self) -> Materialization | None:
        """The newest materialization that brought new records: what freshness counts."""
        return next((m for m in self.materializations if m.new_records > 0), None)


@dataclass(frozen=True)
class JobInfo:
    name: str
    partitioned: bool
    assets: tuple[str, ...] = ()


@dataclass(frozen=True)
class BackfillInfo:
    backfill_id: str
    job: str
    status: str  # Dagster's: REQUESTED, COMPLETED, FAILED, CANCELING, CANCELED, ...
    partitions: tuple[str, ...]
    run_status: dict[str, str] = field(default_factory=dict)  # partition -> run status

    @property
    def done(self) -> int:
        return sum(1 for s in self.run_status.values() if s in DONE_OK or s in DONE_BAD)

    @property
    def failed(self) -> int:
        return sum(1 for s in self.run_status.values() if s in DONE_BAD)

    @property
    def finished(self) -> bool:
        over = self.status in ("COMPLETED", "FAILED", "CANCELED", "COMPLETED_SUCCESS",
                               "COMPLETED_FAILED")  # fmt: skip
        return over and not any(s in ACTIVE for s in self.run_status.values())
