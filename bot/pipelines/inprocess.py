"""Execute the pipeline's ingest job in this process (Dagster's `execute_in_process`)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from dagster import DagsterInstance

from bot.pipelines.models import FailedStep
from pipelines import INGEST_JOB, defs
from pipelines.resources import BotDatabase, DataFolder


def _root(error: Any) -> str:
    """The innermost cause: the database's own words, not Dagster's wrapper around them."""
    while error is not None and getattr(error, "cause", None) is not None:
        error = error.cause
    return (error.message if error is not None else "").strip()


def execute_ingest(
    *, database_url: str, data_dir: Path, partition: str, timeout_seconds: float | None = None
) -> dict[str, Any] | list[FailedStep]:
    """The validated_rows metadata of a successful run, or the failed steps."""
    job = defs.resolve_job_def(INGEST_JOB)
    run_config: dict[str, Any] = {}
    if timeout_seconds is not None:
        run_config = {"ops": {"validated_rows": {"config": {"timeout_seconds": timeout_seconds}}}}
    with DagsterInstance.ephemeral() as instance:
        result = job.execute_in_process(
            instance=instance,
            partition_key=partition,
            run_config=run_config,
            resources={
                "database": BotDatabase(url=database_url),
                "data": DataFolder(path=str(Path(data_dir).resolve())),
            },
            raise_on_error=False,
        )
        if not result.success:
            return [
                FailedStep(
                    step_key=event.step_key or "", error=_root(event.step_failure_data.error)
                )
                for event in result.get_step_failure_events()
            ]
        for event in result.get_asset_materialization_events():
            mat = event.step_materialization_data.materialization
            if mat.asset_key.to_user_string() == "validated_rows":
                return {k: v.value for k, v in mat.metadata.items()}
    return {}
