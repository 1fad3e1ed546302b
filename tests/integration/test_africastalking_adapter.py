"""The real Africa's Talking SDK, through our adapter, against the local stand-in on 127.0.0.1."""

from __future__ import annotations

import os
import threading
import time
import urllib.parse
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, HTTPServer

import pytest
import requests

from tests.standin import AtStandIn
from ussd_app.messaging.backends.africastalking import AfricasTalkingSmsSender
from ussd_app.messaging.backends.base import AccountSmsError, Outcome, SmsError, TransientSmsError

API_KEY = "test-key"
A, B, C = "+26659990001", "+26659990002", "+26659990003"


@pytest.fixture
def at() -> Iterator[AtStandIn]:
    with AtStandIn(api_key=API_KEY, username="sandbox") as standin:
        yield standin


@pytest.fixture
def sender(at: AtStandIn) -> AfricasTalkingSmsSender:
    return AfricasTalkingSmsSender(
        "sandbox", API_KEY, base_url=at.url, timeout_s=0.5, sender_id="LSALERT"
    )


def test_accepted_send_returns_message_ids_and_reaches_the_gateway(
    at: AtStandIn, sender: AfricasTalkingSmsSender
) -> None:
    results = sender.send("New P2 report T-5307 Maseru. Details on desk.", [A, B])
    assert [r.outcome for r in results] == [Outcome.ACCEPTED, Outcome.ACCEPTED]
    assert [r.status_code for r in results] == [101, 101]
    assert all(r.message_id and r.message_id.startswith("ATXid_") for r in results)
    assert [(m.number, m.message_id) for m in at.messages] == [
        (A, results[0].message_id),
        (B, results[1].message_id),
    ]
    assert at.messages[0].text == "New P2 report T-5307 Maseru. Details on desk."
    assert at.messages[0].sender_id == "LSALERT"


def test_invalid_number_is_permanent_for_that_recipient_only(
    at: AtStandIn, sender: AfricasTalkingSmsSender
) -> None:
    at.set_invalid(B)
    results = sender.send("hello", [A, B, C])
    assert [r.outcome for r in results] == [Outcome.ACCEPTED, Outcome.PERMANENT, Outcome.ACCEPTED]
    assert results[1].status == "InvalidPhoneNumber"
    assert results[1].status_code == 403
    assert results[1].message_id is None
    assert [m.number for m in at.messages] == [A, C]


def test_malformed_number_is_answered_locally_and_the_rest_is_sent(
    at: AtStandIn, sender: AfricasTalkingSmsSender
) -> None:
    results = sender.send("hello", ["26659990001", A])
    assert [r.outcome for r in results] == [Outcome.PERMANENT, Outcome.ACCEPTED]
    assert [m.number for m in at.messages] == [A]


def test_opted_out_number_is_permanent(at: AtStandIn, sender: AfricasTalkingSmsSender) -> None:
    at.set_recipient_status(A, 406, "UserInBlacklist")
    assert sender.send("hello", [A])[0].outcome is Outcome.PERMANENT


@pytest.mark.parametrize("kind", ["http_500", "http_503"])
def test_server_error_is_transient(
    at: AtStandIn, sender: AfricasTalkingSmsSender, kind: str
) -> None:
    at.fail_next(kind)  # type: ignore[arg-type]
    with pytest.raises(TransientSmsError):
        sender.send("hello", [A])
    assert at.messages == []
    # The failure was scripted once: the retry goes through.
    assert sender.send("hello", [A])[0].outcome is Outcome.ACCEPTED


def test_timeout_is_transient_and_fast(at: AtStandIn) -> None:
    sender = AfricasTalkingSmsSender("sandbox", API_KEY, base_url=at.url, timeout_s=0.3)
    at.fail_next("timeout", delay_s=3)
    started = time.monotonic()
    with pytest.raises(TransientSmsError, match="timed out"):
        sender.send("hello", [A])
    assert time.monotonic() - started < 1.5


def test_connection_reset_is_transient(at: AtStandIn, sender: AfricasTalkingSmsSender) -> None:
    at.fail_next("reset")
    with pytest.raises(TransientSmsError):
        sender.send("hello", [A])


def test_nobody_listening_is_transient() -> None:
    with AtStandIn() as standin:
        url = standin.url
    sender = AfricasTalkingSmsSender("sandbox", API_KEY, base_url=url, timeout_s=0.5)
    with pytest.raises(TransientSmsError, match="unreachable"):
        sender.send("hello", [A])


