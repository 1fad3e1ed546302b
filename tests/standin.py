"""A local stand-in for the Africa's Talking SMS API, for tests and demos on 127.0.0.1.

It speaks the part of the protocol the service uses (africastalking.md 2.1-2.3, 4 item 8):
`POST /version1/messaging` with the SDK's form fields, answered `201` with
`Content-Type: application/json` exactly (the SDK returns a string for anything else) and the
documented `SMSMessageData` body. Tests can script failures:

    with AtStandIn() as at:
        sender = AfricasTalkingSmsSender("sandbox", "key", base_url=at.url, timeout_s=1)
        at.set_invalid("+26650000009")          # that number gets 403 InvalidPhoneNumber
        at.fail_next("http_500")                # next request: HTTP 500
        at.fail_next("timeout", delay_s=2)      # next request: answered after 2 s
        at.fail_next("reset")                   # next request: connection reset, no answer
        at.fail_next("insufficient_balance")    # next request: every recipient 405
        at.fail_next("auth")                    # next request: 401 "The supplied authentication..."
        at.messages                             # what was accepted, in order

Run it on its own from the repository with `python -m tests.standin --port 8765`
and set `SMS_BACKEND=africastalking AT_BASE_URL=http://127.0.0.1:8765 AT_API_KEY=dev`.
"""

from __future__ import annotations

import argparse
import json
import secrets
import socket
import struct
import threading
import time
import urllib.parse
import urllib.request
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Literal, get_args

from ussd_app.db import utcnow
from ussd_app.phones import mask

FailureKind = Literal["http_500", "http_503", "timeout", "reset", "insufficient_balance", "auth"]
FAILURE_KINDS: tuple[str, ...] = get_args(FailureKind)
AUTH_FAILURE_TEXT = "The supplied authentication is invalid"
_NUMBER_CHARS = frozenset("+0123456789")


@dataclass(frozen=True)
class StandInMessage:
    """One message the stand-in accepted for one recipient."""

    number: str
    text: str
    message_id: str
    sender_id: str | None
    at: datetime


@dataclass(frozen=True)
class _Failure:
    kind: str
    delay_s: float


