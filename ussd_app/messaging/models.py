"""SMS in and out: the outbox of messages to send, inbound messages seen, delivery reports.

The outbox row is the truth about a message (DESIGN decision 7): it is written in the same
transaction as the report that caused it, and RQ only carries its id. Recipients are stored
encrypted with a keyed hash for look-ups, whoever they are, so a reporter's number never sits in
plain text even on a confirmation message.
"""

from __future__ import annotations

import datetime as dt
import enum

from sqlalchemy import ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from ussd_app.db import Base, created_at, updated_at, utcnow


class SmsStatus(enum.StrEnum):
    """Where an outbound message is (moves: `ussd_app.messaging.status`; README "Alert states")."""

    PENDING = "pending"  # waiting for a worker (queued, or to be swept)
    SENDING = "sending"  # a worker has claimed it and is talking to the gateway
    SENT = "sent"  # the gateway accepted it (has a message id)
    DELIVERED = "delivered"  # the handset received it (delivery report)
    FAILED = "failed"  # will not be delivered to this number (next contact tried)
    CANCELLED = "cancelled"  # no longer needed (e.g. case acknowledged before a resend)


class SmsPurpose(enum.StrEnum):
    ALERT = "alert"  # a new report, to a police desk or partner
    ESCALATION = "escalation"  # unacknowledged report, to escalation contacts
    NOTICE = "notice"  # "case taken by ..." to the other recipients
    REPLY = "reply"  # answer to an inbound SMS command
    CONFIRMATION = "confirmation"  # to a returnee or reporter who asked for one
    ADMIN = "admin"  # account problems, to administrators


class OutboundSms(Base):
    """One message to one number (the transactional outbox)."""

    __tablename__ = "outbound_sms"
    __table_args__ = (
        UniqueConstraint("idempotency_key"),
        UniqueConstraint("message_id"),
        Index("ix_outbound_sms_status_next", "status", "next_attempt_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    purpose: Mapped[str] = mapped_column(String(16))
    report_id: Mapped[int | None] = mapped_column(
        ForeignKey("trafficking_reports.id", ondelete="SET NULL"), index=True
    )
    registration_id: Mapped[int | None] = mapped_column(
        ForeignKey("registrations.id", ondelete="SET NULL"), index=True
    )
    partner_code: Mapped[str | None] = mapped_column(String(64))
    contact_id: Mapped[int | None] = mapped_column()  # partner_contacts.id, kept after re-imports
    detail: Mapped[str | None] = mapped_column(String(8))  # full / brief
    to_enc: Mapped[str] = mapped_column(Text)
    to_hash: Mapped[str] = mapped_column(String(64), index=True)
    body: Mapped[str] = mapped_column(String(480))
    status: Mapped[str] = mapped_column(String(16), default=SmsStatus.PENDING)
    attempts: Mapped[int] = mapped_column(default=0)
    next_attempt_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    claimed_at: Mapped[dt.datetime | None] = mapped_column()
    sent_at: Mapped[dt.datetime | None] = mapped_column()
    delivered_at: Mapped[dt.datetime | None] = mapped_column()
    failed_at: Mapped[dt.datetime | None] = mapped_column()
    message_id: Mapped[str | None] = mapped_column(String(128))
    gateway_status: Mapped[str | None] = mapped_column(String(64))
    last_error: Mapped[str | None] = mapped_column(String(255))
    idempotency_key: Mapped[str] = mapped_column(String(160))
    created_at: Mapped[created_at]
    updated_at: Mapped[updated_at]


class InboundSms(Base):
    """An inbound message we have handled, so the gateway's retries are answered once."""

    __tablename__ = "inbound_sms"
    __table_args__ = (UniqueConstraint("gateway_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    gateway_id: Mapped[str] = mapped_column(String(128))
    # The sender's phone hash; emptied after 7 days and by delete-my-data (messaging.retention).
    from_hash: Mapped[str | None] = mapped_column(String(64), index=True)
    command: Mapped[str] = mapped_column(String(16))  # the keyword only; never the text
    received_at: Mapped[created_at]


class DeliveryReport(Base):
    """A delivery report as received (deduplicated on message id + status)."""

    __tablename__ = "delivery_reports"
    __table_args__ = (UniqueConstraint("message_id", "status"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    message_id: Mapped[str] = mapped_column(String(128), index=True)
    status: Mapped[str] = mapped_column(String(32))
    failure_reason: Mapped[str | None] = mapped_column(String(64))
    received_at: Mapped[created_at]


class SmsOptOut(Base):
    """Numbers that sent STOP: no information messages (alerts to staff are not affected)."""

    __tablename__ = "sms_opt_outs"
    __table_args__ = (UniqueConstraint("phone_hash"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    phone_hash: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[created_at]