def test_insufficient_balance_is_an_account_outcome(
    at: AtStandIn, sender: AfricasTalkingSmsSender
) -> None:
    at.fail_next("insufficient_balance")
    results = sender.send("hello", [A, B])
    assert [r.outcome for r in results] == [Outcome.ACCOUNT, Outcome.ACCOUNT]
    assert results[0].status == "InsufficientBalance"
    assert results[0].status_code == 405
    assert at.messages == []


def test_wrong_api_key_is_an_account_error(at: AtStandIn) -> None:
    sender = AfricasTalkingSmsSender("sandbox", "wrong-key", base_url=at.url, timeout_s=0.5)
    with pytest.raises(AccountSmsError, match="authentication is invalid"):
        sender.send("hello", [A])


def test_scripted_auth_failure_is_an_account_error(
    at: AtStandIn, sender: AfricasTalkingSmsSender
) -> None:
    at.fail_next("auth")
    with pytest.raises(AccountSmsError):
        sender.send("hello", [A])


def test_every_failure_raised_is_an_sms_error(
    at: AtStandIn, sender: AfricasTalkingSmsSender
) -> None:
    at.fail_next("http_500")
    with pytest.raises(SmsError):
        sender.send("hello", [A])


def test_proxy_settings_do_not_divert_calls_to_the_stand_in(
    at: AtStandIn, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A proxy that does not exist: without the NO_PROXY entry every call would fail.
    monkeypatch.setenv("HTTP_PROXY", "http://127.0.0.1:9")
    monkeypatch.setenv("http_proxy", "http://127.0.0.1:9")
    monkeypatch.setenv("NO_PROXY", "example.org")  # set, but without the loopback hosts
    monkeypatch.setenv("no_proxy", "example.org")
    sender = AfricasTalkingSmsSender("sandbox", API_KEY, base_url=at.url, timeout_s=0.5)
    assert sender.send("hello", [A])[0].outcome is Outcome.ACCEPTED
    assert os.environ["no_proxy"] == "example.org,127.0.0.1,localhost"


def test_stand_in_answers_with_the_exact_content_type(at: AtStandIn) -> None:
    response = requests.post(
        at.url + "/version1/messaging",
        data={"username": "sandbox", "to": A, "message": "hi", "bulkSMSMode": 1},
        headers={"apiKey": API_KEY, "Accept": "application/json"},
        timeout=2,
        proxies={"http": "", "https": ""},
    )
    assert response.status_code == 201
    assert response.headers["Content-Type"] == "application/json"
    body = response.json()["SMSMessageData"]
    assert body["Message"].startswith("Sent to 1/1")
    assert body["Recipients"][0]["status"] == "Success"


def test_stand_in_clear_and_request_count(at: AtStandIn, sender: AfricasTalkingSmsSender) -> None:
    at.set_invalid(A)
    at.fail_next("http_500", times=2)
    with pytest.raises(TransientSmsError):
        sender.send("x", [A])
    assert at.request_count == 1
    at.clear()
    assert sender.send("x", [A])[0].outcome is Outcome.ACCEPTED
    assert at.wait_for_messages(1)[0].number == A


def test_stand_in_posts_delivery_reports_form_encoded(
    at: AtStandIn, sender: AfricasTalkingSmsSender
) -> None:
    received: list[dict[str, str]] = []

    class Callback(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            raw = self.rfile.read(int(self.headers["Content-Length"])).decode()
            received.append({k: v[0] for k, v in urllib.parse.parse_qs(raw).items()})
            self.send_response(200)
            self.end_headers()

        def log_message(self, format: str, *args: object) -> None:
            pass

    server = HTTPServer(("127.0.0.1", 0), Callback)
    thread = threading.Thread(target=server.handle_request, daemon=True)
    thread.start()
    try:
        message_id = sender.send("hello", [A])[0].message_id
        assert message_id is not None
        url = f"http://127.0.0.1:{server.server_address[1]}/sms/delivery"
        status = at.post_delivery_report(url, message_id, "Failed", "DeliveryFailure")
        thread.join(timeout=5)
    finally:
        server.server_close()
    assert status == 200
    assert received == [
        {
            "id": message_id,
            "status": "Failed",
            "phoneNumber": A,
            "networkCode": "99999",
            "failureReason": "DeliveryFailure",
            "retryCount": "0",
        }
    ]


def test_fail_next_refuses_unknown_kinds(at: AtStandIn) -> None:
    with pytest.raises(ValueError, match="unknown failure kind"):
        at.fail_next("explode")  # type: ignore[arg-type]
