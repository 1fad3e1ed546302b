"""A terminal phone that talks to the USSD webhook the way Africa's Talking's gateway does.

It builds `text` by joining every input with `*`, sends a direct dial (`*384*1234*2#`) as the
gateway does (`serviceCode` the registered code, the extension as the first `text`), gives each hop
10 seconds, warns when a service's screen is over the budget or outside GSM-7, treats Ctrl-C and
Ctrl-D as hanging up, and posts the end-of-session notification when asked
(reference/africastalking.md sections 1 and 4).
"""

from __future__ import annotations

import datetime as dt
import errno
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import requests

from ussd_app import gsm7

HOP_TIMEOUT_S = 10.0
GATEWAY_PREFIX = "END [gateway] "


def split_direct_dial(dialled: str, base_code: str | None = None) -> tuple[str, str]:
    """(`serviceCode`, first `text`) the gateway sends for a dialled string.

    `*384*1234*2#` reaches the service as `serviceCode=*384*1234#` and `text=2`: the registered
    code (`base_code`, else the shared-code form `*NNN*NNNN#`, its first two segments) plus the
    extension, its segments joined with `*`."""
    code = dialled.strip()
    body = code.removesuffix("#").removeprefix("*")
    segments = body.split("*") if body else []
    if base_code:
        base = base_code.strip().removesuffix("#").removeprefix("*").split("*")
        if segments[: len(base)] == base:
            return base_code.strip(), "*".join(segments[len(base) :])
        return code, ""
    if len(segments) <= 2:
        return code, ""
    return "*" + "*".join(segments[:2]) + "#", "*".join(segments[2:])


def _unreachable(url: str, exc: requests.RequestException) -> str:
    """One short line for a service that cannot be reached, not urllib3's nested repr."""
    reason = "connection failed"
    cause: BaseException | None = exc
    while cause is not None:
        if isinstance(cause, ConnectionRefusedError) or getattr(cause, "errno", None) == (
            errno.ECONNREFUSED
        ):
            reason = "connection refused (is `ussd-app serve` running?)"
            break
        if "Name or service not known" in str(cause) or "nodename nor servname" in str(cause):
            reason = "unknown host"
            break
        cause = cause.__cause__ or cause.__context__
    else:
        if "refused" in str(exc):
            reason = "connection refused (is `ussd-app serve` running?)"
    return f"could not reach the service at {url.split('?', 1)[0]}: {reason}"