class AtStandIn:
    """A threaded HTTP server on 127.0.0.1 that behaves like AT's SMS send endpoint.

    `api_key=None` accepts any non-empty `apiKey` header; a string accepts only that key (the
    other one gets AT's plain-text 401). `username` works the same way.
    """

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 0,
        *,
        api_key: str | None = None,
        username: str | None = None,
        currency: str = "LSL",
        unit_cost: str = "0.8000",
        on_message: Callable[[StandInMessage], None] | None = None,
    ) -> None:
        self.host = host
        self.port = port
        self.api_key = api_key
        self.username = username
        self.currency = currency
        self.unit_cost = unit_cost
        self.on_message = on_message
        self._lock = threading.Lock()
        self._messages: list[StandInMessage] = []
        self._failures: deque[_Failure] = deque()
        self._recipient_status: dict[str, tuple[int, str]] = {}
        self._request_count = 0
        self._connection_count = 0
        self._stopping = threading.Event()
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # -- lifecycle ---------------------------------------------------------------------------

    def start(self) -> AtStandIn:
        if self._server is not None:
            return self
        self._stopping.clear()
        server = ThreadingHTTPServer((self.host, self.port), _make_handler(self))
        server.daemon_threads = True
        self._server = server
        self.port = int(server.server_address[1])
        self._thread = threading.Thread(
            target=server.serve_forever, name="at-standin", kwargs={"poll_interval": 0.05}
        )
        self._thread.daemon = True
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stopping.set()  # wakes handlers sleeping in a scripted "timeout"
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    def __enter__(self) -> AtStandIn:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    @property
    def url(self) -> str:
        """Base URL to use as AT_BASE_URL (the SDK appends /version1/messaging)."""
        if self._server is None:
            raise RuntimeError("the stand-in is not running")
        return f"http://{self.host}:{self.port}"

    # -- state for tests ---------------------------------------------------------------------

    @property
    def messages(self) -> list[StandInMessage]:
        """A copy of every accepted message, one per recipient, oldest first."""
        with self._lock:
            return list(self._messages)

    @property
    def request_count(self) -> int:
        """How many send requests arrived, including those answered with a failure."""
        with self._lock:
            return self._request_count

    @property
    def connection_count(self) -> int:
        """How many TCP connections clients opened (keep-alive reuses one for many requests)."""
        with self._lock:
            return self._connection_count

    def fail_next(self, kind: FailureKind, times: int = 1, *, delay_s: float = 2.0) -> None:
        """Answer the next `times` send requests with a scripted whole-request failure.

        kinds: `http_500`/`http_503` (plain-text error), `timeout` (wait `delay_s`, then answer
        normally, as a slow gateway that still sends would), `reset` (close the connection with
        a TCP reset and no answer), `insufficient_balance` (201 with every recipient 405),
        `auth` (401 "The supplied authentication is invalid").
        """
        if kind not in FAILURE_KINDS:
            raise ValueError(f"unknown failure kind {kind!r}; one of {', '.join(FAILURE_KINDS)}")
        with self._lock:
            self._failures.extend(_Failure(kind, delay_s) for _ in range(times))

    def set_invalid(self, number: str) -> None:
        """Answer this number with 403 InvalidPhoneNumber from now on."""
        self.set_recipient_status(number, 403, "InvalidPhoneNumber")

    def set_recipient_status(self, number: str, status_code: int, status: str) -> None:
        """Answer this number with the given per-recipient status (e.g. 406 UserInBlacklist)."""
        with self._lock:
            self._recipient_status[number] = (status_code, status)

    def clear(self) -> None:
        """Forget messages, scripted failures and per-number statuses."""
        with self._lock:
            self._messages.clear()
            self._failures.clear()
            self._recipient_status.clear()
            self._request_count = 0
            self._connection_count = 0

    def wait_for_messages(self, count: int, timeout_s: float = 5.0) -> list[StandInMessage]:
        """Wait until at least `count` messages arrived (for tests of background workers)."""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            current = self.messages
            if len(current) >= count:
                return current
            time.sleep(0.02)
        raise TimeoutError(f"expected {count} messages, got {len(self.messages)}")

    def post_delivery_report(
        self,
        callback_url: str,
        message_id: str,
        status: str,
        failure_reason: str | None = None,
        *,
        phone_number: str | None = None,
        network_code: str = "99999",
        retry_count: int = 0,
        timeout_s: float = 5.0,
    ) -> int:
        """POST a delivery report (africastalking.md 2.3, form-encoded); returns the HTTP status.

        The phone number defaults to the one the message was sent to. Proxies are bypassed.
        """
        if urllib.parse.urlsplit(callback_url).scheme not in ("http", "https"):
            raise ValueError("callback_url must be an http(s) URL")
        if phone_number is None:
            found = [m for m in self.messages if m.message_id == message_id]
            if not found:
                raise KeyError(f"no message with id {message_id}")
            phone_number = found[0].number
        fields = {
            "id": message_id,
            "status": status,
            "phoneNumber": phone_number,
            "networkCode": network_code,
            "retryCount": str(retry_count),
        }
        if failure_reason:
            fields["failureReason"] = failure_reason
        request = urllib.request.Request(
            callback_url,
            data=urllib.parse.urlencode(fields).encode(),
            headers={"Content-Type": "application/x-www-form-urlencoded"},
            method="POST",
        )
        opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
        try:
            with opener.open(request, timeout=timeout_s) as response:
                return int(response.status)
        except urllib.error.HTTPError as exc:
            return int(exc.code)

    # -- request handling (called from server threads) ---------------------------------------

    def _next_failure(self) -> _Failure | None:
        with self._lock:
            self._request_count += 1
            return self._failures.popleft() if self._failures else None

    def _answer(
        self, form: dict[str, str], api_key: str | None, failure: _Failure | None
    ) -> tuple[int, str, str]:
        """The (status, content type, body) for one send request."""
        if not api_key or (self.api_key is not None and api_key != self.api_key):
            return 401, "text/plain", AUTH_FAILURE_TEXT
        username = form.get("username", "")
        if not username or (self.username is not None and username != self.username):
            return 401, "text/plain", AUTH_FAILURE_TEXT
        if failure is not None and failure.kind == "auth":
            return 401, "text/plain", AUTH_FAILURE_TEXT
        if failure is not None and failure.kind in ("http_500", "http_503"):
            code = 500 if failure.kind == "http_500" else 503
            return code, "text/plain", "Internal Server Error" if code == 500 else "Unavailable"
        for required in ("to", "message"):
            if not form.get(required):
                return 400, "text/plain", f"Request is missing required form field '{required}'"
        numbers = [n.strip() for n in form["to"].split(",") if n.strip()]
        broke = failure is not None and failure.kind == "insufficient_balance"
        recipients = []
        accepted = 0
        for number in numbers:
            with self._lock:
                scripted = self._recipient_status.get(number)
            if broke:
                scripted = (405, "InsufficientBalance")
            elif scripted is None and not _plausible_number(number):
                scripted = (403, "InvalidPhoneNumber")
            if scripted is not None:
                recipients.append(
                    {
                        "statusCode": scripted[0],
                        "number": number,
                        "status": scripted[1],
                        "cost": "0",
                        "messageId": "None",
                    }
                )
                continue
            message = StandInMessage(
                number=number,
                text=form["message"],
                message_id="ATXid_" + secrets.token_hex(16),
                sender_id=form.get("from") or None,
                at=utcnow(),
            )
            with self._lock:
                self._messages.append(message)
            accepted += 1
            recipients.append(
                {
                    "statusCode": 101,
                    "number": number,
                    "status": "Success",
                    "cost": f"{self.currency} {self.unit_cost}",
                    "messageId": message.message_id,
                }
            )
            if self.on_message is not None:
                self.on_message(message)
        total = float(self.unit_cost) * accepted
        body = {
            "SMSMessageData": {
                "Message": f"Sent to {accepted}/{len(numbers)} Total Cost: "
                f"{self.currency} {total:.4f}",
                "Recipients": recipients,
            }
        }
        return 201, "application/json", json.dumps(body)


