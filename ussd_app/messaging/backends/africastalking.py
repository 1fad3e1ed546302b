"""Africa's Talking SMS backend, built on the official SDK (africastalking==2.0.3, pinned).

Why the SDK is used the way it is (reference africastalking.md section 3):

* We build our own `SMSService(username, api_key)`; `africastalking.initialize()` replaces
  module globals and would discard any override (3.2).
* Every call passes an explicit `timeout=(connect, read)`; a hung gateway must not hang a
  worker (3.5, SDK issue #69).
* `AT_BASE_URL` points the SDK at another host (the local stand-in, `tests.standin`) by
  overriding `_init_service` in a subclass (3.6 method B). The SDK has no public setting.
* The SDK posts with a bare `requests.post`, a new connection (and TLS handshake) per message;
  the subclass posts the same request through a `requests.Session` per thread instead, so the
  connection is reused.
* The SDK raises `AfricasTalkingException(response.text)` for any non-2xx answer and drops the
  HTTP status. The subclass also wraps the SDK's own (name-mangled) POST helper to remember the
  status of the last response in this thread, so a 5xx can be told from a 4xx. This and
  `_baseUrl` are SDK internals; the version pin in pyproject.toml is what keeps them stable.
* A 2xx answer is parsed by the SDK only when the content type is exactly `application/json`;
  otherwise it returns the text, which we parse ourselves (3.4).
* Proxies: `requests` honours HTTP(S)_PROXY. When AT_BASE_URL is a loopback address the
  constructor adds 127.0.0.1 and localhost to NO_PROXY/no_proxy, or calls to the stand-in would
  be sent to the proxy (3.6 rule 4). Nothing is changed for the real gateway.
"""

from __future__ import annotations

import json
import logging
import os
import re
import threading
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import requests
from africastalking.Service import AfricasTalkingException
from africastalking.SMS import SMSService

from ussd_app.messaging.backends.base import (
    AccountSmsError,
    Outcome,
    RecipientResult,
    SmsError,
    TransientSmsError,
    parse_send_response,
)
from ussd_app.phones import mask

if TYPE_CHECKING:
    from ussd_app.config import Settings

log = logging.getLogger(__name__)

# The SDK's own recipient check (Service.validate_phone); numbers failing it make the SDK raise
# ValueError for the whole request, so we answer for them ourselves and send the rest.
_SDK_PHONE_RE = re.compile(r"^\+\d{1,3}\d{3,}$")
_AUTH_TEXT_RE = re.compile(r"authentication|api ?key|unauthori[sz]ed|forbidden", re.IGNORECASE)
_SERVER_ERROR_TEXT_RE = re.compile(
    r"internal server error|bad gateway|service unavailable|gateway time-?out", re.IGNORECASE
)
_LOOPBACK_HOSTS = ("127.0.0.1", "localhost", "::1")


def _ensure_no_proxy_for_loopback() -> None:
    """Make `requests` bypass any configured proxy for 127.0.0.1 and localhost."""
    for var in ("NO_PROXY", "no_proxy"):
        current = [h.strip() for h in os.environ.get(var, "").split(",") if h.strip()]
        missing = [h for h in ("127.0.0.1", "localhost") if h not in current]
        if missing or var not in os.environ:
            os.environ[var] = ",".join(current + missing)


class _SMSService(SMSService):  # type: ignore[misc]  # the SDK is untyped
    """The SDK's SMSService with an optional base URL and the last HTTP status remembered."""

    def __init__(self, username: str, api_key: str, base_url: str | None = None) -> None:
        # Set before super().__init__, which calls _init_service().
        self._override_base = base_url.rstrip("/") if base_url else None
        self._last = threading.local()
        super().__init__(username, api_key)

    def _init_service(self) -> None:
        super()._init_service()
        if self._override_base:
            self._baseUrl = self._override_base + "/version1"
            self._contentUrl = self._override_base + "/version1"

    # Overrides the SDK's name-mangled `Service.__make_post_request` to see the HTTP status.
    def _Service__make_post_request(
        self,
        url: str,
        headers: dict[str, str],
        data: Any,
        params: Any,
        callback: Any = None,
        timeout: Any = None,
    ) -> Any:
        self._last.status = None
        res = self._http().post(url=url, headers=headers, params=params, data=data, timeout=timeout)
        self._last.status = res.status_code
        if callback is None or callback == {}:
            return res
        callback(res)
        return None

    def _http(self) -> requests.Session:
        """This thread's HTTP session: the connection to the gateway is kept and reused (the
        SDK's own `requests.post` opened a new one, with a new TLS handshake, per message)."""
        session = getattr(self._last, "http", None)
        if session is None:
            session = self._last.http = requests.Session()
        return session

    @property
    def last_status(self) -> int | None:
        status = getattr(self._last, "status", None)
        return status if isinstance(status, int) else None


