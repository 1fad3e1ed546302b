"""Staff accounts, their one-time recovery codes, and the append-only audit trail.

A staff user belongs to one partner (agency) and has one role (`ussd_app.staff.roles`). Secrets
are never stored as given: the password as an Argon2id hash, the TOTP secret encrypted with the
service's data keys (it must be read back to check codes), recovery codes and the enrolment
token as SHA-256 digests (they are long random strings, so a fast digest is enough).

Audit rows say who did what to which record and when, and nothing else: no names, numbers or
free text about a person. The ORM refuses to update or delete them, and the migration adds a
trigger that refuses UPDATE in the database too (DELETE stays possible for a retention job and
for the test suite's table cleaning).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import (
    Boolean,
    CheckConstraint,
    ForeignKey,
    Index,
    Integer,
    String,
    event,
)
from sqlalchemy.orm import Mapped, mapped_column

from ussd_app import db
from ussd_app.columns import check_in, fernet_len
from ussd_app.db import Base, TZDateTime
from ussd_app.staff.roles import ALL_ROLES

USERNAME_LEN = 64
DISPLAY_NAME_LEN = 120
DIGEST_LEN = 64  # SHA-256 / HMAC-SHA256 hex digest
PASSWORD_HASH_LEN = 255  # an Argon2id encoded hash is about 100 characters
TOTP_SECRET_ENC_LEN = fernet_len(64)  # base32 secret of 32 characters, with room to spare
AUDIT_ACTION_LEN = 40
AUDIT_RECORD_TYPE_LEN = 32
AUDIT_RECORD_REF_LEN = 64
AUDIT_DETAIL_LEN = 120


class StaffUser(Base):
    """A person who signs in to the desk.

    `credentials_epoch` grows whenever the account's sign-in changes (disabled, 2FA reset), and
    every desk session remembers the epoch it started in: a session from an older epoch is
    ended on its next request, even if Redis still holds it.
    """

    __tablename__ = "staff_users"
    __table_args__ = (CheckConstraint(check_in("role", ALL_ROLES), name="role"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    partner_id: Mapped[int] = mapped_column(ForeignKey("partners.id"), index=True)
    username: Mapped[str] = mapped_column(String(USERNAME_LEN), unique=True)
    display_name: Mapped[str] = mapped_column(String(DISPLAY_NAME_LEN))
    role: Mapped[str] = mapped_column(String(16))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    password_hash: Mapped[str | None] = mapped_column(String(PASSWORD_HASH_LEN), default=None)
    totp_secret_enc: Mapped[str | None] = mapped_column(String(TOTP_SECRET_ENC_LEN), default=None)
    totp_enrolled_at: Mapped[dt.datetime | None] = mapped_column(TZDateTime(), default=None)
    # The last TOTP time step accepted: a code is good once (no replay within its window).
    totp_last_step: Mapped[int | None] = mapped_column(Integer, default=None)
    enrolment_token_hash: Mapped[str | None] = mapped_column(
        String(DIGEST_LEN), unique=True, default=None
    )
    enrolment_expires_at: Mapped[dt.datetime | None] = mapped_column(TZDateTime(), default=None)
    credentials_epoch: Mapped[int] = mapped_column(Integer, default=0)
    last_sign_in_at: Mapped[dt.datetime | None] = mapped_column(TZDateTime(), default=None)
    disabled_at: Mapped[dt.datetime | None] = mapped_column(TZDateTime(), default=None)
    created_at: Mapped[db.created_at]
    updated_at: Mapped[db.updated_at]

    def __repr__(self) -> str:
        return f"<StaffUser {self.id} {self.role}{'' if self.active else ' disabled'}>"


class RecoveryCode(Base):
    """A one-time code that stands in for the authenticator app once (lost phone)."""

    __tablename__ = "staff_recovery_codes"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(
        ForeignKey("staff_users.id", ondelete="CASCADE"), index=True
    )
    code_hash: Mapped[str] = mapped_column(String(DIGEST_LEN), unique=True)
    used_at: Mapped[dt.datetime | None] = mapped_column(TZDateTime(), default=None)
    created_at: Mapped[db.created_at]


class AuditEvent(Base):
    """One thing a staff member (or the operator's CLI) did or was refused. Append-only.

    `actor_id` is empty for the operator's command line and for a failed sign-in under an
    unknown username. `partner_id` is the actor's partner at the time, so a supervisor's view of
    "who looked at this case" can be filtered without joining users. `detail` is a short code
    (an outcome, a reason category), never free text about a person.
    """

    __tablename__ = "audit_events"
    __table_args__ = (
        Index("ix_audit_events_record", "record_type", "record_ref"),
        Index("ix_audit_events_actor_at", "actor_id", "at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    at: Mapped[dt.datetime] = mapped_column(TZDateTime(), default=db.utcnow, index=True)
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("staff_users.id"), default=None)
    partner_id: Mapped[int | None] = mapped_column(ForeignKey("partners.id"), default=None)
    action: Mapped[str] = mapped_column(String(AUDIT_ACTION_LEN), index=True)
    record_type: Mapped[str | None] = mapped_column(String(AUDIT_RECORD_TYPE_LEN), default=None)
    record_ref: Mapped[str | None] = mapped_column(String(AUDIT_RECORD_REF_LEN), default=None)
    address_hash: Mapped[str | None] = mapped_column(String(DIGEST_LEN), default=None)
    detail: Mapped[str | None] = mapped_column(String(AUDIT_DETAIL_LEN), default=None)

    def __repr__(self) -> str:
        return f"<AuditEvent {self.id} {self.action} {self.record_type}:{self.record_ref}>"


class AppendOnlyError(RuntimeError):
    """Someone tried to change or remove an audit row through the ORM."""


@event.listens_for(AuditEvent, "before_update")
def _refuse_update(_mapper: Any, _conn: Any, target: AuditEvent) -> None:
    raise AppendOnlyError("audit rows are append-only")


@event.listens_for(AuditEvent, "before_delete")
def _refuse_delete(_mapper: Any, _conn: Any, target: AuditEvent) -> None:
    raise AppendOnlyError("audit rows are append-only")


__all__ = ["AppendOnlyError", "AuditEvent", "RecoveryCode", "StaffUser"]
