"""The Iris data pipeline on Dagster: assets, jobs, schedules and the failure sensor.

Load it with `dagster-webserver -m pipelines` / `dagster-daemon run -m pipelines`; the bot only
ever talks to it over Dagster's GraphQL API (bot/pipelines/dagster_backend.py).
"""

from __future__ import annotations

from dagster import (
    AssetSelection,
    DefaultScheduleStatus,
    Definitions,
    ScheduleDefinition,
    build_schedule_from_partitioned_job,
    define_asset_job,
    in_process_executor,
)

from pipelines.assets import (
    landing_files,
    monitoring_window,
    served_inputs,
    training_set,
    validated_rows,
)
from pipelines.resources import BotDatabase, DataFolder
from pipelines.sensors import notify_bot_of_failure
from pipelines.settings import SCHEDULES_ON

INGEST_JOB = "ingest_landing"
TRAINING_JOB = "training_set_snapshot"
MONITORING_JOB = "monitoring_refresh"

ingest_job = define_asset_job(
    INGEST_JOB,
    selection=AssetSelection.assets(landing_files, validated_rows),
    description="A day's landing files, validated into samples (bad rows quarantined).",
)
training_job = define_asset_job(
    TRAINING_JOB,
    selection=AssetSelection.assets(training_set),
    description="Snapshot the training set from the validated rows.",
)
monitoring_job = define_asset_job(
    MONITORING_JOB,
    selection=AssetSelection.assets(served_inputs, monitoring_window),
    description="Collect served inputs into the monitoring window.",
)

_status = DefaultScheduleStatus.RUNNING if SCHEDULES_ON else DefaultScheduleStatus.STOPPED

defs = Definitions(
    assets=[landing_files, validated_rows, training_set, served_inputs, monitoring_window],
    jobs=[ingest_job, training_job, monitoring_job],
    schedules=[
        build_schedule_from_partitioned_job(
            ingest_job, hour_of_day=1, minute_of_hour=0, default_status=_status
        ),
        ScheduleDefinition(job=monitoring_job, cron_schedule="0 * * * *", default_status=_status),
    ],
    sensors=[notify_bot_of_failure],
    # Steps share one process: the run pays Python's start-up once, not once per step.
    executor=in_process_executor,
    resources={"database": BotDatabase(), "data": DataFolder()},
)
