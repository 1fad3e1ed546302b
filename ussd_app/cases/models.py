"""What happened to a case (a report, or a registration): one row per action, never overwritten.

Who acknowledged it, assigned or transferred it, noted, closed or reopened it, escalations and
refused attempts. The report's own `status`, `holder_partner_code`, `assignee_user_id`,
`acknowledged_at` and `closed_at` are the quick summary; these rows are the history. Rows are
written only by `ussd_app.cases.machine.apply` (DESIGN decision 11).
"""

from __future__ import annotations

from sqlalchemy import ForeignKey, Index, String, Text, text
from sqlalchemy.orm import Mapped, mapped_column

from ussd_app.db import Base, created_at


class CaseEvent(Base):
    """One action on a case by a partner contact, a desk user, or the system."""

    __tablename__ = "case_events"
    __table_args__ = (
        Index("ix_case_events_report_action", "report_id", "action"),
        # A report is escalated once per level, however often the sweeper looks.
        Index(
            "uq_case_events_escalation_once",
            "report_id",
            "level",
            unique=True,
            sqlite_where=text("action = 'escalated'"),
            postgresql_where=text("action = 'escalated'"),
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    report_id: Mapped[int | None] = mapped_column(
        ForeignKey("trafficking_reports.id", ondelete="CASCADE")
    )
    registration_id: Mapped[int | None] = mapped_column(
        ForeignKey("registrations.id", ondelete="CASCADE"), index=True
    )
    action: Mapped[str] = mapped_column(String(16))
    level: Mapped[int] = mapped_column(default=0)  # escalation level; 0 for other actions
    channel: Mapped[str] = mapped_column(String(8), default="system")  # sms / desk / system
    partner_code: Mapped[str | None] = mapped_column(String(64))
    contact_id: Mapped[int | None] = mapped_column()
    user_id: Mapped[int | None] = mapped_column()  # staff_users.id for desk actions
    outcome: Mapped[str | None] = mapped_column(String(24))  # closing outcome code
    detail: Mapped[str | None] = mapped_column(String(64))  # e.g. target partner, refused action
    note_enc: Mapped[str | None] = mapped_column(Text)  # a note; may name people, so encrypted
    created_at: Mapped[created_at]
