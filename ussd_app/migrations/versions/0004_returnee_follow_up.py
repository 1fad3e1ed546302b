"""returnee follow-up: referrals per need; partners learn returnee needs, the programme
partner and border health posts

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-02 04:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import ussd_app.db


revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "referrals",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("registration_id", sa.Integer(), nullable=False),
        sa.Column("need", sa.String(length=32), nullable=False),
        sa.Column("service", sa.String(length=120), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("referred_at", ussd_app.db.TZDateTime(timezone=True), nullable=False),
        sa.Column("accepted_at", ussd_app.db.TZDateTime(timezone=True), nullable=True),
        sa.Column("ended_at", ussd_app.db.TZDateTime(timezone=True), nullable=True),
        sa.Column("created_at", ussd_app.db.TZDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", ussd_app.db.TZDateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "status IN ('referred', 'accepted', 'delivered', 'declined', 'unreachable')",
            name=op.f("ck_referrals_status"),
        ),
        sa.ForeignKeyConstraint(
            ["registration_id"],
            ["registrations.id"],
            name=op.f("fk_referrals_registration_id_registrations"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_referrals")),
        sa.UniqueConstraint("registration_id", "need", name=op.f("uq_referrals_registration_id")),
    )
    with op.batch_alter_table("referrals", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_referrals_registration_id"), ["registration_id"], unique=False
        )

    with op.batch_alter_table("partners", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("returnee_needs", sa.JSON(), nullable=False, server_default="[]")
        )
        batch_op.add_column(
            sa.Column(
                "is_programme_partner", sa.Boolean(), nullable=False, server_default=sa.false()
            )
        )
        batch_op.add_column(
            sa.Column("border_health_posts", sa.JSON(), nullable=False, server_default="[]")
        )


def downgrade() -> None:
    with op.batch_alter_table("partners", schema=None) as batch_op:
        batch_op.drop_column("border_health_posts")
        batch_op.drop_column("is_programme_partner")
        batch_op.drop_column("returnee_needs")

    with op.batch_alter_table("referrals", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_referrals_registration_id"))

    op.drop_table("referrals")
