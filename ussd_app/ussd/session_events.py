"""The gateway's end-of-session notification (africastalking.md 1.5), kept for drop-off analytics.

Only the shape of the session is stored: status, hops, duration, last screen, network. The
caller's `input` and our `lastAppResponse` are dropped unread - they can hold a report's answers -
and the number is kept only as a keyed hash.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping

from sqlalchemy import select

from ussd_app.container import Services
from ussd_app.phones import InvalidPhoneNumber
from ussd_app.records import UniqueConflict, flush_or_conflict
from ussd_app.ussd.models import (
    ERROR_MESSAGE_LEN,
    LAST_SCREEN_LEN,
    SESSION_ID_LEN,
    UssdSessionEvent,
)

log = logging.getLogger(__name__)

STATUS_LEN = 16
_INT_MAX = 2**31 - 1  # the columns are 32-bit integers on PostgreSQL


class InvalidSessionEvent(ValueError):
    """The notification lacks what makes it usable (its session id or status)."""


def _text(form: Mapping[str, str], key: str, max_len: int) -> str | None:
    value = (form.get(key) or "").strip()
    return value[:max_len] or None


def _int(form: Mapping[str, str], key: str) -> int | None:
    """A whole number the gateway sent as text; None when absent or not a number."""
    value = (form.get(key) or "").strip()
    try:
        number = int(value)
    except ValueError:
        return None
    return number if 0 <= number <= _INT_MAX else None


def _last_screen(hops_metadata: str | None) -> str | None:
    """The last hop label: the screen the caller last saw (labels are joined by "|")."""
    if not hops_metadata:
        return None
    labels = [label.strip() for label in hops_metadata.split("|") if label.strip()]
    return labels[-1][:LAST_SCREEN_LEN] if labels else None


def record_session_end(services: Services, form: Mapping[str, str]) -> bool:
    """Store one end-of-session notification; return False if it was already stored.

    Raises InvalidSessionEvent (a ValueError) when `sessionId` or `status` is missing or too long,
    so the web layer answers 400. A repeated notification changes nothing.
    """
    session_id = (form.get("sessionId") or "").strip()
    status = (form.get("status") or "").strip()
    if not session_id:
        raise InvalidSessionEvent("sessionId is missing")
    if len(session_id) > SESSION_ID_LEN:
        raise InvalidSessionEvent(f"sessionId is longer than {SESSION_ID_LEN} characters")
    if not status:
        raise InvalidSessionEvent("status is missing")
    if len(status) > STATUS_LEN:
        raise InvalidSessionEvent(f"status is longer than {STATUS_LEN} characters")

    phone_hash: str | None = None
    raw_phone = (form.get("phoneNumber") or "").strip()
    if raw_phone:
        try:
            phone_hash = services.hash_phone(services.normalise_phone(raw_phone))
        except InvalidPhoneNumber:
            phone_hash = None

    event = UssdSessionEvent(
        session_id=session_id,
        status=status,
        hops=_int(form, "hopsCount"),
        duration_ms=_int(form, "durationInMillis"),
        last_screen=_last_screen(form.get("hopsMetadata")),
        network_code=_text(form, "networkCode", 16),
        service_code=_text(form, "serviceCode", 32),
        error_message=_text(form, "errorMessage", ERROR_MESSAGE_LEN),
        phone_hash=phone_hash,
    )
    try:
        with services.uow() as uow:
            if uow.session.scalars(
                select(UssdSessionEvent.id).where(UssdSessionEvent.session_id == session_id)
            ).first():
                return False
            uow.session.add(event)
            flush_or_conflict(uow)
            uow.commit()
    except UniqueConflict:
        return False  # the same notification, delivered twice at once
    log.info("ussd session ended status=%s hops=%s", status, event.hops)
    return True
