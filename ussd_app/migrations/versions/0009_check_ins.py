"""follow-up check-ins: the 90-day check-in of a registration and its optional answers

Revision ID: 0009_check_ins
Revises: 0012_stats
Create Date: 2026-12-02 06:30:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import ussd_app.db

revision: str = "0009_check_ins"
down_revision: str | None = "0012_stats"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_QUESTIONS = ("earning", "housing", "health_care", "more_help")


def upgrade() -> None:
    op.create_table(
        "check_ins",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("registration_id", sa.Integer(), nullable=False),
        sa.Column("round", sa.Integer(), nullable=False),
        sa.Column("channel", sa.String(length=8), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("asked_at", ussd_app.db.TZDateTime(timezone=True), nullable=True),
        sa.Column("answered_at", ussd_app.db.TZDateTime(timezone=True), nullable=True),
        sa.Column("answered_by", sa.String(length=8), nullable=True),
        sa.Column("recorded_by_user_id", sa.Integer(), nullable=True),
        *(sa.Column(q, sa.String(length=32), nullable=True) for q in _QUESTIONS),
        sa.Column("created_at", ussd_app.db.TZDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", ussd_app.db.TZDateTime(timezone=True), nullable=False),
        sa.CheckConstraint("channel IN ('sms', 'desk')", name=op.f("ck_check_ins_channel")),
        sa.CheckConstraint(
            "status IN ('asked', 'answered', 'stopped')", name=op.f("ck_check_ins_status")
        ),
        *(
            sa.CheckConstraint(
                f"{q} IS NULL OR {q} IN ('yes', 'no')", name=op.f(f"ck_check_ins_{q}_answer")
            )
            for q in _QUESTIONS
        ),
        sa.ForeignKeyConstraint(
            ["registration_id"],
            ["registrations.id"],
            name=op.f("fk_check_ins_registration_id_registrations"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_check_ins")),
        sa.UniqueConstraint("registration_id", "round", name=op.f("uq_check_ins_registration_id")),
    )
    with op.batch_alter_table("check_ins", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_check_ins_registration_id"), ["registration_id"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("check_ins", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_check_ins_registration_id"))
    op.drop_table("check_ins")