class AfricasTalkingSmsSender:
    """`SmsSender` over the Africa's Talking bulk SMS API (POST /version1/messaging)."""

    def __init__(
        self,
        username: str,
        api_key: str,
        *,
        sender_id: str | None = None,
        base_url: str | None = None,
        timeout_s: float = 10.0,
    ) -> None:
        if timeout_s <= 0:
            raise ValueError("timeout_s must be positive")
        if base_url and urlsplit(base_url).hostname in _LOOPBACK_HOSTS:
            _ensure_no_proxy_for_loopback()
        self._service = _SMSService(username, api_key, base_url or None)
        self._sender_id = sender_id or None
        # Connect quickly or not at all; the read gets the whole budget (the SDK's own default
        # is (3.05, 9.05)).
        self.timeout: tuple[float, float] = (min(3.05, timeout_s), timeout_s)

    @classmethod
    def from_settings(cls, settings: Settings) -> AfricasTalkingSmsSender:
        return cls(
            settings.at_username,
            settings.at_api_key,
            sender_id=settings.at_sender_id or None,
            base_url=settings.at_base_url or None,
            timeout_s=settings.at_timeout_s,
        )

    @property
    def endpoint(self) -> str:
        """The URL messages are posted to (for logs and the health page)."""
        return str(self._service._baseUrl) + "/messaging"

    def send(self, message: str, recipients: list[str]) -> list[RecipientResult]:
        """Send one text to `recipients`; see `SmsSender.send`."""
        given: object = recipients  # callers outside mypy's view can still pass a string
        if isinstance(given, str):  # the SDK would iterate its characters (3.4)
            raise TypeError("recipients must be a list of numbers, not a string")
        sendable = [n for n in recipients if _SDK_PHONE_RE.match(n)]
        rejected = {
            n: RecipientResult(n, Outcome.PERMANENT, None, "InvalidPhoneNumber", None, None)
            for n in recipients
            if not _SDK_PHONE_RE.match(n)
        }
        for number in rejected:
            log.warning("sms: not sending to malformed number %s", mask(number))
        if not sendable:
            return [rejected[n] for n in recipients]
        sent = {r.number: r for r in self._send(message, sendable)}
        results = [rejected.get(n) or sent[n] for n in recipients]
        log.info(
            "sms: sent to %s via %s: %s",
            ", ".join(mask(n) for n in recipients),
            self.endpoint,
            ", ".join(f"{mask(r.number)}={r.outcome.value}/{r.status}" for r in results),
        )
        return results

    def _send(self, message: str, recipients: list[str]) -> list[RecipientResult]:
        try:
            response = self._service.send(
                message, recipients, sender_id=self._sender_id, timeout=self.timeout
            )
        except requests.Timeout as exc:
            raise TransientSmsError(f"SMS gateway timed out: {type(exc).__name__}") from exc
        except (requests.ConnectionError, requests.exceptions.ChunkedEncodingError) as exc:
            raise TransientSmsError(f"SMS gateway unreachable: {type(exc).__name__}") from exc
        except requests.RequestException as exc:
            raise SmsError(f"SMS request failed: {type(exc).__name__}: {exc}") from exc
        except AfricasTalkingException as exc:
            return self._from_error(str(exc), self._service.last_status, recipients)
        return self._from_response(response, recipients)

    @staticmethod
    def _from_response(response: Any, recipients: list[str]) -> list[RecipientResult]:
        if isinstance(response, str):
            try:
                response = json.loads(response)
            except ValueError:
                raise SmsError(
                    "SMS gateway accepted the request but its answer is not JSON: " + response[:200]
                ) from None
        if not isinstance(response, dict):
            raise SmsError(f"unexpected SMS gateway answer of type {type(response).__name__}")
        return parse_send_response(response, recipients)

    @staticmethod
    def _from_error(text: str, status: int | None, recipients: list[str]) -> list[RecipientResult]:
        """Classify a non-2xx answer: per-recipient JSON, account problem, transient, or other."""
        try:
            body = json.loads(text)
        except ValueError:
            body = None
        if isinstance(body, dict) and "SMSMessageData" in body:
            # e.g. a whole-request 409 (DND) still lists every recipient's status (3.4).
            return parse_send_response(body, recipients)
        snippet = text.strip()[:200]
        client_error = status is None or 400 <= status < 500
        if status in (401, 403) or (client_error and _AUTH_TEXT_RE.search(text)):
            raise AccountSmsError(f"SMS gateway refused our credentials (HTTP {status}): {snippet}")
        if status is not None and (status >= 500 or status in (408, 429)):
            raise TransientSmsError(f"SMS gateway error HTTP {status}: {snippet}")
        if status is None and _SERVER_ERROR_TEXT_RE.search(text):
            raise TransientSmsError(f"SMS gateway error: {snippet}")
        raise SmsError(f"SMS gateway refused the request (HTTP {status}): {snippet}")
