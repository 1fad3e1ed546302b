"""Delivery reports from the gateway (`POST /sms/delivery`), applied as ordered transitions.

Reports can arrive twice, late, or out of order (a `Buffered` after the `Success`). Each report is
stored once (message id + status), and a message's status only moves forward: sent -> in transit
-> delivered or failed. A final failure hands the message to `services.on_sms_failed`, which tries
the partner's next contact. A report that arrives before the worker has recorded the message id is
kept and applied when the id is recorded.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from ussd_app.container import Services
from ussd_app.db import UnitOfWork, utcnow
from ussd_app.messaging.models import DeliveryReport, OutboundSms, SmsStatus

log = logging.getLogger(__name__)

DELIVERED = frozenset({"Success"})
FINAL_FAILURES = frozenset({"Failed", "Rejected", "AbsentSubscriber", "Expired"})
IN_TRANSIT = frozenset({"Sent", "Submitted", "Buffered"})
KNOWN = DELIVERED | FINAL_FAILURES | IN_TRANSIT


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


def apply_status(
    uow: UnitOfWork, services: Services, row: OutboundSms, status: str, reason: str | None
) -> str:
    """Move `row` forward according to a gateway status; never backwards."""
    if row.status in (SmsStatus.DELIVERED.value, SmsStatus.FAILED.value):
        return "ignored"  # already final; a late or duplicate report changes nothing
    if status in DELIVERED:
        row.status = SmsStatus.DELIVERED.value
        row.gateway_status = status
        row.delivered_at = utcnow()
        return "delivered"
    if status in FINAL_FAILURES:
        row.status = SmsStatus.FAILED.value
        row.gateway_status = status
        row.last_error = f"delivery: {status} {reason or ''}".strip()[:255]
        services.on_sms_failed(uow, row)
        return "failed"
    if status in IN_TRANSIT and row.status == SmsStatus.SENT.value:
        row.gateway_status = status
        return "in_transit"
    return "ignored"


def apply_stored_reports(uow: UnitOfWork, services: Services, row: OutboundSms) -> None:
    """Apply reports that arrived before `row.message_id` was recorded (finals win)."""
    if not row.message_id:
        return
    statuses = uow.session.scalars(
        select(DeliveryReport.status).where(DeliveryReport.message_id == row.message_id)
    ).all()
    for status in sorted(statuses, key=lambda s: s in DELIVERED or s in FINAL_FAILURES):
        apply_status(uow, services, row, status, None)
