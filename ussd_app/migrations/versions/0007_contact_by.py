"""how a returnee may be contacted (call, SMS, not at all) and its consent purpose

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-02 06:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_OLD = "purpose IN ('registration', 'share_partners', 'sms', 'callback')"
_NEW = "purpose IN ('registration', 'share_partners', 'sms', 'call', 'callback')"


def upgrade() -> None:
    with op.batch_alter_table("registrations", schema=None) as batch_op:
        batch_op.add_column(sa.Column("contact_by", sa.String(length=32), nullable=True))
    # Those who said yes to SMS chose SMS; the rest were never asked (NULL: their screens
    # promised a call, so the desk shows "not asked").
    op.execute("UPDATE registrations SET contact_by = 'sms' WHERE sms_opt_in")
    with op.batch_alter_table("consent_records", schema=None) as batch_op:
        batch_op.drop_constraint(op.f("ck_consent_records_purpose"), type_="check")
        batch_op.create_check_constraint(op.f("ck_consent_records_purpose"), _NEW)


def downgrade() -> None:
    op.execute("DELETE FROM consent_records WHERE purpose = 'call'")
    with op.batch_alter_table("consent_records", schema=None) as batch_op:
        batch_op.drop_constraint(op.f("ck_consent_records_purpose"), type_="check")
        batch_op.create_check_constraint(op.f("ck_consent_records_purpose"), _OLD)
    with op.batch_alter_table("registrations", schema=None) as batch_op:
        batch_op.drop_column("contact_by")
