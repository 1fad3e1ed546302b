"""Periodic work, safe to run as often as you like: routing reports and registrations whose
routing job was lost, storing the language choices hops queued, the outbox sweeper,
escalations, reports abandoned mid-session, erasing reporters' numbers past their purge date,
re-notifying registrations nobody has taken, and asking the 90-day check-in by SMS.

Run by `ussd-app alerts sweep` (the production clock process) or by the embedded worker.
"""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING

from ussd_app.cases import checkin_sms, escalation, followup, staging
from ussd_app.messaging import delivery_reports, outbox
from ussd_app.messaging import retention as sms_retention
from ussd_app.reports import retention
from ussd_app.ussd import abandoned, preferences
from ussd_app.ussd import retention as ussd_retention

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
    check_ins_sent: int = 0  # 90-day check-in SMS staged in this pass
    # Reports/registrations committed but never routed (their job was lost), routed by this pass.
    routed: tuple[tuple[str, int], ...] = ()


def purge_expired(container: Container, now: dt.datetime | None = None) -> dict[str, int]:
    """Apply the retention table (`ussd_app.retention_policy`, README "Retention") to every copy
    the database holds; returns how many rows changed, per part. Each part runs even if another
    fails."""
    services = container.services
    counts: dict[str, int] = {}
    for name, purge in (
        ("reporter contacts", retention.purge_due_contacts),
        ("public SMS", sms_retention.purge_public_messages),
        ("inbound SMS senders", sms_retention.purge_inbound_senders),
        ("USSD session records", ussd_retention.purge_session_records),
    ):
        try:
            counts[name] = purge(services, now)
        except Exception:
            log.exception("retention purge of %s failed", name)
    if any(counts.values()):
        log.info("retention purge: %s", ", ".join(f"{k}={v}" for k, v in counts.items()))
    return counts


def run_maintenance(container: Container, now: dt.datetime | None = None) -> MaintenanceResult:
    """One pass; each part is independent, so one failing does not stop the others."""
    services = container.services
    filed: list[str] = []
    escalated: list[str] = []
    swept = outbox.SweepResult(0, 0)
    routed: list[tuple[str, int]] = []
    try:
        # First: a report committed whose routing job was lost gets its alerts staged here.
        routed = list(staging.sweep_unrouted(services, now=now))
    except Exception:
        log.exception("routing sweep failed")
    try:
        # Abandonment is decided on the Redis server's clock, never on this process's `now`.
        filed = abandoned.sweep_idle(services, container.store)
    except Exception:
        log.exception("abandoned-session sweep failed")
    try:
        preferences.flush_pending(services, container.store)
    except Exception:
        log.exception("storing queued language choices failed; the next pass retries")
    try:
        escalated = escalation.escalate_due(services, now)
    except Exception:
        log.exception("escalation pass failed")
    try:
        swept = outbox.sweep(services, now)
    except Exception:
        log.exception("outbox sweep failed")
    purged = purge_expired(container, now).get("reporter contacts", 0)
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
    check_ins = 0
    try:
        check_ins = checkin_sms.send_due(services, now)
    except Exception:
        log.exception("check-in SMS pass failed")
    return MaintenanceResult(
        swept.freed,
        swept.enqueued,
        escalated,
        filed,
        purged,
        tuple(renotified),
        unmatched,
        check_ins,
        tuple(routed),
    )
