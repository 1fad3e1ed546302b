"""possible-flood flag on reports: reports over REPORT_LIMIT from one phone, and their batch

Revision ID: 0008_flood_flags
Revises: 0007
Create Date: 2026-12-02 06:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008_flood_flags"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("trafficking_reports", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("possible_flood", sa.Boolean(), nullable=False, server_default=sa.false())
        )
        batch_op.add_column(sa.Column("flood_batch", sa.String(length=32), nullable=True))
        batch_op.create_index(
            batch_op.f("ix_trafficking_reports_flood_batch"), ["flood_batch"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("trafficking_reports", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_trafficking_reports_flood_batch"))
        batch_op.drop_column("flood_batch")
        batch_op.drop_column("possible_flood")
