"""Partial indexes on the rows still waiting for their routing job (routed_at IS NULL)

A routing job takes its own row and the others waiting (`ussd_app.cases.staging`), and the
sweeper looks for rows whose job was lost: both read only these few rows, never the whole table.

Revision ID: 0013_unrouted
Revises: 0011_walk_ins
Create Date: 2026-12-04 19:30:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0013_unrouted"
down_revision: str | None = "0011_walk_ins"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_TABLES = {"trafficking_reports": "ix_trafficking_reports_unrouted", "registrations": "ix_registrations_unrouted"}


def upgrade() -> None:
    waiting = sa.text("routed_at IS NULL")
    for table, name in _TABLES.items():
        op.create_index(name, table, ["id"], postgresql_where=waiting, sqlite_where=waiting)


def downgrade() -> None:
    for table, name in _TABLES.items():
        op.drop_index(name, table_name=table)
