"""Update jobs an older bot stored (under the incidents package's module path) still load."""

from __future__ import annotations

import pickle
from datetime import UTC, datetime

from alembic import command
from apscheduler.jobstores.sqlalchemy import SQLAlchemyJobStore
from apscheduler.schedulers.background import BackgroundScheduler
from sqlalchemy import create_engine, text

from bot.db.migrate import alembic_config, upgrade_to_head
from bot.scheduling import JOBS_TABLE
from bot.updates.scheduled import SchedulerUpdateClock, job_id, send_due_updates


def stored_func(url: str, incident_id: int) -> str:
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            blob = conn.execute(
                text(f"SELECT job_state FROM {JOBS_TABLE} WHERE id = :id"),
                {"id": job_id(incident_id)},
            ).scalar_one()
    finally:
        engine.dispose()
    return str(pickle.loads(blob)["func"])


def test_an_update_job_stored_under_the_old_module_path_loads_after_the_upgrade(
    db_url: str,
) -> None:
    upgrade_to_head(db_url)
    engine = create_engine(db_url)
    scheduler = BackgroundScheduler(
        jobstores={"default": SQLAlchemyJobStore(engine=engine, tablename=JOBS_TABLE)},
        timezone="UTC",
    )
    scheduler.start(paused=True)
    try:
        SchedulerUpdateClock(scheduler, bot="bot-key").start(
            7, 30, datetime(2024, 5, 1, 12, 0, tzinfo=UTC)
        )
        assert stored_func(db_url, 7) == "bot.updates.scheduled:send_due_updates"
        # What a bot before the move stored.
        command.downgrade(alembic_config(db_url), "0010")
        assert stored_func(db_url, 7) == "bot.incidents.scheduled:send_due_updates"
        upgrade_to_head(db_url)
        assert stored_func(db_url, 7) == "bot.updates.scheduled:send_due_updates"
        job = scheduler.get_job(job_id(7))
        assert job is not None and job.func is send_due_updates
        assert job.args == (7, "bot-key")
        assert SchedulerUpdateClock(scheduler, bot="bot-key").current(7) is not None
    finally:
        scheduler.shutdown(wait=False)
        engine.dispose()
