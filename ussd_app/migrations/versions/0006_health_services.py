"""border health services: that a service was given at a post (never a result)

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-02 04:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import ussd_app.db

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "health_services",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("registration_id", sa.Integer(), nullable=False),
        sa.Column("service", sa.String(length=32), nullable=False),
        sa.Column("border_post", sa.String(length=32), nullable=False),
        sa.Column("partner_code", sa.String(length=64), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=True),
        sa.Column("given_at", ussd_app.db.TZDateTime(timezone=True), nullable=False),
        sa.Column("created_at", ussd_app.db.TZDateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "service IN ('hiv_test_offered', 'hiv_test_done', 'tb_screening', 'art_refill',"
            " 'covid_screening', 'vaccination')",
            name=op.f("ck_health_services_service"),
        ),
        sa.ForeignKeyConstraint(
            ["registration_id"],
            ["registrations.id"],
            name=op.f("fk_health_services_registration_id_registrations"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_health_services")),
    )
    with op.batch_alter_table("health_services", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_health_services_registration_id"), ["registration_id"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("health_services", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_health_services_registration_id"))
    op.drop_table("health_services")
