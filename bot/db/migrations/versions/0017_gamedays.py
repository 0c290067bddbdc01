"""game days: the drill runs, the DRILL flag on incidents, the drill opt-out of subscriptions

Revision ID: 0017
Revises: 0014
Create Date: 2026-12-01 15:45:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0017"
down_revision: str | None = "0014"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "gameday_runs",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("scenario", sa.String(length=64), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        # 1 while the drill runs, NULL after: the unique key that lets one drill run at a time.
        sa.Column("active", sa.Integer(), nullable=True),
        sa.Column("owner", sa.String(length=64), nullable=False),
        sa.Column("speed", sa.Float(), nullable=False),
        sa.Column("forced", sa.Boolean(), nullable=False),
        sa.Column("channel", sa.String(length=64), nullable=True),
        sa.Column("thread_ts", sa.String(length=32), nullable=True),
        sa.Column("state", sa.JSON(), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("outcome", sa.String(length=16), nullable=True),
        sa.Column("report", sa.JSON(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_gameday_runs")),
        sa.UniqueConstraint("active", name=op.f("uq_gameday_runs_active")),
    )
    with op.batch_alter_table("incidents", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("drill", sa.Boolean(), nullable=False, server_default=sa.false())
        )
    with op.batch_alter_table("incident_subscriptions", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("skip_drills", sa.Boolean(), nullable=False, server_default=sa.false())
        )


def downgrade() -> None:
    with op.batch_alter_table("incident_subscriptions", schema=None) as batch_op:
        batch_op.drop_column("skip_drills")
    with op.batch_alter_table("incidents", schema=None) as batch_op:
        batch_op.drop_column("drill")
    op.drop_table("gameday_runs")
