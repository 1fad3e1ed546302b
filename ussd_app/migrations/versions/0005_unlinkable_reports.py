"""unlinkable reports: reporter contacts keep a daily abuse tag instead of the phone hash;
inbound SMS senders can be forgotten; identifiers stored before this are cut loose

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-02 05:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op


revision: str = '0005'
down_revision: str | None = '0004'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table('reporter_contacts', schema=None) as batch_op:
        batch_op.add_column(sa.Column('abuse_tag', sa.String(length=64), nullable=True))
        batch_op.drop_index(batch_op.f('ix_reporter_contacts_phone_hash'))
        batch_op.create_index(batch_op.f('ix_reporter_contacts_abuse_tag'), ['abuse_tag'], unique=False)
        batch_op.drop_column('phone_hash')
    with op.batch_alter_table('inbound_sms', schema=None) as batch_op:
        batch_op.alter_column('from_hash', existing_type=sa.String(length=64), nullable=True)
    # Rows written before this revision held the gateway's session id in clear beside the phone
    # hash. The keys to digest them are not available here, so the links are cut instead: a
    # report's replay key only matters during its final hop, and a session row's phone hash is
    # analytics, not a record anyone relies on.
    op.execute("UPDATE trafficking_reports SET idempotency_key = NULL")
    op.execute("UPDATE ussd_session_events SET phone_hash = NULL")
    # Language choices are now found by a digest under their own purpose; the old rows (keyed by
    # the phone hash) would match nothing: each phone is asked its language once more.
    op.execute("DELETE FROM phone_preferences")


def downgrade() -> None:
    op.execute("UPDATE inbound_sms SET from_hash = '' WHERE from_hash IS NULL")
    with op.batch_alter_table('inbound_sms', schema=None) as batch_op:
        batch_op.alter_column('from_hash', existing_type=sa.String(length=64), nullable=False)
    with op.batch_alter_table('reporter_contacts', schema=None) as batch_op:
        batch_op.add_column(
            sa.Column('phone_hash', sa.String(length=64), nullable=False, server_default='')
        )
        batch_op.drop_index(batch_op.f('ix_reporter_contacts_abuse_tag'))
        batch_op.create_index(batch_op.f('ix_reporter_contacts_phone_hash'), ['phone_hash'], unique=False)
        batch_op.drop_column('abuse_tag')
