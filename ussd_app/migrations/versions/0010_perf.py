"""routing after the commit: reports and registrations remember when their alerts were staged

The caller's hop now commits a report (or registration) alone; a job stages its alerts and sets
`routed_at`, and the sweeper runs that job for any row still NULL. Rows that exist already were
routed in their own transaction, so they are marked routed at their last change.

Revision ID: 0010_perf
Revises: 0009_check_ins
Create Date: 2026-12-02 06:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import ussd_app.db

revision: str = "0010_perf"
down_revision: str | None = "0009_check_ins"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    for table in ("trafficking_reports", "registrations"):
        with op.batch_alter_table(table) as batch:
            batch.add_column(
                sa.Column("routed_at", ussd_app.db.TZDateTime(timezone=True), nullable=True)
            )
        op.execute(sa.text(f"UPDATE {table} SET routed_at = updated_at"))


def downgrade() -> None:
    for table in ("registrations", "trafficking_reports"):
        with op.batch_alter_table(table) as batch:
            batch.drop_column("routed_at")
