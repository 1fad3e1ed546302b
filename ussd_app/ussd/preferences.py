"""The language each phone chose, so the next dial starts in it."""

from __future__ import annotations

from sqlalchemy import select

from ussd_app.container import Services
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
            select(PhonePreference.language).where(PhonePreference.phone_hash == phone_hash)
        ).first()


def set_language(services: Services, phone: str, lang: str) -> None:
    """Remember `lang` for the phone (insert or update).

    Two hops of one caller can race to insert; the loser retries once and then updates.
    """
    check_language(lang)
    phone_hash = services.hash_phone(services.normalise_phone(phone))
    for _attempt in range(2):
        try:
            with services.uow() as uow:
                pref = uow.session.scalars(
                    select(PhonePreference).where(PhonePreference.phone_hash == phone_hash)
                ).first()
                if pref is None:
                    uow.session.add(PhonePreference(phone_hash=phone_hash, language=lang))
                elif pref.language == lang:
                    return
                else:
                    pref.language = lang
                flush_or_conflict(uow)
                uow.commit()
                return
        except UniqueConflict:
            continue
    raise RuntimeError("could not store the language preference")