@dataclass
class SimulatedSession:
    """One dial: session id, accumulated text and what the gateway would report at the end."""

    url: str
    phone: str
    service_code: str = "*384*1234#"
    network_code: str = "99999"
    budget: int = 160
    session_id: str = field(default_factory=lambda: "ATUid_" + secrets.token_hex(16))
    text: str = ""
    hops: int = 0
    metadata: list[str] = field(default_factory=list)
    last_response: str = ""
    status: str = "Incomplete"
    error: str = ""
    started: float = field(default_factory=time.monotonic)
    http: requests.Session = field(default_factory=requests.Session)
    dialled: str = ""
    unreachable: bool = False

    @classmethod
    def dialling(
        cls, url: str, phone: str, dialled: str, base_code: str | None = None, **fields: Any
    ) -> SimulatedSession:
        """A session for a dialled string, direct dial included (`*384*1234*2#`)."""
        code, text = split_direct_dial(dialled, base_code)
        return cls(url=url, phone=phone, service_code=code, text=text, dialled=dialled, **fields)

    def dial(self) -> str:
        """The first hop (`text` empty, or a direct dial's extension)."""
        return self._post()

    def answer(self, value: str) -> str:
        """Send one answer; `text` grows the way the gateway builds it."""
        self.text = value if self.text == "" else self.text + "*" + value
        return self._post()

    def warnings(self, body: str) -> list[str]:
        """What a real handset or operator might do badly with this reply (the service's only:
        a line the simulator makes up itself for a failed hop is never warned about)."""
        problems: list[str] = []
        if body.startswith(GATEWAY_PREFIX):
            return problems
        odd = gsm7.non_gsm7_chars(body)
        if odd:
            problems.append(
                f"characters outside GSM-7: {''.join(odd)!r} (the screen becomes UCS-2)"
            )
        else:
            length = gsm7.septets(body)
            if length > self.budget:
                problems.append(f"screen is {length} characters, over the {self.budget} budget")
        return problems

    def _post(self) -> str:
        data = {
            "sessionId": self.session_id,
            "serviceCode": self.service_code,
            "phoneNumber": self.phone,
            "networkCode": self.network_code,
            "text": self.text,
        }
        headers = {"User-Agent": "at-ussd-api/1.0"}
        if self.metadata:
            headers["at-ussd-hop-metadata"] = self.metadata[-1]
        self.hops += 1
        try:
            res = self.http.post(self.url, data=data, headers=headers, timeout=HOP_TIMEOUT_S)
        except requests.Timeout:
            return self._fail(
                f"no answer within {HOP_TIMEOUT_S:.0f} s: the gateway drops the session"
            )
        except requests.RequestException as exc:
            self.unreachable = True
            return self._fail(_unreachable(self.url, exc))
        if res.status_code != 200:
            return self._fail(f"HTTP {res.status_code}: {res.text.strip()[:200]}")
        body = res.text
        if not (body.startswith("CON ") or body.startswith("END ")):
            return self._fail("Response should start with a CON or an END")
        label = res.headers.get("at-ussd-hop-metadata")
        if label:
            self.metadata.append(label)
        self.last_response = body
        if body.startswith("END "):
            self.status = "Success"
        return body

    def _fail(self, message: str) -> str:
        self.status = "Failed"
        self.error = message
        return GATEWAY_PREFIX + message

    @property
    def ended(self) -> bool:
        return self.status in ("Success", "Failed")

    def notification(self) -> dict[str, str]:
        """The end-of-session notification the gateway would post (reference 1.5)."""
        return {
            "date": dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M:%S"),
            "sessionId": self.session_id,
            "serviceCode": self.service_code,
            "networkCode": self.network_code,
            "phoneNumber": self.phone,
            "status": self.status,
            "cost": "0.0000",
            "durationInMillis": str(int((time.monotonic() - self.started) * 1000)),
            "hopsCount": str(self.hops),
            "hopsMetadata": "|".join(self.metadata),
            "input": self.text,
            "lastAppResponse": self.last_response,
            "errorMessage": self.error,
        }

    def post_notification(self, events_url: str) -> int | str:
        """The HTTP status, or one line saying why the notification could not be posted."""
        try:
            res = self.http.post(events_url, data=self.notification(), timeout=HOP_TIMEOUT_S)
        except requests.Timeout:
            return f"no answer within {HOP_TIMEOUT_S:.0f} s"
        except requests.RequestException as exc:
            return _unreachable(events_url, exc)
        return res.status_code


def run_interactive(
    session: SimulatedSession,
    read: Callable[[str], str],
    write: Callable[[str], None],
    events_url: str | None,
) -> SimulatedSession:
    """Drive one session from a keyboard (or any `read`), printing screens like a handset.

    Ctrl-D (EOF) and Ctrl-C both hang up: the session ends Incomplete and, with `events_url`, the
    end-of-session notification is posted as the gateway would."""
    dialled = session.dialled or session.service_code
    write(f"Dialling {dialled} as {session.phone} (session {session.session_id})")
    if session.text:
        write(f"(direct dial: serviceCode {session.service_code}, first text {session.text!r})")
    write("Type an answer and Enter; Ctrl-C or Ctrl-D hangs up.")
    try:
        body = session.dial()
    except KeyboardInterrupt:
        body = ""
        session.status = "Incomplete"
        write("(hung up)")
    while body:
        if body.startswith(GATEWAY_PREFIX):  # a failed hop: one line, no handset screen
            write(body.removeprefix("END "))
            break
        write("-" * 32)
        write(body[4:] if body.startswith(("CON ", "END ")) else body)
        write("-" * 32)
        for warning in session.warnings(body):
            write(f"WARNING: {warning}")
        if body.startswith("END "):
            break
        try:
            value = read("> ")
            body = session.answer(value.strip())
        except (EOFError, KeyboardInterrupt):
            session.status = "Incomplete"
            write("(hung up)")
            break
    if events_url and not session.unreachable:  # nothing to post to when the service is down
        code = session.post_notification(events_url)
        if isinstance(code, int):
            write(f"end-of-session notification ({session.status}) posted: HTTP {code}")
        else:
            write(f"end-of-session notification ({session.status}) not posted: {code}")
    return session
