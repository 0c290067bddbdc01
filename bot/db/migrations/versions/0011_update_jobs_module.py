"""Stored update and reminder jobs name their function in bot.updates.scheduled

The stakeholder-update jobs moved from the incidents package to bot/updates; a stored job names
its function by module path, so the jobs an older bot stored are rewritten to the new path
(and back on downgrade). Without this, APScheduler drops them as unloadable at start-up and open
incidents lose their update clock.

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-01 13:40:00
"""

import pickle
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

JOBS_TABLE = "apscheduler_jobs"
OLD = "bot.incidents.scheduled:"
NEW = "bot.updates.scheduled:"


def _rename(old: str, new: str) -> None:
    bind = op.get_bind()
    if not sa.inspect(bind).has_table(JOBS_TABLE):
        return  # the scheduler creates its table on first start: nothing stored yet
    jobs = sa.table(JOBS_TABLE, sa.column("id", sa.String), sa.column("job_state", sa.LargeBinary))
    rows = bind.execute(sa.select(jobs.c.id, jobs.c.job_state).where(jobs.c.id.like("incident-%")))
    for job_id, blob in list(rows):
        state = pickle.loads(blob)  # the bot's own job store, written by APScheduler
        func = state.get("func")
        if isinstance(func, str) and func.startswith(old):
            state["func"] = new + func[len(old) :]
            blob = pickle.dumps(state, pickle.HIGHEST_PROTOCOL)
            bind.execute(jobs.update().where(jobs.c.id == job_id).values(job_state=blob))


def upgrade() -> None:
    _rename(OLD, NEW)


def downgrade() -> None:
    _rename(NEW, OLD)
