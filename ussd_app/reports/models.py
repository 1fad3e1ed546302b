"""Trafficking reports and, apart from them, the reporter's contact (domain-lesotho.md 2.4, 6.2).

The report row holds no phone number and no phone hash: whoever can read reports (police desk,
NGO case workers, statistics) cannot tell who made them. The number lives only in
`reporter_contacts`, encrypted, purged after a set time, and shown only with call-back consent.
"""

from __future__ import annotations

import datetime as dt
import enum

from sqlalchemy import JSON, CheckConstraint, ForeignKey, Index, String, text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ussd_app.columns import (
    CHANNEL_LEN,
    CHANNELS,
    CODE_LEN,
    LANGUAGE_LEN,
    PHONE_ENC_LEN,
    PHONE_HASH_LEN,
    REF_LEN,
    SMS_TEXT_ENC_LEN,
    VEHICLE_ENC_LEN,
    check_in,
)
from ussd_app.db import Base, TZDateTime, created_at, updated_at


class ReportStatus(enum.StrEnum):
    """A report's case status; moves only through `ussd_app.cases.machine.apply`."""

    RECEIVED = "received"  # filed; no alert has been accepted by the gateway yet
    ALERTED = "sent"  # at least one alert left (callers see "passed to police")
    ACKNOWLEDGED = "acknowledged"  # a partner holds it
    CLOSED = "closed"


REPORT_STATUSES = tuple(s.value for s in ReportStatus)
PRIORITIES = ("P1", "P2", "P3")
IDEMPOTENCY_KEY_LEN = 128
FLOOD_BATCH_LEN = 32


class TraffickingReport(Base):
    """A suspected-trafficking report from USSD or SMS.

    Answers are stored as codes (`ussd_app.codes`); the only free text (vehicle, an SMS
    report's words) is encrypted because it could identify someone. `status` is deliberately
    coarse: what the reporter may see is derived from it. `incomplete` marks a report saved from
    an abandoned session (enough answers to act on, but the caller never reached the end).
    `idempotency_key` (a keyed digest of the USSD session id or SMS id, never the id itself:
    the gateway's session id is also known to its logs) makes a replayed final hop return the
    same report.
    """

    __tablename__ = "trafficking_reports"
    __table_args__ = (
        CheckConstraint(check_in("status", REPORT_STATUSES), name="status"),
        CheckConstraint(check_in("priority", PRIORITIES), name="priority"),
        CheckConstraint(check_in("channel", CHANNELS), name="channel"),
        Index("ix_trafficking_reports_status_priority", "status", "priority"),
        Index("ix_trafficking_reports_district_created_at", "district", "created_at"),
        # The few rows waiting for their routing job (`cases.staging`): a burst's jobs and the
        # sweeper find them without reading every report ever filed.
        Index(
            "ix_trafficking_reports_unrouted",
            "id",
            postgresql_where=text("routed_at IS NULL"),
            sqlite_where=text("routed_at IS NULL"),
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    ref: Mapped[str] = mapped_column(String(REF_LEN), unique=True)
    idempotency_key: Mapped[str | None] = mapped_column(String(IDEMPOTENCY_KEY_LEN), unique=True)
    language: Mapped[str] = mapped_column(String(LANGUAGE_LEN))
    channel: Mapped[str] = mapped_column(String(CHANNEL_LEN), default="ussd")
    # Answers may be missing only on incomplete (abandoned-session) reports.
    danger_now: Mapped[bool | None]
    child_involved: Mapped[str | None] = mapped_column(String(CODE_LEN))
    flags: Mapped[list[str]] = mapped_column(JSON, default=list)
    place: Mapped[str | None] = mapped_column(String(CODE_LEN))
    district: Mapped[str | None] = mapped_column(String(CODE_LEN))
    when_seen: Mapped[str | None] = mapped_column(String(CODE_LEN))
    persons_count: Mapped[str | None] = mapped_column(String(CODE_LEN))
    vehicle_enc: Mapped[str | None] = mapped_column(String(VEHICLE_ENC_LEN))
    sms_text_enc: Mapped[str | None] = mapped_column(String(SMS_TEXT_ENC_LEN))
    callback_consent: Mapped[bool] = mapped_column(default=False)
    priority: Mapped[str] = mapped_column(String(2))
    status: Mapped[str] = mapped_column(String(16), default="received")
    incomplete: Mapped[bool] = mapped_column(default=False)
    # Filed while its phone was over REPORT_LIMIT (decided at submit time): stored and shown on
    # the desk like any report, but its partner alerts are held and the duty desk gets one batch
    # alert for the flood (`ussd_app.cases.floods`). `flood_batch` is the random token the
    # reports of one flood share (never derived from the phone): it links them to each other only.
    possible_flood: Mapped[bool] = mapped_column(default=False)
    flood_batch: Mapped[str | None] = mapped_column(String(FLOOD_BATCH_LEN), index=True)
    created_at: Mapped[created_at]
    updated_at: Mapped[updated_at]
    # When its alerts were staged (`cases.staging`); NULL until then. The caller's hop commits
    # the report alone; a job, or failing that the sweeper, stages the alerts and sets this.
    routed_at: Mapped[dt.datetime | None] = mapped_column(TZDateTime())
    acknowledged_at: Mapped[dt.datetime | None] = mapped_column(TZDateTime())
    closed_at: Mapped[dt.datetime | None] = mapped_column(TZDateTime())
    # Who has the case: the partner that took it, and (on the desk) the colleague assigned.
    holder_partner_code: Mapped[str | None] = mapped_column(String(64), index=True)
    assignee_user_id: Mapped[int | None] = mapped_column()
    outcome: Mapped[str | None] = mapped_column(String(24))  # closing outcome code

    def __repr__(self) -> str:  # codes only; never the encrypted text
        return f"<TraffickingReport {self.ref} {self.priority} {self.status}>"


class ReporterContact(Base):
    """The reporter's number for one report, kept apart from it (one row per report).

    `abuse_tag` is a keyed digest of the number that rotates every day (`digests.abuse_tag`):
    equal for two reports from one number on one day (abuse control, resuming an incomplete
    report), unrelated to the phone hash every other table uses, so a report cannot be joined
    to a registration, a language preference or an SMS. The purge empties `phone_enc` and
    `abuse_tag` together when `purge_after` passes: empty while a consented call-back is still
    possible, set when the case closes. There is deliberately no relationship from the report
    to this row, so code handling reports cannot reach the number by accident.
    """

    __tablename__ = "reporter_contacts"

    id: Mapped[int] = mapped_column(primary_key=True)
    report_id: Mapped[int] = mapped_column(
        ForeignKey("trafficking_reports.id", ondelete="CASCADE"), unique=True
    )
    phone_enc: Mapped[str | None] = mapped_column(String(PHONE_ENC_LEN))
    abuse_tag: Mapped[str | None] = mapped_column(String(PHONE_HASH_LEN), index=True)
    callback_consent: Mapped[bool] = mapped_column(default=False)
    created_at: Mapped[created_at]
    purge_after: Mapped[dt.datetime | None] = mapped_column(TZDateTime(), index=True)

    report: Mapped[TraffickingReport] = relationship()

    def __repr__(self) -> str:
        return f"<ReporterContact report_id={self.report_id}>"
