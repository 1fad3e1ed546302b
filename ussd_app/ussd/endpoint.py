"""`POST /ussd` answered in front of Flask: the hot path without the request machinery.

Every caller's key press is one of these hops, and Flask's request handling (request context,
URL matching, before/after hooks, the desk's session and CSRF hooks, the Response object) cost
about as much CPU as the hop's own work (measured in-process: an ordinary hop 1.5 ms through
Flask, 0.7 ms here; README "Benchmarks"). This WSGI middleware answers the ordinary gateway
hop itself, urlencoded with a Content-Length, and hands every other request, a multipart or
chunked `/ussd` included, to the Flask app unchanged, whose `ussd_hop` view answers it the
same way.

Nothing is decided here that the view does not decide the same way: the caller checks
(`gateway.caller_refusal`), the form reading (`gateway.urlencoded_form`, `check_controls`), the
field checks (`views.hop_request`), the reply headers (`views.reply_headers`) and the answer
(`HopService.handle`) are the view's own functions; the settings are read from the Flask app's
config on every request, as the view reads them. Request counts and latencies go to the same
metrics under the route "/ussd"; production responses carry HSTS as the app's hook adds it.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl

from werkzeug.http import HTTP_STATUS_CODES

from ussd_app import metrics as counters
from ussd_app.gateway import (
    HSTS,
    BadRequest,
    TooLarge,
    caller_address,
    caller_refusal,
    check_controls,
    correlation_id,
    urlencoded_form,
)
from ussd_app.ussd.views import hop_request, reply_headers

if TYPE_CHECKING:
    from flask import Flask

    from ussd_app.bootstrap import Container

log = logging.getLogger(__name__)

ROUTE = "/ussd"
FORM_TYPE = "application/x-www-form-urlencoded"
WsgiApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]


class UssdEndpoint:
    """WSGI middleware: ordinary `POST /ussd` hops answered here, everything else by `app`."""

    def __init__(self, app: WsgiApp, flask_app: Flask, container: Container) -> None:
        self._app = app
        self._config = flask_app.config
        self._extensions = flask_app.extensions
        self._container = container
        self._production = container.settings.is_production

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Any:
        if not _ordinary_hop(environ):
            return self._app(environ, start_response)
        started = time.perf_counter()
        status, body, headers = self._answer(environ)
        data = body.encode("utf-8")
        response_headers = [
            ("Content-Type", "text/plain; charset=utf-8"),
            ("Content-Length", str(len(data))),
            *headers.items(),
        ]
        if self._production:
            response_headers.append(("Strict-Transport-Security", HSTS))
        # The status line as werkzeug writes it for the view (its reason phrase, upper-cased).
        start_response(f"{status} {HTTP_STATUS_CODES[status].upper()}", response_headers)
        counters.request_done(ROUTE, status, time.perf_counter() - started)
        return [data]

    def _answer(self, environ: dict[str, Any]) -> tuple[int, str, dict[str, str]]:
        config = self._config
        try:
            address = caller_address(
                environ.get("REMOTE_ADDR"),
                environ.get("HTTP_X_FORWARDED_FOR", ""),
                config.get("GATEWAY_TRUSTED_PROXIES", 0),
            )
            refused = caller_refusal(
                address, _token(environ), config, self._extensions.get("rate_limits")
            )
            if refused is not None:
                return refused.status, refused.body, refused.headers
            try:
                req = hop_request(self._form(environ), self._container.services.normalise_phone)
            except BadRequest as exc:
                return exc.status, f"bad request: {exc}\n", {}
            # The hop service never raises: it decides what a failure answers.
            reply = self._container.hops.handle(req)
            return 200, reply.body, reply_headers(reply)
        except Exception:  # a fault of ours outside the hop: logged, answered 500
            cid = correlation_id()
            log.exception("ussd endpoint failed cid=%s", cid)
            return 500, f"error {cid}\n", {"X-Correlation-Id": cid}

    def _form(self, environ: dict[str, Any]) -> dict[str, str]:
        """The body's fields: over MAX_CONTENT_LENGTH is a 413 before anything is read."""
        length = int(environ["CONTENT_LENGTH"])
        limit = self._config.get("MAX_CONTENT_LENGTH")
        if limit is not None and length > limit:
            raise TooLarge.over(limit)
        form = urlencoded_form(environ["wsgi.input"].read(length) if length else b"")
        check_controls(form)
        return form


def _ordinary_hop(environ: dict[str, Any]) -> bool:
    """A POST to exactly /ussd with an urlencoded body of a stated length (the gateway's)."""
    if environ.get("PATH_INFO") != ROUTE or environ.get("REQUEST_METHOD") != "POST":
        return False
    if environ.get("HTTP_TRANSFER_ENCODING"):
        return False  # chunked: werkzeug reads it
    if not str(environ.get("CONTENT_LENGTH", "")).isdigit():
        return False
    mimetype = str(environ.get("CONTENT_TYPE", "")).split(";", 1)[0].strip().lower()
    return mimetype == FORM_TYPE


def _token(environ: dict[str, Any]) -> str:
    """The first `token` in the query string (as `request.args.get("token", "")`)."""
    query = str(environ.get("QUERY_STRING", ""))
    if not query:
        return ""
    for key, value in parse_qsl(query, keep_blank_values=True):
        if key == "token":
            return value
    return ""
