"""The language each phone chose, so the next dial starts in it.

The hop reads it from Redis only (`session_store.LANG_PREFIX`, read with the session in one
command): a first dial never queries the database. Choosing a language sets it there and queues
the choice (in the same write-back command); the maintenance pass writes the queue to the
database (`flush_pending`, one upsert per choice), the durable copy the retention table keeps.

A reporter chooses a language too, so this table must not be a way back to them: rows are found
by a keyed digest of the phone hash under their own purpose (`digests.LANGUAGE`), never by the
phone hash the registrations use, and their times are kept to the day (UTC midnight), so a
first choice of language cannot be lined up with the minute a report was filed.
"""

from __future__ import annotations

import datetime as dt
from typing import Protocol

from sqlalchemy import select

from ussd_app import digests
from ussd_app.container import Services
from ussd_app.db import UnitOfWork, upsert_into, utcnow
from ussd_app.phones import InvalidPhoneNumber
from ussd_app.records import check_language
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
    """Remember `lang` for the phone in the database, now (one upsert)."""
    check_language(lang)
    key = preference_key(services, services.hash_phone(services.normalise_phone(phone)))
    with services.uow() as uow:
        _upsert(uow, key, lang)
        uow.commit()


def pending_entry(services: Services, phone_hash: str, lang: str) -> str:
    """What the hop queues for `flush_pending`: the row's key and the language, never a number."""
    check_language(lang)
    return f"{preference_key(services, phone_hash)} {lang}"


class PendingLanguages(Protocol):
    """The queue of choices (`SessionStore`): read the oldest, drop them once stored."""

    def pending_languages(self, limit: int) -> list[str]: ...

    def drop_pending_languages(self, count: int) -> None: ...


def flush_pending(services: Services, queue: PendingLanguages, batch: int = 500) -> int:
    """Write queued language choices to the database, oldest first, one transaction per batch;
    returns how many. Removed from the queue only after their commit (a failure leaves them
    for the next pass; writing one twice changes nothing)."""
    stored = 0
    while True:
        entries = queue.pending_languages(batch)
        if not entries:
            return stored
        with services.uow() as uow:
            for entry in entries:
                key, _, lang = entry.partition(" ")
                if key and lang:
                    _upsert(uow, key, check_language(lang))
            uow.commit()
        queue.drop_pending_languages(len(entries))
        stored += len(entries)
        if len(entries) < batch:
            return stored


def _upsert(uow: UnitOfWork, key: str, lang: str) -> None:
    """INSERT ... ON CONFLICT DO UPDATE (no look-up first; the later choice wins). An unchanged
    choice updates nothing, so its day stays the day it was made."""
    today = _today()
    stmt = upsert_into(uow.session.get_bind().dialect.name, PhonePreference).values(
        phone_hash=key, language=lang, created_at=today, updated_at=today
    )
    stmt = stmt.on_conflict_do_update(
        index_elements=[PhonePreference.phone_hash],
        set_={"language": stmt.excluded.language, "updated_at": today},
        where=PhonePreference.language != stmt.excluded.language,
    )
    uow.session.execute(stmt)