def _plausible_number(number: str) -> bool:
    return number.startswith("+") and 8 <= len(number) <= 16 and set(number) <= _NUMBER_CHARS


def _make_handler(standin: AtStandIn) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        server_version = "AtStandIn/1.0"
        # Keep-alive, as the real gateway (the sender reuses its connection); headers and body
        # are separate writes, so without TCP_NODELAY each answer would wait for a delayed ACK.
        protocol_version = "HTTP/1.1"
        disable_nagle_algorithm = True

        def log_message(self, format: str, *args: object) -> None:
            """Silence the default per-request stderr line (it would show full numbers)."""

        def setup(self) -> None:
            super().setup()
            with standin._lock:
                standin._connection_count += 1

        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length).decode("utf-8", errors="replace") if length else ""
            if urllib.parse.urlsplit(self.path).path.rstrip("/") != "/version1/messaging":
                self._reply(404, "text/plain", "Not found")
                return
            failure = standin._next_failure()
            if failure is not None and failure.kind == "reset":
                self._reset()
                return
            if failure is not None and failure.kind == "timeout":
                if standin._stopping.wait(failure.delay_s):
                    self._reset()
                    return
                failure = None
            form = {k: v[0] for k, v in urllib.parse.parse_qs(raw, keep_blank_values=True).items()}
            status, content_type, body = standin._answer(form, self.headers.get("apiKey"), failure)
            self._reply(status, content_type, body)

        def do_GET(self) -> None:
            self._reply(404, "text/plain", "Not found")

        def _reply(self, status: int, content_type: str, body: str) -> None:
            data = body.encode()
            try:
                self.send_response(status)
                # Exactly this value: the SDK returns a str for "application/json; charset=..".
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)
            except OSError:
                pass  # the client gave up (its timeout); nothing left to tell it

        def _reset(self) -> None:
            # SO_LINGER with a zero timeout makes close() send RST instead of FIN.
            self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            self.close_connection = True
            self.connection.close()

    return Handler


def main(argv: list[str] | None = None) -> int:
    """Run the stand-in in the foreground and print each message as it is 'delivered'."""
    parser = argparse.ArgumentParser(
        prog="python -m tests.standin",
        description="Local stand-in for the Africa's Talking SMS API",
    )
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8765, help="0 picks a free port")
    parser.add_argument("--api-key", default=None, help="accept only this apiKey (default: any)")
    parser.add_argument(
        "--delivery-report-url",
        default=None,
        help="POST a 'Success' delivery report here shortly after each message",
    )
    args = parser.parse_args(argv)

    def delivered(message: StandInMessage) -> None:
        print(f"delivered to {mask(message.number)}: {message.text}", flush=True)
        if args.delivery_report_url:
            threading.Thread(target=report, args=(message,), daemon=True).start()

    def report(message: StandInMessage) -> None:
        time.sleep(0.5)
        try:
            status = standin.post_delivery_report(
                args.delivery_report_url, message.message_id, "Success"
            )
            print(f"delivery report for {message.message_id}: HTTP {status}", flush=True)
        except OSError as exc:
            print(f"delivery report for {message.message_id} failed: {exc}", flush=True)

    standin = AtStandIn(args.host, args.port, api_key=args.api_key, on_message=delivered)
    standin.start()
    print(f"Africa's Talking stand-in listening on {standin.url}/version1/messaging", flush=True)
    print(f"Use: SMS_BACKEND=africastalking AT_BASE_URL={standin.url} AT_API_KEY=dev", flush=True)
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        print("stopping", flush=True)
    finally:
        standin.stop()
    return 0


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
