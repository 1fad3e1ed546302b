"""SMS webhooks: delivery reports (`POST /sms/delivery`) and inbound messages (`POST /sms/inbound`).

What they answer (README "What each webhook answers"): 2xx for what was handled and for what
was already seen (a duplicate); 4xx for bad input (over the size limit, a control character, a
missing or over-long field), which no retry can fix; 503 only when the service itself is
unavailable (database or Redis down), so the gateway's retry (every minute for 12 hours) is
then welcome and an SMS report is never dropped by a passing fault.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from flask import Blueprint, Response, current_app

from ussd_app.container import Services
from ussd_app.gateway import (
    BadRequest,
    correlation_id,
    failure_status,
    gateway_form,
    plain,
    require_gateway_token,
)
from ussd_app.inbound import commands as sms_commands
from ussd_app.messaging import delivery_reports

log = logging.getLogger(__name__)
bp = Blueprint("sms", __name__)


def _handle(
    work: Callable[[Services, dict[str, str]], str], bad: type[ValueError], what: str
) -> Response:
    """Run one webhook's service call: 4xx for a bad request, 503 when the service is
    unavailable (so the gateway retries), 200 with the outcome otherwise."""
    services = current_app.extensions["ussd"].services
    try:
        form = gateway_form()
    except BadRequest as exc:
        return plain(f"bad request: {exc}\n", exc.status)
    try:
        outcome = work(services, form)
    except bad as exc:
        return plain(f"bad request: {exc}\n", 400)
    except Exception as exc:
        cid = correlation_id()
        status = failure_status(exc)
        log.exception("%s failed cid=%s status=%s", what, cid, status)
        return plain(f"error {cid}\n", status)
    return plain(f"OK {outcome}\n")


@bp.post("/sms/delivery")
@require_gateway_token
def delivery_report() -> Response:
    """Apply a delivery report to the message it is about; duplicates are harmless."""
    return _handle(
        delivery_reports.record_delivery_report,
        delivery_reports.BadDeliveryReport,
        "delivery report",
    )


@bp.post("/sms/inbound")
@require_gateway_token
def inbound_sms() -> Response:
    """Handle an inbound SMS command once, however often the gateway re-sends it; replies are
    limited per sender (SMS_REPLY_LIMIT)."""
    limits = current_app.extensions["rate_limits"]

    def handle(services: Services, form: dict[str, str]) -> str:
        return sms_commands.handle_inbound(
            services, form, allow_reply=lambda key: bool(limits.allow("sms_replies", key))
        )

    return _handle(handle, sms_commands.BadInboundSms, "inbound sms")
