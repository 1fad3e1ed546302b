"""Per-recipient status codes and whole-request failures map to the right outcome or error."""

from __future__ import annotations

import json

import pytest

from ussd_app.config import Settings
from ussd_app.messaging.backends.africastalking import AfricasTalkingSmsSender
from ussd_app.messaging.backends.base import (
    AccountSmsError,
    Outcome,
    SmsError,
    TransientSmsError,
    classify_status_code,
    make_sms_sender,
    parse_send_response,
)
from ussd_app.messaging.backends.console import ConsoleSmsSender


@pytest.mark.parametrize(
    ("code", "outcome"),
    [
        (100, Outcome.ACCEPTED),
        (101, Outcome.ACCEPTED),
        (102, Outcome.ACCEPTED),
        (500, Outcome.TRANSIENT),
        (501, Outcome.TRANSIENT),
        (401, Outcome.PERMANENT),
        (403, Outcome.PERMANENT),
        (404, Outcome.PERMANENT),
        (406, Outcome.PERMANENT),
        (407, Outcome.PERMANENT),
        (409, Outcome.PERMANENT),
        (502, Outcome.PERMANENT),
        (402, Outcome.ACCOUNT),
        (405, Outcome.ACCOUNT),
    ],
)
def test_documented_status_codes(code: int, outcome: Outcome) -> None:
    assert classify_status_code(code) is outcome


@pytest.mark.parametrize(
    ("code", "outcome"),
    [
        (103, Outcome.ACCEPTED),
        (503, Outcome.TRANSIENT),
        (410, Outcome.PERMANENT),
        (None, Outcome.PERMANENT),
    ],
)
def test_unknown_status_codes_are_judged_by_class(code: int | None, outcome: Outcome) -> None:
    assert classify_status_code(code) is outcome


def _body(*recipients: dict[str, object]) -> dict[str, object]:
    return {"SMSMessageData": {"Message": "Sent to 1/2", "Recipients": list(recipients)}}


def test_parse_response_gives_one_result_per_number_in_request_order() -> None:
    body = _body(
        {
            "statusCode": 403,
            "number": "+2665012",
            "status": "InvalidPhoneNumber",
            "cost": "0",
            "messageId": "None",
        },
        {
            "statusCode": 101,
            "number": "+26658123456",
            "status": "Success",
            "cost": "KES 0.8000",
            "messageId": "ATXid_1",
        },
    )
    results = parse_send_response(body, ["+26658123456", "+2665012"])
    assert [r.number for r in results] == ["+26658123456", "+2665012"]
    ok, bad = results
    assert ok.outcome is Outcome.ACCEPTED
    assert ok.message_id == "ATXid_1"
    assert ok.cost == "KES 0.8000"
    assert ok.status_code == 101
    assert ok.status == "Success"
    assert ok.accepted
    assert bad.outcome is Outcome.PERMANENT
    assert bad.message_id is None
    assert bad.status_code == 403


def test_parse_response_marks_a_number_missing_from_the_answer_transient() -> None:
    results = parse_send_response(_body(), ["+26658123456"])
    assert results[0].outcome is Outcome.TRANSIENT
    assert results[0].status == "NoResponse"


def test_parse_response_handles_string_status_codes_and_duplicates() -> None:
    body = _body(
        {"statusCode": "101", "number": "+26658123456", "status": "Success", "messageId": "A"},
        {"statusCode": "102", "number": "+26658123456", "status": "Queued", "messageId": "B"},
    )
    results = parse_send_response(body, ["+26658123456", "+26658123456"])
    assert [r.message_id for r in results] == ["A", "B"]


@pytest.mark.parametrize(
    "body", [{}, {"SMSMessageData": {}}, {"SMSMessageData": {"Recipients": "x"}}]
)
def test_parse_response_rejects_a_body_of_the_wrong_shape(body: dict[str, object]) -> None:
    with pytest.raises(SmsError):
        parse_send_response(body, ["+26658123456"])


# -- whole-request errors, as the adapter sees them from the SDK ---------------------------------

NUMBERS = ["+26658123456"]


@pytest.mark.parametrize(
    ("text", "status"),
    [
        ("The supplied authentication is invalid", 401),
        ("The supplied authentication is invalid", None),
        ("Forbidden", 403),
        ("Invalid apiKey", 400),
    ],
)
def test_auth_failures_are_account_errors(text: str, status: int | None) -> None:
    with pytest.raises(AccountSmsError):
        AfricasTalkingSmsSender._from_error(text, status, NUMBERS)


@pytest.mark.parametrize(
    ("text", "status"),
    [
        ("Internal Server Error", 500),
        ("<html>oops</html>", 502),
        ("Unavailable", 503),
        ("slow down", 429),
        ("<html><title>502 Bad Gateway</title></html>", None),
    ],
)
def test_server_errors_are_transient(text: str, status: int | None) -> None:
    with pytest.raises(TransientSmsError):
        AfricasTalkingSmsSender._from_error(text, status, NUMBERS)


def test_other_refusals_are_plain_sms_errors() -> None:
    with pytest.raises(SmsError) as info:
        AfricasTalkingSmsSender._from_error("Bad request: invalid message", 400, NUMBERS)
    assert not isinstance(info.value, TransientSmsError | AccountSmsError)


def test_whole_request_error_with_recipients_body_is_reported_per_recipient() -> None:
    body = _body(
        {
            "statusCode": 409,
            "number": NUMBERS[0],
            "status": "DoNotDisturbRejection",
            "messageId": "None",
        }
    )
    results = AfricasTalkingSmsSender._from_error(json.dumps(body), 409, NUMBERS)
    assert results[0].outcome is Outcome.PERMANENT
    assert results[0].status == "DoNotDisturbRejection"


def test_a_string_answer_is_parsed_as_json() -> None:
    # The SDK returns text when the content type is not exactly application/json (reference 3.4).
    text = json.dumps(
        _body({"statusCode": 101, "number": NUMBERS[0], "status": "Success", "messageId": "X"})
    )
    results = AfricasTalkingSmsSender._from_response(text, NUMBERS)
    assert results[0].outcome is Outcome.ACCEPTED
    assert results[0].message_id == "X"


@pytest.mark.parametrize("answer", ["<xml/>", 42, ["list"]])
def test_an_unreadable_success_answer_is_an_sms_error(answer: object) -> None:
    with pytest.raises(SmsError):
        AfricasTalkingSmsSender._from_response(answer, NUMBERS)


def test_factory_chooses_the_backend_from_settings(tmp_path: object) -> None:
    console = make_sms_sender(Settings(sms_backend="console", instance_dir=str(tmp_path)))
    assert isinstance(console, ConsoleSmsSender)
    at = make_sms_sender(
        Settings(
            sms_backend="africastalking",
            at_api_key="k",
            at_base_url="http://127.0.0.1:9",
            at_timeout_s=4,
        )
    )
    assert isinstance(at, AfricasTalkingSmsSender)
    assert at.endpoint == "http://127.0.0.1:9/version1/messaging"
    assert at.timeout == (3.05, 4)


def test_factory_uses_the_real_hosts_without_a_base_url() -> None:
    live = AfricasTalkingSmsSender("myapp", "k")
    sandbox = AfricasTalkingSmsSender("sandbox", "k")
    assert live.endpoint == "https://api.africastalking.com/version1/messaging"
    assert sandbox.endpoint == "https://api.sandbox.africastalking.com/version1/messaging"


def test_a_string_of_recipients_is_refused() -> None:
    with pytest.raises(TypeError):
        AfricasTalkingSmsSender("sandbox", "k").send("hi", "+26658123456")  # type: ignore[arg-type]
