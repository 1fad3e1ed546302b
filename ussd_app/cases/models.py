"""What staff did with a report: who acknowledged it, escalations, closing notes (the audit trail).

One row per action, so "who took it, when, and what happened since" is never overwritten. The
report's own `status`/`acknowledged_at`/`closed_at` are the quick summary of these rows.
"""

from __future__ import annotations

import enum

from sqlalchemy import ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from ussd_app.db import Base, created_at


class CaseAction(enum.StrEnum):
    ACKNOWLEDGED = "acknowledged"
    ESCALATED = "escalated"
    CLOSED = "closed"


class CaseEvent(Base):
    """One action on a report by a partner contact (or by the system, for escalations)."""

    __tablename__ = "case_events"
    __table_args__ = (
        # A report is escalated once per level; the sweeper may look twice.
        UniqueConstraint("report_id", "action", "level", name="once"),
        Index("ix_case_events_report_action", "report_id", "action"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    report_id: Mapped[int] = mapped_column(ForeignKey("trafficking_reports.id", ondelete="CASCADE"))
    action: Mapped[str] = mapped_column(String(16))
    level: Mapped[int] = mapped_column(default=0)  # escalation level; 0 for other actions
    partner_code: Mapped[str | None] = mapped_column(String(64))
    contact_id: Mapped[int | None] = mapped_column()
    note_enc: Mapped[str | None] = mapped_column(Text)  # closing note; may name people
    created_at: Mapped[created_at]
