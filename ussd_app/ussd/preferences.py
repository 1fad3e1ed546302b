"""The language each phone chose, so the next dial starts in it.

The hop reads it from Redis only (`session_store.LANG_PREFIX`, read with the session in one
command): a first dial never queries the database. Choosing a language writes both, the
database with ONE upsert statement (the durable copy, kept by the retention table).

A reporter chooses a language too, so this table must not be a way back to them: rows are found
by a keyed digest of the phone hash under their own purpose (`digests.LANGUAGE`), never by the
phone hash the registrations use, and their times are kept to the day (UTC midnight), so a
first choice of language cannot be lined up with the minute a report was filed.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from ussd_app import digests
from ussd_app.container import Services
from ussd_app.db import utcnow
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
    """Remember `lang` for the phone: one INSERT ... ON CONFLICT DO UPDATE (no look-up first;
    two hops racing both land on the unique index and the later choice wins). An unchanged
    choice updates nothing, so its day stays the day it was made."""
    check_language(lang)
    key = preference_key(services, services.hash_phone(services.normalise_phone(phone)))
    today = _today()
    with services.uow() as uow:
        dialect = uow.session.get_bind().dialect.name
        insert = pg_insert if dialect == "postgresql" else sqlite_insert
        stmt = insert(PhonePreference).values(
            phone_hash=key, language=lang, created_at=today, updated_at=today
        )
        stmt = stmt.on_conflict_do_update(
            index_elements=[PhonePreference.phone_hash],
            set_={"language": stmt.excluded.language, "updated_at": today},
            where=PhonePreference.language != stmt.excluded.language,
        )
        uow.session.execute(stmt)
        uow.commit()
