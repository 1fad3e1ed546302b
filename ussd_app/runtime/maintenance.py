"""Periodic work, safe to run as often as you like: the outbox sweeper, escalations, reports
abandoned mid-session, erasing reporters' numbers past their purge date, and re-notifying
registrations nobody has taken.

Run by `ussd-app alerts sweep` (the production clock process) or by the embedded worker.
"""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING

from ussd_app.cases import escalation, followup
from ussd_app.messaging import delivery_reports, outbox
from ussd_app.reports import retention
from ussd_app.ussd import abandoned

if TYPE_CHECKING:
    from ussd_app.bootstrap import Container

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class MaintenanceResult:
    freed: int
    enqueued: int
    escalated: list[str]
    abandoned_filed: list[str]
    purged: int = 0
    renotified: tuple[str, ...] = ()
    unmatched_dropped: int = 0  # delivery reports for unknown message ids, past their keep


def run_maintenance(container: Container, now: dt.datetime | None = None) -> MaintenanceResult:
    """One pass; each part is independent, so one failing does not stop the others."""
    services = container.services
    filed: list[str] = []
    escalated: list[str] = []
    swept = outbox.SweepResult(0, 0)
    try:
        # Abandonment is decided on the Redis server's clock, never on this process's `now`.
        filed = abandoned.sweep_idle(services, container.store)
    except Exception:
        log.exception("abandoned-session sweep failed")
    try:
        escalated = escalation.escalate_due(services, now)
    except Exception:
        log.exception("escalation pass failed")
    try:
        swept = outbox.sweep(services, now)
    except Exception:
        log.exception("outbox sweep failed")
    purged = 0
    try:
        purged = retention.purge_due_contacts(services, now)
    except Exception:
        log.exception("reporter-number purge failed")
    renotified: list[str] = []
    try:
        renotified = followup.renotify_due(services, now)
    except Exception:
        log.exception("registration re-notify pass failed")
    unmatched = 0
    try:
        unmatched = delivery_reports.drop_unmatched(services, now)
    except Exception:
        log.exception("dropping unmatched delivery reports failed")
    return MaintenanceResult(
        swept.freed, swept.enqueued, escalated, filed, purged, tuple(renotified), unmatched
    )
