"""SMS webhooks: delivery reports (`POST /sms/delivery`) and inbound messages (`POST /sms/inbound`).

Unlike the USSD hop, an inbound SMS that we fail to handle answers 500 on purpose: the gateway
then retries it every minute for 12 hours, so an SMS report is never dropped by a passing fault.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from flask import Blueprint, Response, current_app, request

from ussd_app.container import Services
from ussd_app.gateway import correlation_id, plain, require_gateway_token
from ussd_app.inbound import commands as sms_commands
from ussd_app.messaging import delivery_reports

log = logging.getLogger(__name__)
bp = Blueprint("sms", __name__)


def _handle(
    work: Callable[[Services, dict[str, str]], str], bad: type[ValueError], what: str
) -> Response:
    """Run one webhook's service call: 400 for a bad request, 500 (so the gateway retries)
    for anything else, 200 with the outcome otherwise."""
    services = current_app.extensions["ussd"].services
    try:
        outcome = work(services, request.form.to_dict())
    except bad as exc:
        return plain(f"bad request: {exc}\n", 400)
    except Exception:
        cid = correlation_id()
        log.exception("%s failed cid=%s; the gateway will retry", what, cid)
        return plain(f"error {cid}\n", 500)
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
    """Handle an inbound SMS command once, however often the gateway re-sends it."""
    return _handle(sms_commands.handle_inbound, sms_commands.BadInboundSms, "inbound sms")
