"""A terminal phone that talks to the USSD webhook the way Africa's Talking's gateway does.

It builds `text` by joining every input with `*`, gives each hop 10 seconds, warns when a screen
is over the budget or outside GSM-7, and posts the end-of-session notification when asked
(reference/africastalking.md sections 1 and 4).
"""

from __future__ import annotations

import datetime as dt
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import requests

from ussd_app import gsm7

HOP_TIMEOUT_S = 10.0


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

    def dial(self) -> str:
        """The first hop (`text` empty)."""
        return self._post()

    def answer(self, value: str) -> str:
        """Send one answer; `text` grows the way the gateway builds it."""
        self.text = value if self.text == "" else self.text + "*" + value
        return self._post()

    def warnings(self, body: str) -> list[str]:
        """What a real handset or operator might do badly with this reply."""
        problems = []
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
            return self._fail(f"could not reach the service: {exc}")
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
        return "END [gateway] " + message

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

    def post_notification(self, events_url: str) -> int:
        res = self.http.post(events_url, data=self.notification(), timeout=HOP_TIMEOUT_S)
        return res.status_code


def run_interactive(
    session: SimulatedSession,
    read: Callable[[str], str],
    write: Callable[[str], None],
    events_url: str | None,
) -> SimulatedSession:
    """Drive one session from a keyboard (or any `read`), printing screens like a handset."""
    write(f"Dialling {session.service_code} as {session.phone} (session {session.session_id})")
    body = session.dial()
    while True:
        write("-" * 32)
        write(body[4:] if body.startswith(("CON ", "END ")) else body)
        write("-" * 32)
        for warning in session.warnings(body):
            write(f"WARNING: {warning}")
        if body.startswith("END "):
            break
        try:
            value = read("> ")
        except EOFError:
            session.status = "Incomplete"
            write("(hung up)")
            break
        body = session.answer(value.strip())
    if events_url:
        code = session.post_notification(events_url)
        write(f"end-of-session notification ({session.status}) posted: HTTP {code}")
    return session
