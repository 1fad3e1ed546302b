"""The language each phone chose, so the next dial starts in it.

A reporter chooses a language too, so this table must not be a way back to them: rows are found
by a keyed digest of the phone hash under their own purpose (`digests.LANGUAGE`), never by the
phone hash the registrations use, and their times are kept to the day (UTC midnight), so a
first choice of language cannot be lined up with the minute a report was filed.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import select
from sqlalchemy.orm.attributes import flag_modified

from ussd_app import digests
from ussd_app.container import Services
from ussd_app.db import utcnow
from ussd_app.phones import InvalidPhoneNumber
from ussd_app.records import UniqueConflict, check_language, flush_or_conflict
from ussd_app.ussd.models import PhonePreference


def get_language(services: Services, phone: str) -> str | None:
    """The phone's remembered language, or None (never chosen, or not a usable number)."""
    try:
        phone_hash = services.hash_phone(services.normalise_phone(phone))
    except InvalidPhoneNumber:
        return None
    return language_for_hash(services, phone_hash)


def language_for_hash(services: Services, phone_hash: str) -> str | None:
    """The remembered language for a phone already hashed (the hop service has the hash)."""
    with services.uow() as uow:
        return uow.session.scalars(
            select(PhonePreference.language).where(
                PhonePreference.phone_hash == preference_key(services, phone_hash)
            )
        ).first()


def preference_key(services: Services, phone_hash: str) -> str:
    """What the row is found by: the phone hash digested under the preferences' own purpose."""
    return digests.keyed_digest(services.settings.phone_hash_key, digests.LANGUAGE, phone_hash)


def _today() -> dt.datetime:
    return utcnow().replace(hour=0, minute=0, second=0, microsecond=0)


def set_language(services: Services, phone: str, lang: str) -> None:
    """Remember `lang` for the phone (insert or update).

    Two hops of one caller can race to insert; the loser retries once and then updates.
    """
    check_language(lang)
    key = preference_key(services, services.hash_phone(services.normalise_phone(phone)))
    for _attempt in range(2):
        try:
            with services.uow() as uow:
                pref = uow.session.scalars(
                    select(PhonePreference).where(PhonePreference.phone_hash == key)
                ).first()
                if pref is None:
                    uow.session.add(
                        PhonePreference(
                            phone_hash=key, language=lang, created_at=_today(), updated_at=_today()
                        )
                    )
                elif pref.language == lang:
                    return
                else:
                    pref.language = lang
                    pref.updated_at = _today()
                    # Written even when unchanged, or the column's onupdate stamps the minute.
                    flag_modified(pref, "updated_at")
                flush_or_conflict(uow)
                uow.commit()
                return
        except UniqueConflict:
            continue
    raise RuntimeError("could not store the language preference")
