"""SMS webhooks: delivery reports (`POST /sms/delivery`) and inbound messages (`POST /sms/inbound`).

Unlike the USSD hop, an inbound SMS that we fail to handle answers 500 on purpose: the gateway
then retries it every minute for 12 hours, so an SMS report is never dropped by a passing fault.
"""

from __future__ import annotations

import logging

from flask import Blueprint, Response, current_app, request

from ussd_app.services import delivery_reports, sms_commands
from ussd_app.services.hops import correlation_id
from ussd_app.web.gateway import plain, require_gateway_token

log = logging.getLogger(__name__)
bp = Blueprint("sms", __name__)


@bp.post("/sms/delivery")
@require_gateway_token
def delivery_report() -> Response:
    """Apply a delivery report to the message it is about; duplicates are harmless."""
    services = current_app.extensions["ussd"].services
    try:
        outcome = delivery_reports.record_delivery_report(services, request.form.to_dict())
    except delivery_reports.BadDeliveryReport as exc:
        return plain(f"bad request: {exc}\n", 400)
    except Exception:
        cid = correlation_id()
        log.exception("delivery report failed cid=%s", cid)
        return plain(f"error {cid}\n", 500)
    return plain(f"OK {outcome}\n")


@bp.post("/sms/inbound")
@require_gateway_token
def inbound_sms() -> Response:
    """Handle an inbound SMS command once, however often the gateway re-sends it."""
    services = current_app.extensions["ussd"].services
    try:
        command = sms_commands.handle_inbound(services, request.form.to_dict())
    except sms_commands.BadInboundSms as exc:
        return plain(f"bad request: {exc}\n", 400)
    except Exception:
        cid = correlation_id()
        log.exception("inbound sms failed cid=%s; the gateway will retry", cid)
        return plain(f"error {cid}\n", 500)
    return plain(f"OK {command}\n")
