"""Real faults in the pipeline's ingest job (executed in process: the same job Dagster runs):
a source folder that disappears, a database that refuses writes, a step that times out. (A
landing file that breaks the parser fails the run on the real Dagster: test_pipeline_e2e.py.)"""

from __future__ import annotations

import shutil
from pathlib import Path

from bot.db.migrate import upgrade_to_head
from bot.pipelines.inprocess import execute_ingest
from bot.pipelines.models import FailedStep

DAY = "2026-11-20"
HEADER = "sepal_length,sepal_width,petal_length,petal_width,species\n"


def world(tmp_path: Path, rows: int = 2) -> tuple[str, Path]:
    url = f"sqlite:///{tmp_path / 'oncall.db'}"
    upgrade_to_head(url)
    folder = tmp_path / "landing" / DAY
    folder.mkdir(parents=True)
    (folder / "day.csv").write_text(HEADER + "5.1,3.5,1.4,0.2,setosa\n" * rows)
    return url, tmp_path


def failed(result: object) -> FailedStep:
    assert isinstance(result, list) and result, result
    return result[0]


def test_the_job_ingests_a_day_and_a_vanished_folder_fails_the_first_step(tmp_path: Path) -> None:
    url, data = world(tmp_path)
    ok = execute_ingest(database_url=url, data_dir=data, partition=DAY)
    assert isinstance(ok, dict) and ok["rows_added"] == 2 and ok["new_records"] == 2
    again = execute_ingest(database_url=url, data_dir=data, partition=DAY)
    assert isinstance(again, dict) and again["new_records"] == 0  # succeeded, nothing new

    shutil.rmtree(data / "landing")
    step = failed(execute_ingest(database_url=url, data_dir=data, partition=DAY))
    assert step.step_key == "landing_files" and "is gone" in step.error


def test_a_database_that_refuses_writes_fails_validation(tmp_path: Path, postgres_url: str) -> None:
    # PostgreSQL in read-only mode (as a replica, or a primary after failover, answers).
    _, data = world(tmp_path)
    upgrade_to_head(postgres_url)
    read_only = f"{postgres_url}?options=-c%20default_transaction_read_only%3Don"
    step = failed(execute_ingest(database_url=read_only, data_dir=data, partition=DAY))
    assert step.step_key == "validated_rows" and "read-only transaction" in step.error


def test_a_step_that_runs_past_its_timeout_fails(tmp_path: Path) -> None:
    url, data = world(tmp_path, rows=50_000)
    step = failed(
        execute_ingest(database_url=url, data_dir=data, partition=DAY, timeout_seconds=0.001)
    )
    assert step.step_key == "validated_rows" and "timed out" in step.error
