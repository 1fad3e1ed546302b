"""Retention of reporters' contacts: the number and its daily tag go when the purge date passes.

Without call-back consent the number is kept 7 days (abuse control), with consent until 30 days
after the case closes (domain-lesotho.md 6.2; `ussd_app.retention_policy`). The purge erases the
encrypted number and the abuse tag together: after it, nothing in the row can be matched to a
phone, with or without the keys.

The tag (`abuse_tag`) is a keyed digest of the number under a key that changes every UTC day
and differs from the phone hash used everywhere else, so it tells whether two reports of one
day came from one phone and nothing else: it cannot be joined to a registration, a language
preference, an SMS or a report of another day.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable

from sqlalchemy import func, or_, select, update

from ussd_app import digests
from ussd_app.container import Services
from ussd_app.db import UnitOfWork, utcnow
from ussd_app.reports.models import ReporterContact
from ussd_app.retention_policy import REPORTER_AFTER_CLOSE

CONTACT_RETENTION_AFTER_CLOSE = REPORTER_AFTER_CLOSE


def contact_tag(services: Services, e164: str, when: dt.datetime | None = None) -> str:
    """The reporter's abuse tag for the UTC day of `when` (now by default)."""
    day = (when or utcnow()).astimezone(dt.UTC).date()
    return digests.abuse_tag(services.settings.phone_hash_key, e164, day)


def tags_since(services: Services, e164: str, since: dt.datetime) -> list[str]:
    """The number's tags for every UTC day from `since` to today (a look-up across midnight)."""
    first = since.astimezone(dt.UTC).date()
    today = utcnow().astimezone(dt.UTC).date()
    days = max((today - first).days, 0)
    return [
        digests.abuse_tag(services.settings.phone_hash_key, e164, first + dt.timedelta(days=n))
        for n in range(days + 1)
    ]


def report_key(services: Services, key: str) -> str:
    """What a report stores for its idempotency key (a USSD session id, an SMS id): a keyed
    digest under its own purpose, so the gateway's id (also in its logs and ours) is never
    stored beside the report and cannot be matched to a session-events row."""
    return digests.keyed_digest(services.settings.phone_hash_key, digests.REPORT_KEY, key)


def purge_due_contacts(services: Services, now: dt.datetime | None = None) -> int:
    """Erase the numbers and tags whose purge date has passed; returns how many rows."""
    now = now or utcnow()
    with services.uow() as uow:
        result = uow.session.execute(
            update(ReporterContact)
            .where(
                ReporterContact.purge_after <= now,
                or_(ReporterContact.phone_enc.is_not(None), ReporterContact.abuse_tag.is_not(None)),
            )
            .values(phone_enc=None, abuse_tag=None)
            .execution_options(synchronize_session=False)
        )
        uow.commit()
    return int(getattr(result, "rowcount", 0) or 0)


def erase_phone(uow: UnitOfWork, services: Services, e164: str, phone_hash: str) -> int:
    """Delete-my-data: erase this number from every reporter contact still holding it.

    Found by its daily tags (from the oldest contact not yet purged), since no stable hash is
    kept. The reports stay; a consented call-back can then no longer be made.
    """
    oldest = uow.session.scalar(
        select(func.min(ReporterContact.created_at)).where(ReporterContact.abuse_tag.is_not(None))
    )
    if oldest is None:
        return 0
    if oldest.tzinfo is None:
        oldest = oldest.replace(tzinfo=dt.UTC)
    return _erase_tags(uow, tags_since(services, e164, oldest))


def _erase_tags(uow: UnitOfWork, tags: Iterable[str]) -> int:
    total = 0
    batch = list(tags)
    for start in range(0, len(batch), 200):
        result = uow.session.execute(
            update(ReporterContact)
            .where(ReporterContact.abuse_tag.in_(batch[start : start + 200]))
            .values(phone_enc=None, abuse_tag=None)
            .execution_options(synchronize_session=False)
        )
        total += int(getattr(result, "rowcount", 0) or 0)
    return total


def schedule_purge_on_close(uow: UnitOfWork, report_id: int, closed_at: dt.datetime) -> None:
    """A closed case keeps a consenting reporter's number for 30 more days, then erases it."""
    uow.session.execute(
        update(ReporterContact)
        .where(ReporterContact.report_id == report_id, ReporterContact.purge_after.is_(None))
        .values(purge_after=closed_at + CONTACT_RETENTION_AFTER_CLOSE)
        .execution_options(synchronize_session=False)
    )
