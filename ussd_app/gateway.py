"""What every gateway webhook shares: the address and shared-secret checks, form-field reading."""

from __future__ import annotations

import hmac
import ipaddress
import logging
import re
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import wraps
from typing import TYPE_CHECKING, Any, TypeVar, cast
from urllib.parse import parse_qsl

from flask import Response, current_app, g, request
from werkzeug.exceptions import RequestEntityTooLarge

from ussd_app.rate_limits import address_key

F = TypeVar("F", bound=Callable[..., Any])
Network = ipaddress.IPv4Network | ipaddress.IPv6Network

if TYPE_CHECKING:
    from ussd_app.container import Limiter

log = logging.getLogger(__name__)


class BadRequest(ValueError):
    """A gateway request we cannot accept; the message is sent back with `status` (4xx).

    Bad input is always a 4xx: a retry of the same request cannot succeed, and the gateway
    would otherwise retry it for hours (SMS callbacks for 12 hours)."""

    status = 400


class TooLarge(BadRequest):
    """The body is over MAX_BODY_BYTES."""

    status = 413

    @classmethod
    def over(cls, limit: object) -> TooLarge:
        """The refusal of a body over `limit` bytes (one wording for every path that reads)."""
        return cls(f"body larger than {limit} bytes")


# Longest gateway id we accept on an inbound SMS: it is stored, and it is part of the keys of
# the reply and of an SMS report (at most 160 and 128 characters), so it may never be cut short.
MAX_GATEWAY_ID_LEN = 120
# Control characters (C0 and C1, DEL) other than tab, line feed and carriage return. NUL in
# particular cannot be stored by PostgreSQL; none has any business in a gateway field.
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")
_FORM_CACHE = "gateway_form"
# Strict-Transport-Security on every production response (the desk's and the webhooks').
HSTS = "max-age=31536000; includeSubDomains"


