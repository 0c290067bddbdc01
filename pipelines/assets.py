"""The Iris data pipeline as Dagster assets.

    landing_files (daily) -> validated_rows (daily) -> training_set
    served_inputs -> monitoring_window

Validation and quarantine are the bot's own ingestion (`bot/data/ingest.py`), called here: there
is one ingestion code path, and the bot reaches it by launching these assets' jobs. Every
materialization says how many new records it brought (`new_records`), which is what the bot's
freshness clock counts.
"""

import csv
import hashlib
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from datetime import UTC, datetime, timedelta
from pathlib import Path

from dagster import (
    AssetExecutionContext,
    AssetKey,
    Config,
    DailyPartitionsDefinition,
    Failure,
    MaterializeResult,
    MetadataValue,
    asset,
)
from sqlalchemy import func, select

from bot.data.dataset import training_set as build_training_set
from bot.data.ingest import file_problem, ingest_landing, landing_paths
from bot.data.schemas import IngestReport
from bot.db import Database
from bot.serving.models import ServedPrediction
from bot.serving.recorder import recent_served
from pipelines import freshness
from pipelines.resources import BotDatabase, DataFolder
from pipelines.settings import PARTITIONS_START

DAILY = DailyPartitionsDefinition(start_date=PARTITIONS_START, end_offset=1, timezone="UTC")
GROUP = "iris"
MONITORING_WINDOW = timedelta(hours=1)


def _today() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%d")


def _folders(data: DataFolder, partition: str) -> list[Path]:
    """A day's folder, plus the undated landing folder for today's partition (legacy drops)."""
    folders = [data.day(partition)]
    if partition == _today():
        folders.append(data.landing)
    return folders


@asset(
    partitions_def=DAILY,
    group_name=GROUP,
    metadata=freshness.LANDING.metadata(),
    description="The day's landing files (landing/<date>/), listed with their sizes.",
)
def landing_files(context: AssetExecutionContext, data: DataFolder) -> list[str]:
    if not data.landing.is_dir():
        raise Failure(
            description=f"the landing folder {data.landing} is gone",
            metadata={"folder": str(data.landing)},
        )
    partition = context.partition_key
    paths = [p for folder in _folders(data, partition) for p in landing_paths(folder)]
    names = [str(p) for p in paths]
    context.add_output_metadata(
        {
            "new_records": len(paths),
            "files": MetadataValue.json([p.name for p in paths]),
            "bytes": sum(p.stat().st_size for p in paths),
        }
    )
    return names


class ValidateConfig(Config):
    # A step that hangs (a stuck disk, a lock) fails after this long instead of holding the run.
    timeout_seconds: float = 600.0


@asset(
    partitions_def=DAILY,
    group_name=GROUP,
    metadata=freshness.VALIDATED.metadata(),
    description="Rows of the day's files validated into samples; bad rows quarantined with reasons.",
)
def validated_rows(
    context: AssetExecutionContext,
    config: ValidateConfig,
    database: BotDatabase,
    data: DataFolder,
    landing_files: list[str],
) -> MaterializeResult:

    # A file the parser cannot read at all stops the run before anything is written, so the
    # fixed file is ingested whole by the rerun.
    for name in landing_files:
        path = Path(name)
        problem = file_problem(path) if path.exists() else None
        if problem is not None:
            raise Failure(
                description=f"landing file {problem.message}",
                metadata={"file": path.name, "category": problem.category},
            )
    db = database.open()
    folders = _folders(data, context.partition_key)
    pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="validate")
    try:
        future = pool.submit(_ingest_all, db, folders)
        try:
            reports = future.result(timeout=config.timeout_seconds)
        except FutureTimeout:
            raise Failure(
                description=f"validation timed out after {config.timeout_seconds:g} s"
            ) from None
    finally:
        pool.shutdown(wait=False, cancel_futures=True)
    added = sum(r.rows_added for r in reports)
    quarantined = sum(r.rows_quarantined for r in reports)
    reasons: dict[str, int] = {}
    for report in reports:
        for reason, count in report.reasons.items():
            reasons[reason] = reasons.get(reason, 0) + count
    return MaterializeResult(
        metadata={
            "new_records": added + quarantined,
            "rows_added": added,
            "rows_quarantined": quarantined,
            "reasons": MetadataValue.json(reasons),
            "files": MetadataValue.json([f for r in reports for f in r.files]),
        }
    )


def _ingest_all(db: Database, folders: list[Path]) -> list[IngestReport]:
    try:
        # Dated folders keep their files (the partition can be re-read); undated drops are
        # archived to processed/ as the bot always did.
        return [
            ingest_landing(db, landing_dir=folder, archive=i > 0)
            for i, folder in enumerate(folders)
            if folder.is_dir()
        ]
    finally:
        db.dispose()


def _previous(context: AssetExecutionContext, key: str, field: str) -> str | None:
    event = context.instance.get_latest_materialization_event(AssetKey(key))
    if event is None or event.asset_materialization is None:
        return None
    value = event.asset_materialization.metadata.get(field)
    return None if value is None else str(value.value)


@asset(
    deps=[validated_rows],
    group_name=GROUP,
    metadata=freshness.TRAINING_SET.metadata(),
    description="A snapshot of the training set (base Iris + collected rows) the next retrain uses.",
)
def training_set(context: AssetExecutionContext, database: BotDatabase, data: DataFolder):
    db = database.open()
    try:
        snapshot = build_training_set(db)
    finally:
        db.dispose()
    data.training.mkdir(parents=True, exist_ok=True)
    path = data.training / f"snapshot-{snapshot.data_hash[:12]}.csv"
    if not path.exists():
        tmp = path.with_suffix(".tmp")
        with tmp.open("w", newline="") as fh:
            writer = csv.writer(fh)
            for row, label in zip(snapshot.X.tolist(), snapshot.y.tolist(), strict=True):
                writer.writerow([*row, label])
        tmp.replace(path)
    changed = _previous(context, "training_set", "data_hash") != snapshot.data_hash
    return MaterializeResult(
        metadata={
            "new_records": len(snapshot.y) if changed else 0,
            "rows": len(snapshot.y),
            "data_hash": snapshot.data_hash,
            "path": str(path),
        }
    )


@asset(
    group_name=GROUP,
    metadata=freshness.SERVED_INPUTS.metadata(),
    description="Inputs the model server recorded since the last materialization.",
)
def served_inputs(context: AssetExecutionContext, database: BotDatabase) -> MaterializeResult:
    db = database.open()
    table = ServedPrediction.__table__
    try:
        with db.engine.connect() as conn:
            last_id = int(conn.scalar(select(func.max(table.c.id))) or 0)
    finally:
        db.dispose()
    previous = int(_previous(context, "served_inputs", "last_id") or 0)
    return MaterializeResult(
        metadata={"new_records": max(0, last_id - previous), "last_id": last_id}
    )


@asset(
    deps=[served_inputs],
    group_name=GROUP,
    metadata=freshness.MONITORING_WINDOW.metadata(),
    description="The window of served inputs the monitors judge (the last hour).",
)
def monitoring_window(database: BotDatabase) -> MaterializeResult:
    db = database.open()
    start = datetime.now(UTC) - MONITORING_WINDOW
    try:
        with db.session() as session:
            records = recent_served(session, since=start, limit=100_000)
    finally:
        db.dispose()
    digest = hashlib.sha256("".join(r.prediction_id for r in records).encode()).hexdigest()
    return MaterializeResult(
        metadata={
            "new_records": len(records),
            "window_start": start.isoformat(timespec="seconds"),
            "window_hash": digest[:16],
        }
    )
