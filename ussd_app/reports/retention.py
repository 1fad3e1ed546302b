"""Retention: reporters' numbers are erased when their purge date passes.

Without call-back consent a number is kept 7 days (abuse control), with consent until 30 days
after the case closes (domain-lesotho.md 6.2). The keyed hash stays so repeated abuse can still
be recognised; the number itself is gone.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import update

from ussd_app.container import Services
from ussd_app.db import UnitOfWork, utcnow
from ussd_app.reports.models import ReporterContact

CONTACT_RETENTION_AFTER_CLOSE = dt.timedelta(days=30)


def purge_due_contacts(services: Services, now: dt.datetime | None = None) -> int:
    """Erase the numbers whose purge date has passed; returns how many."""
    now = now or utcnow()
    with services.uow() as uow:
        result = uow.session.execute(
            update(ReporterContact)
            .where(ReporterContact.purge_after <= now, ReporterContact.phone_enc.is_not(None))
            .values(phone_enc=None)
            .execution_options(synchronize_session=False)
        )
        uow.commit()
    return int(getattr(result, "rowcount", 0) or 0)


def schedule_purge_on_close(uow: UnitOfWork, report_id: int, closed_at: dt.datetime) -> None:
    """A closed case keeps a consenting reporter's number for 30 more days, then erases it."""
    uow.session.execute(
        update(ReporterContact)
        .where(ReporterContact.report_id == report_id, ReporterContact.purge_after.is_(None))
        .values(purge_after=closed_at + CONTACT_RETENTION_AFTER_CLOSE)
        .execution_options(synchronize_session=False)
    )
