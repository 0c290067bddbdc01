"""incident lifecycle: impact statement, participants, production version at resolve

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-28 14:52:02.305783
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Server defaults fill the rows that exist already (the columns are NOT NULL).
    with op.batch_alter_table("incidents", schema=None) as batch_op:
        batch_op.add_column(sa.Column("impact", sa.Text(), nullable=False, server_default=""))
        batch_op.add_column(
            sa.Column("participants", sa.JSON(), nullable=False, server_default="[]")
        )
        batch_op.add_column(sa.Column("resolved_version", sa.Integer(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("incidents", schema=None) as batch_op:
        batch_op.drop_column("resolved_version")
        batch_op.drop_column("participants")
        batch_op.drop_column("impact")
