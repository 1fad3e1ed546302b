"""Returnee registrations (domain-lesotho.md 3.2); their consent records are in ussd_app.consent."""

from __future__ import annotations

import datetime as dt
import enum

from sqlalchemy import JSON, CheckConstraint, Index, String, text
from sqlalchemy.orm import Mapped, mapped_column

from ussd_app.columns import (
    CHANNEL_LEN,
    CODE_LEN,
    LANGUAGE_LEN,
    NAME_ENC_LEN,
    PHONE_ENC_LEN,
    PHONE_HASH_LEN,
    REF_LEN,
    REGISTRATION_CHANNELS,
    check_in,
)
from ussd_app.consent import CONSENT_VERSION_LEN
from ussd_app.db import Base, TZDateTime, created_at, updated_at


class RegistrationStatus(enum.StrEnum):
    """A registration's follow-up status; moves only through `ussd_app.cases.machine`."""

    NEW = "new"  # registered; no partner has taken it yet
    CONTACTED = "contacted"  # a partner took it (acknowledged) and is in touch
    REFERRED = "referred"  # at least one need was referred to a service
    CLOSED = "closed"


REGISTRATION_STATUSES = tuple(s.value for s in RegistrationStatus)


class Registration(Base):
    """One returnee's registration; one row per phone (registering again updates it).

    The number is kept only as Fernet ciphertext (to call back) and as a keyed hash (to find the
    row again); the optional name is encrypted too. Everything else is a code from
    `ussd_app.codes`, safe for statistics.
    """

    __tablename__ = "registrations"
    __table_args__ = (
        CheckConstraint(check_in("status", REGISTRATION_STATUSES), name="status"),
        CheckConstraint(check_in("channel", REGISTRATION_CHANNELS), name="channel"),
        Index("ix_registrations_home_district_created_at", "home_district", "created_at"),
        # The rows waiting for their routing job (`cases.staging`), as for reports.
        Index(
            "ix_registrations_unrouted",
            "id",
            postgresql_where=text("routed_at IS NULL"),
            sqlite_where=text("routed_at IS NULL"),
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    ref: Mapped[str] = mapped_column(String(REF_LEN), unique=True)
    phone_hash: Mapped[str] = mapped_column(String(PHONE_HASH_LEN), unique=True)
    phone_enc: Mapped[str] = mapped_column(String(PHONE_ENC_LEN))
    language: Mapped[str] = mapped_column(String(LANGUAGE_LEN))
    consent_version: Mapped[str] = mapped_column(String(CONSENT_VERSION_LEN))
    share_partners: Mapped[bool] = mapped_column(default=False)
    # Kept in step with `contact_by` ("sms" <=> True): what the SMS paths read.
    sms_opt_in: Mapped[bool] = mapped_column(default=False)
    # How the person may be contacted: "call", "sms" or "none"; NULL for registrations made
    # before the question was asked (their screens promised a call).
    contact_by: Mapped[str | None] = mapped_column(String(CODE_LEN))
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
    # Who has the follow-up: the partner that took it, and (on the desk) the colleague assigned.
    holder_partner_code: Mapped[str | None] = mapped_column(String(64), index=True)
    assignee_user_id: Mapped[int | None] = mapped_column()
    outcome: Mapped[str | None] = mapped_column(String(24))
    # The day the reintegration plan was agreed (IOM asks for one within a month of return);
    # written only by `ussd_app.cases.machine` (the `plan_agreed` action), NULL until then.
    plan_agreed_on: Mapped[dt.date | None] = mapped_column()
    channel: Mapped[str] = mapped_column(String(CHANNEL_LEN), default="ussd")
    created_at: Mapped[created_at]
    updated_at: Mapped[updated_at]
    # When the notices of its latest version were staged (`cases.staging`); NULL until then.
    routed_at: Mapped[dt.datetime | None] = mapped_column(TZDateTime())

    def __repr__(self) -> str:  # never show the encrypted fields or the hash
        return f"<Registration {self.ref} status={self.status}>"
