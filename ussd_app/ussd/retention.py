"""Retention of USSD-side records: end-of-session rows and per-phone language choices.

A registration session's end-of-session row keeps its phone hash for
`retention_policy.SESSION_EVENT_PHONE`, then loses it; rows go entirely after
`SESSION_EVENT_ROW`; a language choice not set again for `PHONE_PREFERENCE` is forgotten (the
caller is then asked again). Delete-my-data erases both for the phone at once.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import delete, update

from ussd_app.container import Services
from ussd_app.db import UnitOfWork, utcnow
from ussd_app.retention_policy import PHONE_PREFERENCE, SESSION_EVENT_PHONE, SESSION_EVENT_ROW
from ussd_app.ussd.models import PhonePreference, UssdSessionEvent
from ussd_app.ussd.preferences import preference_key


def purge_session_records(services: Services, now: dt.datetime | None = None) -> int:
    """One retention pass over the USSD tables; returns how many rows changed."""
    now = now or utcnow()
    changed = 0
    with services.uow() as uow:
        for statement in (
            update(UssdSessionEvent)
            .where(
                UssdSessionEvent.received_at <= now - SESSION_EVENT_PHONE,
                UssdSessionEvent.phone_hash.is_not(None),
            )
            .values(phone_hash=None),
            delete(UssdSessionEvent).where(UssdSessionEvent.received_at <= now - SESSION_EVENT_ROW),
            delete(PhonePreference).where(PhonePreference.updated_at <= now - PHONE_PREFERENCE),
        ):
            result = uow.session.execute(statement.execution_options(synchronize_session=False))
            changed += int(getattr(result, "rowcount", 0) or 0)
        uow.commit()
    return changed


def erase_phone(uow: UnitOfWork, services: Services, e164: str, phone_hash: str) -> int:
    """Delete-my-data: the phone's language choice and its hash on session rows."""
    changed = 0
    for statement in (
        delete(PhonePreference).where(
            PhonePreference.phone_hash == preference_key(services, phone_hash)
        ),
        update(UssdSessionEvent)
        .where(UssdSessionEvent.phone_hash == phone_hash)
        .values(phone_hash=None),
    ):
        result = uow.session.execute(statement.execution_options(synchronize_session=False))
        changed += int(getattr(result, "rowcount", 0) or 0)
    return changed
