"""Delivery reports from the gateway (`POST /sms/delivery`), applied as ordered transitions.

Reports can arrive twice, late, or out of order (a `Buffered` after the `Success`). Each report is
stored once (message id + status), and a message's status only moves forward (the table in
`ussd_app.messaging.status`): sent -> delivered or failed. A final failure goes to
`services.sms_events.on_failed`, which tries the partner's next contact. A report that arrives
before the worker has recorded the message id is kept and applied when the id is recorded.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Mapping, Sequence

from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError

from ussd_app.container import Services
from ussd_app.db import UnitOfWork, utcnow
from ussd_app.messaging.models import DeliveryReport, OutboundSms, SmsStatus
from ussd_app.messaging.status import SmsActor, allowed, transition

log = logging.getLogger(__name__)

DELIVERED = frozenset({"Success"})
FINAL_FAILURES = frozenset({"Failed", "Rejected", "AbsentSubscriber", "Expired"})
IN_TRANSIT = frozenset({"Sent", "Submitted", "Buffered"})
KNOWN = DELIVERED | FINAL_FAILURES | IN_TRANSIT
# A report about a message id we never recorded is kept this long (the worker may record the id
# a little after the gateway reports on it), then dropped by the sweeper and counted.
UNMATCHED_KEEP = dt.timedelta(hours=48)


class BadDeliveryReport(ValueError):
    """The delivery report lacks what we need to apply it."""


def record_delivery_report(services: Services, form: Mapping[str, str]) -> str:
    """Store and apply one delivery report; returns what happened (for logs and tests)."""
    message_id = (form.get("id") or "").strip()
    status = (form.get("status") or "").strip()
    if not message_id:
        raise BadDeliveryReport("missing form field 'id'")
    if not status:
        raise BadDeliveryReport("missing form field 'status'")
    if len(message_id) > 128 or len(status) > 32:
        raise BadDeliveryReport("form field 'id' or 'status' is too long")
    if status not in KNOWN:
        log.warning("delivery report with unknown status %r stored but not applied", status)
    reason = (form.get("failureReason") or "").strip()[:64] or None
    with services.uow() as uow:
        uow.session.add(DeliveryReport(message_id=message_id, status=status, failure_reason=reason))
        try:
            uow.session.flush()
        except IntegrityError:
            return "duplicate"
        row = uow.session.scalar(select(OutboundSms).where(OutboundSms.message_id == message_id))
        if row is None:
            uow.commit()
            return "stored"  # applied when the worker records this message id
        outcome = apply_status(uow, services, row, status, reason)
        uow.commit()
        return outcome


def drop_unmatched(services: Services, now: dt.datetime | None = None) -> int:
    """Delete delivery reports older than UNMATCHED_KEEP whose message id matches no message
    of ours (unknown ids are kept for a bounded time only); returns how many were dropped."""
    cutoff = (now or utcnow()) - UNMATCHED_KEEP
    known = select(OutboundSms.message_id).where(OutboundSms.message_id.is_not(None))
    with services.uow() as uow:
        result = uow.session.execute(
            delete(DeliveryReport)
            .where(DeliveryReport.received_at < cutoff, DeliveryReport.message_id.not_in(known))
            .execution_options(synchronize_session=False)
        )
        uow.commit()
    dropped = int(getattr(result, "rowcount", 0) or 0)
    if dropped:
        log.warning("dropped %d delivery reports for unknown message ids", dropped)
    return dropped


def apply_status(
    uow: UnitOfWork, services: Services, row: OutboundSms, status: str, reason: str | None
) -> str:
    """Move `row` forward according to a gateway status; never backwards."""
    now = utcnow()
    if status in DELIVERED and allowed(row.status, SmsStatus.DELIVERED, SmsActor.GATEWAY):
        transition(row, SmsStatus.DELIVERED, SmsActor.GATEWAY, now=now)
        row.gateway_status = status
        return "delivered"
    if status in FINAL_FAILURES and allowed(row.status, SmsStatus.FAILED, SmsActor.GATEWAY):
        error = f"delivery: {status} {reason or ''}".strip()
        transition(row, SmsStatus.FAILED, SmsActor.GATEWAY, now=now, error=error)
        row.gateway_status = status
        services.sms_events.on_failed(services, uow, row)
        return "failed"
    if status in IN_TRANSIT and row.status == SmsStatus.SENT.value:
        row.gateway_status = status
        return "in_transit"
    return "ignored"


def apply_stored_reports(uow: UnitOfWork, services: Services, rows: Sequence[OutboundSms]) -> None:
    """Apply reports that arrived before the rows' `message_id`s were recorded (finals win);
    one query for all the rows just recorded as sent."""
    by_id = {row.message_id: row for row in rows if row.message_id}
    if not by_id:
        return
    stored = uow.session.execute(
        select(DeliveryReport.message_id, DeliveryReport.status).where(
            DeliveryReport.message_id.in_(list(by_id))
        )
    ).all()
    for message_id, status in sorted(
        stored, key=lambda r: (r.message_id, r.status in DELIVERED or r.status in FINAL_FAILURES)
    ):
        apply_status(uow, services, by_id[message_id], status, None)
