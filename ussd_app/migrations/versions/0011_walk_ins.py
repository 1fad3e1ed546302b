"""walk-in registrations at a border health desk, and the day a reintegration plan was agreed

Revision ID: 0011_walk_ins
Revises: 0010_perf
Create Date: 2026-12-02 06:15:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0011_walk_ins"
down_revision: str | None = "0010_perf"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_OLD = "channel IN ('ussd', 'sms')"
_NEW = "channel IN ('ussd', 'sms', 'walk_in')"
# Only registrations and their consent records take a walk-in; reports keep ('ussd', 'sms').
_TABLES = ("registrations", "consent_records")


def _channel_check(table: str, sql: str) -> None:
    # op.f(): the name is already final under the naming convention (see 0007), so SQLite's
    # batch copy and PostgreSQL drop and recreate the same constraint.
    with op.batch_alter_table(table, schema=None) as batch_op:
        batch_op.drop_constraint(op.f(f"ck_{table}_channel"), type_="check")
        batch_op.create_check_constraint(op.f(f"ck_{table}_channel"), sql)


def upgrade() -> None:
    with op.batch_alter_table("registrations", schema=None) as batch_op:
        batch_op.add_column(sa.Column("plan_agreed_on", sa.Date(), nullable=True))
    for table in _TABLES:
        _channel_check(table, _NEW)


def downgrade() -> None:
    # A walk-in's records stay: they are marked as registered on the desk's USSD channel
    # rather than lost (the person did register, with their consent).
    for table in _TABLES:
        op.execute(f"UPDATE {table} SET channel = 'ussd' WHERE channel = 'walk_in'")
        _channel_check(table, _OLD)
    with op.batch_alter_table("registrations", schema=None) as batch_op:
        batch_op.drop_column("plan_agreed_on")
