"""Consent decisions (granted or withdrawn) for registrations and reports (domain-lesotho.md 6.1).

Shared by the returnee and report features, so it sits in the kernel beside the column widths.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import CheckConstraint, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from ussd_app.columns import CHANNEL_LEN, PHONE_HASH_LEN, REF_LEN, REGISTRATION_CHANNELS, check_in
from ussd_app.db import Base, TZDateTime, utcnow

CONSENT_SUBJECT_TYPES = ("registration", "report")
CONSENT_PURPOSES = ("registration", "share_partners", "sms", "call", "callback")
CONSENT_VERSION_LEN = 32


class ConsentRecord(Base):
    """One consent decision (granted or withdrawn): who, what for, which text version, how.

    Append-only evidence of the lawful basis (DPA 2011, IOM principle 4). For reports
    `phone_hash` stays empty: the link between a report and a phone lives only in
    `reporter_contacts`, which is purged; a consent record must not keep that link forever.
    """

    __tablename__ = "consent_records"
    __table_args__ = (
        CheckConstraint(check_in("subject_type", CONSENT_SUBJECT_TYPES), name="subject_type"),
        CheckConstraint(check_in("purpose", CONSENT_PURPOSES), name="purpose"),
        CheckConstraint(check_in("channel", REGISTRATION_CHANNELS), name="channel"),
        Index("ix_consent_records_subject", "subject_type", "subject_ref"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    subject_type: Mapped[str] = mapped_column(String(16))
    subject_ref: Mapped[str] = mapped_column(String(REF_LEN))
    phone_hash: Mapped[str | None] = mapped_column(String(PHONE_HASH_LEN), index=True)
    purpose: Mapped[str] = mapped_column(String(16))
    granted: Mapped[bool]
    version: Mapped[str] = mapped_column(String(CONSENT_VERSION_LEN))
    channel: Mapped[str] = mapped_column(String(CHANNEL_LEN))
    recorded_at: Mapped[dt.datetime] = mapped_column(TZDateTime(), default=utcnow)

    def __repr__(self) -> str:
        state = "granted" if self.granted else "refused/withdrawn"
        return f"<ConsentRecord {self.subject_ref} {self.purpose} {state}>"


# The columns a consent record is written with (the id is the database's), in one order, for
# the Core statements that insert records together with what they are about.
CONSENT_COLUMNS = (
    "subject_type",
    "subject_ref",
    "phone_hash",
    "purpose",
    "granted",
    "version",
    "channel",
    "recorded_at",
)
