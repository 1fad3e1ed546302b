"""ussd_session_events.language: the session's language, for completed vs abandoned per language

Revision ID: 0012_stats
Revises: 0008_flood_flags
Create Date: 2026-12-02 06:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0012_stats"
down_revision: str | None = "0008_flood_flags"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Nullable: sessions stored before this column existed, and sessions that ended before the
    # caller chose a language, have none.
    op.add_column("ussd_session_events", sa.Column("language", sa.String(length=8), nullable=True))


def downgrade() -> None:
    op.drop_column("ussd_session_events", "language")
