"""The gateway's end-of-session notification (africastalking.md 1.5), kept for drop-off analytics.

Only the shape of the session is stored: status, hops, duration, last screen, network. The
caller's `input` and our `lastAppResponse` are dropped unread - they can hold a report's answers.
The gateway's session id is stored only as a keyed digest under its own purpose (enough to
ignore a repeated notification), so the row cannot be matched to a report (whose idempotency key
is a digest under another purpose) or to the gateway's own logs. The number is kept, as its
phone hash, only for a session that ended in the registration flow (screens `reg_*`), and only
for `retention_policy.SESSION_EVENT_PHONE`: a session that reported anything never has it.

The gateway does not send the session's language, so it is looked up when the notification
arrives (`session_language`): the language the caller chose, which the hop service remembers for
the phone (`ussd.preferences`) the moment `SessionState.lang` is set by a choice. Only the
language code is stored; the phone is hashed for the look-up and forgotten.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping

from sqlalchemy import select

from ussd_app import digests
from ussd_app.container import Services
from ussd_app.phones import InvalidPhoneNumber
from ussd_app.records import UniqueConflict, flush_or_conflict
from ussd_app.ussd import preferences
from ussd_app.ussd.models import (
    ERROR_MESSAGE_LEN,
    LAST_SCREEN_LEN,
    SESSION_ID_LEN,
    UssdSessionEvent,
)

log = logging.getLogger(__name__)

STATUS_LEN = 16
_INT_MAX = 2**31 - 1  # the columns are 32-bit integers on PostgreSQL
REGISTRATION_SCREENS = "reg_"  # the prefix of every screen of the registration flow


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


def session_language(
    services: Services,
    raw_phone: str,
    language_of: Callable[[str], str | None] | None = None,
) -> str | None:
    """The language the session ran in: the one its caller chose, remembered for the phone.

    A caller who has not chosen one is shown the language screen first, and choosing writes the
    preference before the next screen is shown; a later change of language in the session
    updates it too. So the preference at the end of a session is the session state's language.
    None when nothing was chosen (the session ended on the language screen, or a direct dial
    by a phone that never chose) or the number is unusable.
    """
    try:
        phone_hash = services.hash_phone(services.normalise_phone(raw_phone))
    except InvalidPhoneNumber:
        return None
    if language_of is not None:  # the hop service's look-up: Redis first, then the database
        return language_of(phone_hash)
    return preferences.language_for_hash(services, phone_hash)


def session_event_id(services: Services, session_id: str) -> str:
    """What the row stores for the gateway's session id: a keyed digest (its own purpose)."""
    return digests.keyed_digest(services.settings.phone_hash_key, digests.SESSION_EVENT, session_id)


def record_session_end(
    services: Services,
    form: Mapping[str, str],
    language_of: Callable[[str], str | None] | None = None,
) -> bool:
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

    last_screen = _last_screen(form.get("hopsMetadata"))
    phone_hash: str | None = None
    raw_phone = (form.get("phoneNumber") or "").strip()
    language = session_language(services, raw_phone, language_of) if raw_phone else None
    if raw_phone and (last_screen or "").startswith(REGISTRATION_SCREENS):
        try:
            phone_hash = services.hash_phone(services.normalise_phone(raw_phone))
        except InvalidPhoneNumber:
            phone_hash = None

    stored_id = session_event_id(services, session_id)
    event = UssdSessionEvent(
        session_id=stored_id,
        status=status,
        hops=_int(form, "hopsCount"),
        duration_ms=_int(form, "durationInMillis"),
        last_screen=last_screen,
        network_code=_text(form, "networkCode", 16),
        service_code=_text(form, "serviceCode", 32),
        error_message=_text(form, "errorMessage", ERROR_MESSAGE_LEN),
        phone_hash=phone_hash,
        language=language,
    )
    try:
        with services.uow() as uow:
            if uow.session.scalars(
                select(UssdSessionEvent.id).where(UssdSessionEvent.session_id == stored_id)
            ).first():
                return False
            uow.session.add(event)
            flush_or_conflict(uow)
            uow.commit()
    except UniqueConflict:
        return False  # the same notification, delivered twice at once
    log.info("ussd session ended status=%s hops=%s lang=%s", status, event.hops, language)
    return True
