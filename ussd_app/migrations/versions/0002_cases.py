"""case lifecycle: holder, assignee, outcome; case events by actor and channel; registrations
as cases; failed_at on outbound messages

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-02 03:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import ussd_app.db

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table('case_events', schema=None) as batch_op:
        batch_op.add_column(sa.Column('registration_id', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('channel', sa.String(length=8), nullable=False, server_default='system'))
        batch_op.add_column(sa.Column('user_id', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('outcome', sa.String(length=24), nullable=True))
        batch_op.add_column(sa.Column('detail', sa.String(length=64), nullable=True))
        batch_op.alter_column('report_id',
               existing_type=sa.INTEGER(),
               nullable=True)
        batch_op.drop_constraint(batch_op.f('once'), type_='unique')
        batch_op.create_index(batch_op.f('ix_case_events_registration_id'), ['registration_id'], unique=False)
        batch_op.create_index('uq_case_events_escalation_once', ['report_id', 'level'], unique=True, sqlite_where=sa.text("action = 'escalated'"), postgresql_where=sa.text("action = 'escalated'"))
        batch_op.create_foreign_key(batch_op.f('fk_case_events_registration_id_registrations'), 'registrations', ['registration_id'], ['id'], ondelete='CASCADE')

    with op.batch_alter_table('outbound_sms', schema=None) as batch_op:
        batch_op.add_column(sa.Column('registration_id', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('failed_at', ussd_app.db.TZDateTime(timezone=True), nullable=True))
        batch_op.create_index(batch_op.f('ix_outbound_sms_registration_id'), ['registration_id'], unique=False)
        batch_op.create_foreign_key(batch_op.f('fk_outbound_sms_registration_id_registrations'), 'registrations', ['registration_id'], ['id'], ondelete='SET NULL')

    with op.batch_alter_table('registrations', schema=None) as batch_op:
        batch_op.add_column(sa.Column('holder_partner_code', sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column('assignee_user_id', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('outcome', sa.String(length=24), nullable=True))
        batch_op.create_index(batch_op.f('ix_registrations_holder_partner_code'), ['holder_partner_code'], unique=False)

    with op.batch_alter_table('trafficking_reports', schema=None) as batch_op:
        batch_op.add_column(sa.Column('holder_partner_code', sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column('assignee_user_id', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('outcome', sa.String(length=24), nullable=True))
        batch_op.create_index(batch_op.f('ix_trafficking_reports_holder_partner_code'), ['holder_partner_code'], unique=False)
    # Cases taken before this revision: their holder is the partner that acknowledged them.
    op.execute(
        "UPDATE trafficking_reports SET holder_partner_code = ("
        " SELECT partner_code FROM case_events"
        " WHERE case_events.report_id = trafficking_reports.id"
        " AND case_events.action = 'acknowledged' ORDER BY case_events.id LIMIT 1)"
        " WHERE status IN ('acknowledged', 'closed')"
    )


def downgrade() -> None:
    with op.batch_alter_table('trafficking_reports', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_trafficking_reports_holder_partner_code'))
        batch_op.drop_column('outcome')
        batch_op.drop_column('assignee_user_id')
        batch_op.drop_column('holder_partner_code')

    with op.batch_alter_table('registrations', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_registrations_holder_partner_code'))
        batch_op.drop_column('outcome')
        batch_op.drop_column('assignee_user_id')
        batch_op.drop_column('holder_partner_code')

    with op.batch_alter_table('outbound_sms', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('fk_outbound_sms_registration_id_registrations'), type_='foreignkey')
        batch_op.drop_index(batch_op.f('ix_outbound_sms_registration_id'))
        batch_op.drop_column('failed_at')
        batch_op.drop_column('registration_id')

    with op.batch_alter_table('case_events', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('fk_case_events_registration_id_registrations'), type_='foreignkey')
        batch_op.drop_index('uq_case_events_escalation_once', sqlite_where=sa.text("action = 'escalated'"), postgresql_where=sa.text("action = 'escalated'"))
        batch_op.drop_index(batch_op.f('ix_case_events_registration_id'))
        batch_op.create_unique_constraint(batch_op.f('once'), ['report_id', 'action', 'level'])
        batch_op.alter_column('report_id',
               existing_type=sa.INTEGER(),
               nullable=False)
        batch_op.drop_column('detail')
        batch_op.drop_column('outcome')
        batch_op.drop_column('user_id')
        batch_op.drop_column('channel')
        batch_op.drop_column('registration_id')

