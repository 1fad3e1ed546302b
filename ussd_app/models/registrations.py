"""Returnee registrations and the consent records behind them (domain-lesotho.md 3.2, 6.1)."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import JSON, CheckConstraint, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from ussd_app.db import Base, TZDateTime, created_at, updated_at, utcnow
from ussd_app.models.people import (
    CHANNEL_LEN,
    CODE_LEN,
    LANGUAGE_LEN,
    NAME_ENC_LEN,
    PHONE_ENC_LEN,
    PHONE_HASH_LEN,
    REF_LEN,
)

REGISTRATION_STATUSES = ("new", "contacted", "referred", "closed")
CHANNELS = ("ussd", "sms")
CONSENT_SUBJECT_TYPES = ("registration", "report")
CONSENT_PURPOSES = ("registration", "share_partners", "sms", "callback")
CONSENT_VERSION_LEN = 32


def check_in(column: str, values: tuple[str, ...]) -> str:
    """SQL for a CHECK that `column` holds one of `values` (fixed codes, never user input)."""
    quoted = ", ".join(f"'{v}'" for v in values)
    return f"{column} IN ({quoted})"


class Registration(Base):
    """One returnee's registration; one row per phone (registering again updates it).

    The number is kept only as Fernet ciphertext (to call back) and as a keyed hash (to find the
    row again); the optional name is encrypted too. Everything else is a code from
    `ussd_app.reference`, safe for statistics.
    """

    __tablename__ = "registrations"
    __table_args__ = (
        CheckConstraint(check_in("status", REGISTRATION_STATUSES), name="status"),
        CheckConstraint(check_in("channel", CHANNELS), name="channel"),
        Index("ix_registrations_home_district_created_at", "home_district", "created_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    ref: Mapped[str] = mapped_column(String(REF_LEN), unique=True)
    phone_hash: Mapped[str] = mapped_column(String(PHONE_HASH_LEN), unique=True)
    phone_enc: Mapped[str] = mapped_column(String(PHONE_ENC_LEN))
    language: Mapped[str] = mapped_column(String(LANGUAGE_LEN))
    consent_version: Mapped[str] = mapped_column(String(CONSENT_VERSION_LEN))
    share_partners: Mapped[bool] = mapped_column(default=False)
    sms_opt_in: Mapped[bool] = mapped_column(default=False)
    home_district: Mapped[str | None] = mapped_column(String(CODE_LEN))
    came_from: Mapped[str | None] = mapped_column(String(CODE_LEN))
    stay_intent: Mapped[str | None] = mapped_column(String(CODE_LEN))
    entry_point: Mapped[str | None] = mapped_column(String(CODE_LEN))
    travel_document: Mapped[str | None] = mapped_column(String(CODE_LEN))
    needs: Mapped[list[str]] = mapped_column(JSON, default=list)
    sex: Mapped[str | None] = mapped_column(String(CODE_LEN))
    age_band: Mapped[str | None] = mapped_column(String(CODE_LEN))
    name_enc: Mapped[str | None] = mapped_column(String(NAME_ENC_LEN))
    status: Mapped[str] = mapped_column(String(16), default="new")
    channel: Mapped[str] = mapped_column(String(CHANNEL_LEN), default="ussd")
    created_at: Mapped[created_at]
    updated_at: Mapped[updated_at]

    def __repr__(self) -> str:  # never show the encrypted fields or the hash
        return f"<Registration {self.ref} status={self.status}>"


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
        CheckConstraint(check_in("channel", CHANNELS), name="channel"),
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