def plain(body: str, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    return Response(body, status=status, mimetype="text/plain", headers=headers)


def client_address(trusted_proxies: int) -> str | None:
    """The address that called this request (see `caller_address`)."""
    return caller_address(
        request.remote_addr, request.headers.get("X-Forwarded-For", ""), trusted_proxies
    )


def caller_address(remote_addr: str | None, forwarded_for: str, trusted_proxies: int) -> str | None:
    """The address that called us: the connection's peer, or, behind `trusted_proxies` reverse
    proxies, the X-Forwarded-For entry the outermost trusted proxy wrote (entries to its left
    are whatever the caller chose to send, so they are never believed). None when a proxy that
    should be there added no entry."""
    if trusted_proxies <= 0:
        return remote_addr
    forwarded = [a.strip() for a in forwarded_for.split(",")]
    forwarded = [a for a in forwarded if a]
    if len(forwarded) < trusted_proxies:
        return None
    return forwarded[-trusted_proxies]


def address_allowed(address: str | None, networks: Sequence[Network]) -> bool:
    """True when `address` is inside one of `networks` (an empty list allows any address)."""
    if not networks:
        return True
    if not address:
        return False
    try:
        ip = ipaddress.ip_address(address.split("%", 1)[0])
    except ValueError:
        return False
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return any(ip in network for network in networks)


def require_gateway_token(view: F) -> F:
    """Refuse (403) a webhook call from outside GATEWAY_ALLOWED_IPS or without the token.

    Africa's Talking does not sign callbacks, so the callback URLs carry a secret token
    (`/ussd?token=...`); when GATEWAY_TOKEN is unset (development) that check is off. The
    optional allow-list (the gateway's published addresses) stops a leaked token being used
    from anywhere else; empty, it allows any address.
    """

    @wraps(view)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        config = current_app.config
        refused = caller_refusal(
            client_address(config.get("GATEWAY_TRUSTED_PROXIES", 0)),
            request.args.get("token", ""),
            config,
            current_app.extensions.get("rate_limits"),
        )
        if refused is not None:
            return plain(refused.body, refused.status, headers=refused.headers)
        return view(*args, **kwargs)

    return cast(F, wrapper)


@dataclass(frozen=True)
class Refusal:
    """A webhook call refused before it is read: what to answer."""

    status: int
    body: str
    headers: dict[str, str] = field(default_factory=dict)


def caller_refusal(
    address: str | None, token: str, config: Mapping[str, Any], limits: Limiter | None
) -> Refusal | None:
    """Why a webhook call from `address` carrying `token` is refused, or None to serve it.

    `config` is the app's config (GATEWAY_NETWORKS, GATEWAY_TOKEN, RATE_LIMIT_SECRET) and
    `limits` the app's rate limits; shared by the Flask views and the lean USSD endpoint
    (ussd_app.ussd.endpoint), so both refuse exactly the same calls."""
    networks: Sequence[Network] = config.get("GATEWAY_NETWORKS", ())
    # The gateway's own addresses (the allow-list) carry every caller's traffic: a limit
    # per address would throttle the whole service, so only other addresses are counted.
    gateway = bool(networks) and address_allowed(address, networks)
    if not gateway and not _address_within_limit(address, limits, config):
        return Refusal(429, "too many requests: slow down\n", {"Retry-After": "60"})
    if networks and not gateway:
        log.warning("gateway callback refused: address %s is not allowed", address)
        return Refusal(403, "forbidden: address not allowed\n")
    expected: str = config["GATEWAY_TOKEN"]
    if expected and not hmac.compare_digest(token.encode(), expected.encode()):
        return Refusal(403, "forbidden: missing or wrong token\n")
    return None


def _address_within_limit(
    address: str | None, limits: Limiter | None, config: Mapping[str, Any]
) -> bool:
    """Count one callback from `address` under WEBHOOK_ADDRESS_LIMIT (every callback from
    outside the allow-list counts, a refused one too); False once it is over. No limits
    configured (an app without them): True.

    The address is the one the allow-list checks (behind GATEWAY_TRUSTED_PROXIES, the entry the
    outermost trusted proxy wrote); one that cannot be told shares a single bucket."""
    secret = config.get("RATE_LIMIT_SECRET", "")
    if limits is None or not secret:
        return True
    return limits.allow("webhook_address", address_key(secret, address or "unknown"))


def gateway_form() -> dict[str, str]:
    """The request's form fields (first value of each), or BadRequest: a body over the size
    limit (413), or a control character (NUL included) in any field's name or value (400)."""
    cached: dict[str, str] | None = g.get(_FORM_CACHE)
    if cached is not None:
        return cached
    try:
        form = _read_form()
    except RequestEntityTooLarge:
        limit = current_app.config.get("MAX_CONTENT_LENGTH")
        raise TooLarge.over(limit) from None
    check_controls(form)
    g.setdefault(_FORM_CACHE, form)
    return form


def check_controls(form: Mapping[str, str]) -> None:
    """BadRequest when any field's name or value holds a control character (NUL included)."""
    for key, value in form.items():
        if _CONTROL.search(key) or _CONTROL.search(value):
            shown = _CONTROL.sub("?", key)[:40]
            raise BadRequest(f"form field {shown!r} holds a control character")


def _read_form() -> dict[str, str]:
    """The form fields, first value of each. The gateway posts a few hundred bytes of
    urlencoded fields on every hop: those are parsed directly from the body (`urlencoded_form`)
    without the cost of werkzeug's form machinery; any other body (multipart) goes to werkzeug.
    The body is read through werkzeug, so MAX_CONTENT_LENGTH applies to both."""
    if request.mimetype != "application/x-www-form-urlencoded":
        return request.form.to_dict()
    raw = request.get_data(cache=True)
    if not raw and request.content_length:
        return request.form.to_dict()  # the body was already parsed into request.form
    return urlencoded_form(raw)


def urlencoded_form(raw: bytes) -> dict[str, str]:
    """An urlencoded body's fields, first value of each, parsed with the standard library's
    parse_qsl as werkzeug itself does. Unlike werkzeug, a body that is not UTF-8 is a clear 400
    (werkzeug silently drops the whole form), and an escape that is not UTF-8 becomes U+FFFD
    (werkzeug keeps it as %XX)."""
    try:
        body = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise BadRequest("body is not UTF-8 text") from None
    try:
        pairs = parse_qsl(
            body, keep_blank_values=True, encoding="utf-8", errors="replace", max_num_fields=100
        )
    except ValueError:
        raise BadRequest("too many form fields") from None
    form: dict[str, str] = {}
    for key, value in pairs:
        form.setdefault(key, value)
    return form


def failure_status(exc: BaseException) -> int:
    """What a webhook answers when handling a well-formed request failed inside.

    503 when the service itself is unavailable (database or Redis down or timing out): the
    gateway's retry is then welcome. 400 when the database refuses a value (a retry of the same
    value cannot succeed). 500 for anything else, a fault of ours (logged with a correlation id).
    """
    from redis.exceptions import ConnectionError as RedisConnectionError
    from redis.exceptions import TimeoutError as RedisTimeoutError
    from sqlalchemy.exc import DataError, DisconnectionError, InterfaceError, OperationalError
    from sqlalchemy.exc import TimeoutError as PoolTimeoutError

    unavailable = (
        OperationalError,
        InterfaceError,
        DisconnectionError,
        PoolTimeoutError,
        RedisConnectionError,
        RedisTimeoutError,
        ConnectionError,
        TimeoutError,
    )
    if isinstance(exc, unavailable):
        return 503
    if isinstance(exc, DataError):
        return 400
    return 500


def form_field(name: str, *, max_len: int, required: bool = True, allow_empty: bool = False) -> str:
    """A form field, or BadRequest naming what is wrong with it."""
    return field_of(
        gateway_form(), name, max_len=max_len, required=required, allow_empty=allow_empty
    )


def field_of(
    form: dict[str, str],
    name: str,
    *,
    max_len: int,
    required: bool = True,
    allow_empty: bool = False,
) -> str:
    """`form_field` on a form already read (the USSD hop reads five fields from one form)."""
    value = form.get(name)
    if value is None:
        if required:
            raise BadRequest(f"missing form field '{name}'")
        return ""
    if not value and not allow_empty and required:
        raise BadRequest(f"form field '{name}' is empty")
    if len(value) > max_len:
        raise BadRequest(f"form field '{name}' is longer than {max_len} characters")
    return value


def correlation_id() -> str:
    """A short random id that ties an error answer to its log line."""
    return uuid.uuid4().hex[:12]
