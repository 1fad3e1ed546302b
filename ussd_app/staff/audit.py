"""The audit trail: `record(...)` writes one row, `query(...)` reads them back for the admin page.

Every look and every change on the desk calls `record`. It can join the caller's transaction
(pass `uow=`, so a case action and its audit row commit or fail together) or commit on its own
(sign-ins, refusals). Rows hold who (staff user id), what (an action name), which record (type
and reference), when, and a keyed hash of the client address: never a name, a phone number or
words typed about a person. `detail` is for a short code such as a close outcome or a reason
category; it is checked to look like one.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import re
from dataclasses import dataclass
from enum import StrEnum
from typing import TYPE_CHECKING

from sqlalchemy import select

from ussd_app.db import UnitOfWork, utcnow
from ussd_app.staff.models import (
    AUDIT_ACTION_LEN,
    AUDIT_DETAIL_LEN,
    AUDIT_RECORD_REF_LEN,
    AUDIT_RECORD_TYPE_LEN,
    AuditEvent,
    StaffUser,
)

if TYPE_CHECKING:
    from ussd_app.config import Settings
    from ussd_app.container import Services


class Action(StrEnum):
    """Audit action names. Features may add their own (e.g. `case.view`) as plain strings of
    the same shape: lower-case words joined by dots or underscores."""

    SIGN_IN = "auth.sign_in"
    SIGN_IN_FAILED = "auth.sign_in_failed"
    SECOND_FACTOR_FAILED = "auth.second_factor_failed"
    RECOVERY_CODE_USED = "auth.recovery_code_used"
    SIGN_OUT = "auth.sign_out"
    SESSION_ENDED = "auth.session_ended"  # ended by the server (disabled, 2FA reset)
    THROTTLED = "auth.throttled"
    ENROL_PASSWORD = "auth.enrol_password"  # noqa: S105 (an action name, not a secret)
    ENROL_2FA = "auth.enrol_2fa"
    USER_CREATE = "user.create"
    USER_DISABLE = "user.disable"
    USER_RESET_2FA = "user.reset_2fa"
    USER_LIST = "user.list"
    AUDIT_VIEW = "audit.view"
    ACCESS_REFUSED = "access.refused"
    CSRF_REFUSED = "access.csrf_refused"


class RecordType(StrEnum):
    """What an audit row is about. Features may add their own names (e.g. `case`)."""

    STAFF_USER = "staff_user"
    PAGE = "page"
    AUDIT = "audit"


_NAME = re.compile(r"^[a-z][a-z0-9_]*(\.[a-z0-9_]+)*$")
# A code-like detail: letters, digits and a few separators; no spaces, so no sentences.
_DETAIL = re.compile(r"^[A-Za-z0-9_.:/=-]+$")


class AuditValueError(ValueError):
    """An audit field does not look like a code (it might carry personal data)."""


@dataclass(frozen=True)
class AuditRow:
    """One audit row, detached from the database, for pages and reports."""

    id: int
    at: dt.datetime
    actor_id: int | None
    partner_id: int | None
    action: str
    record_type: str | None
    record_ref: str | None
    address_hash: str | None
    detail: str | None


def address_hash(settings: Settings, address: str | None) -> str | None:
    """A keyed hash of a client address: the same address gives the same hash (to spot one
    attacker across rows) but the address itself is not stored."""
    if not address:
        return None
    key = (settings.phone_hash_key + "|audit-address").encode()
    return hmac.new(key, address.encode(), hashlib.sha256).hexdigest()


def _check(value: str | None, pattern: re.Pattern[str], max_len: int, what: str) -> None:
    if value is None:
        return
    if len(value) > max_len or not pattern.match(value):
        raise AuditValueError(f"audit {what} must be a short code, got {len(value)} characters")


def record(
    services: Services,
    *,
    action: str,
    actor_id: int | None,
    partner_id: int | None = None,
    record_type: str | None = None,
    record_ref: str | None = None,
    address: str | None = None,
    detail: str | None = None,
    uow: UnitOfWork | None = None,
) -> None:
    """Append one audit row.

    With `uow`, the row is added to that transaction and commits with it (the caller commits);
    without, it commits at once in its own. `address` is the client's address as the web layer
    saw it; only its keyed hash is stored.
    """
    _check(action, _NAME, AUDIT_ACTION_LEN, "action")
    _check(record_type, _NAME, AUDIT_RECORD_TYPE_LEN, "record type")
    _check(record_ref, _DETAIL, AUDIT_RECORD_REF_LEN, "record reference")
    _check(detail, _DETAIL, AUDIT_DETAIL_LEN, "detail")
    if uow is not None:
        _append(
            uow, action, actor_id, partner_id, record_type, record_ref, address, detail, services
        )
        return
    with services.uow() as own:
        _append(
            own, action, actor_id, partner_id, record_type, record_ref, address, detail, services
        )
        own.commit()


def _append(
    uow: UnitOfWork,
    action: str,
    actor_id: int | None,
    partner_id: int | None,
    record_type: str | None,
    record_ref: str | None,
    address: str | None,
    detail: str | None,
    services: Services,
) -> None:
    if partner_id is None and actor_id is not None:
        partner_id = uow.session.scalar(
            select(StaffUser.partner_id).where(StaffUser.id == actor_id)
        )
    row = AuditEvent(
        at=utcnow(),
        actor_id=actor_id,
        partner_id=partner_id,
        action=str(action),
        record_type=None if record_type is None else str(record_type),
        record_ref=record_ref,
        address_hash=address_hash(services.settings, address),
        detail=detail,
    )
    uow.session.add(row)


@dataclass(frozen=True)
class AuditFilter:
    """What the admin page filters by; every field is optional."""

    actor_id: int | None = None
    partner_id: int | None = None
    action: str | None = None
    record_type: str | None = None
    record_ref: str | None = None
    since: dt.datetime | None = None
    until: dt.datetime | None = None


def query(
    services: Services,
    filters: AuditFilter | None = None,
    *,
    limit: int = 100,
    before_id: int | None = None,
) -> list[AuditRow]:
    """Audit rows matching `filters`, newest first; `before_id` pages further back."""
    f = filters or AuditFilter()
    stmt = select(AuditEvent).order_by(AuditEvent.id.desc()).limit(max(1, min(limit, 500)))
    if f.actor_id is not None:
        stmt = stmt.where(AuditEvent.actor_id == f.actor_id)
    if f.partner_id is not None:
        stmt = stmt.where(AuditEvent.partner_id == f.partner_id)
    if f.action:
        stmt = stmt.where(AuditEvent.action == f.action)
    if f.record_type:
        stmt = stmt.where(AuditEvent.record_type == f.record_type)
    if f.record_ref:
        stmt = stmt.where(AuditEvent.record_ref == f.record_ref)
    if f.since is not None:
        stmt = stmt.where(AuditEvent.at >= f.since)
    if f.until is not None:
        stmt = stmt.where(AuditEvent.at < f.until)
    if before_id is not None:
        stmt = stmt.where(AuditEvent.id < before_id)
    with services.uow() as uow:
        return [
            AuditRow(
                id=e.id,
                at=e.at,
                actor_id=e.actor_id,
                partner_id=e.partner_id,
                action=e.action,
                record_type=e.record_type,
                record_ref=e.record_ref,
                address_hash=e.address_hash,
                detail=e.detail,
            )
            for e in uow.session.scalars(stmt)
        ]


def record_access_log(services: Services, record_type: str, record_ref: str) -> list[AuditRow]:
    """Every audit row about one record, oldest first (a case's access log for a supervisor)."""
    rows = query(services, AuditFilter(record_type=record_type, record_ref=record_ref), limit=500)
    return list(reversed(rows))
