"""The USSD webhook (`POST /ussd`) and the end-of-session notification (`POST /ussd/events`)."""

from __future__ import annotations

import logging
import re
from collections.abc import Callable

from flask import Blueprint, Response, current_app

from ussd_app.bootstrap import Container
from ussd_app.gateway import (
    BadRequest,
    correlation_id,
    failure_status,
    field_of,
    gateway_form,
    plain,
    require_gateway_token,
)
from ussd_app.phones import InvalidPhoneNumber
from ussd_app.ussd import session_events
from ussd_app.ussd.hops import HopReply, UssdRequest

log = logging.getLogger(__name__)
bp = Blueprint("ussd", __name__)

_SESSION_ID = re.compile(r"^[A-Za-z0-9_.:\-]{1,128}$")


def _container() -> Container:
    container: Container = current_app.extensions["ussd"]
    return container


def parse_hop() -> UssdRequest:
    """Read and check the gateway's form fields (reference/africastalking.md 1.1)."""
    return hop_request(gateway_form(), _container().services.normalise_phone)


def hop_request(form: dict[str, str], normalise_phone: Callable[[str], str]) -> UssdRequest:
    """The hop in `form`, checked, or BadRequest naming the field that is wrong (shared with
    the lean endpoint, ussd_app.ussd.endpoint)."""
    session_id = field_of(form, "sessionId", max_len=128)
    if not _SESSION_ID.match(session_id):
        raise BadRequest("form field 'sessionId' has characters a session id cannot have")
    raw_phone = field_of(form, "phoneNumber", max_len=32)
    try:
        phone = normalise_phone(raw_phone)
    except InvalidPhoneNumber as exc:
        raise BadRequest(f"form field 'phoneNumber' is not a phone number ({exc})") from None
    return UssdRequest(
        session_id=session_id,
        service_code=field_of(form, "serviceCode", max_len=64),
        phone=phone,
        network_code=field_of(form, "networkCode", max_len=16, allow_empty=True),
        text=field_of(form, "text", max_len=1024, allow_empty=True),
    )


def reply_headers(reply: HopReply) -> dict[str, str]:
    """The hop reply's headers: the screen label, which the gateway echoes back and lists in
    the end-of-session notification, and the correlation id of a hop that failed inside."""
    headers = {"at-ussd-hop-metadata": reply.screen[:99]}
    if reply.correlation_id:
        headers["X-Correlation-Id"] = reply.correlation_id
    return headers


@bp.post("/ussd")
@require_gateway_token
def ussd_hop() -> Response:
    """Answer one hop with `CON …` or `END …`; an internal failure still answers `END`.

    Ordinary gateway hops (urlencoded, with a Content-Length) are answered by the lean endpoint
    in front of Flask (ussd_app.ussd.endpoint) and never reach this view; it serves the rest
    (multipart, chunked) the same way."""
    try:
        req = parse_hop()
    except BadRequest as exc:
        return plain(f"bad request: {exc}\n", exc.status)
    # The hop service never raises: it decides what a failure answers (the reply follows the
    # commit; see HopService.handle), so this view only puts it on the wire.
    reply = _container().hops.handle(req)
    return plain(reply.body, headers=reply_headers(reply))


@bp.post("/ussd/events")
@require_gateway_token
def ussd_session_ended() -> Response:
    """Store the end-of-session notification (status, hops, duration, last screen).

    4xx for bad input, 200 for a notification stored or already seen, 503 only when the
    service is unavailable (so the gateway's retry is welcome)."""
    container = _container()
    try:
        form = gateway_form()
        session_events.record_session_end(
            container.services, form, language_of=container.hops.language_of
        )
    except BadRequest as exc:
        return plain(f"bad request: {exc}\n", exc.status)
    except ValueError as exc:
        return plain(f"bad request: {exc}\n", 400)
    except Exception as exc:
        cid = correlation_id()
        status = failure_status(exc)
        log.exception("session-end notification failed cid=%s status=%s", cid, status)
        return plain(f"error {cid}\n", status)
    try:
        container.hops.session_ended(form)
    except Exception:
        # Stored above; the sweeper files an abandoned urgent report if this failed.
        log.exception("abandoned-report check failed cid=%s", correlation_id())
    return plain("OK")
