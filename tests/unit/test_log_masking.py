"""Logs cannot leak: one masking step covers messages, arguments, extras and tracebacks, in any
number format, with masks that tell numbers apart; secrets and query strings never appear."""

from __future__ import annotations

import io
import json
import logging
import re
from collections.abc import Iterator

import pytest

from ussd_app import phones
from ussd_app.logging_setup import (
    REDACTED,
    StripQueryFilter,
    build_handler,
    scrub,
    set_secrets,
)
from ussd_app.phones import mask

NUMBER = "+26658123456"
DESK = "+26662113456"  # the same last 4 digits as NUMBER


@pytest.fixture(autouse=True)
def _mask_key() -> Iterator[None]:
    phones.set_mask_key("unit-test-phone-hash-key-0123456789abcdef")
    yield
    set_secrets(())


@pytest.fixture
def capture() -> Iterator[tuple[logging.Logger, io.StringIO]]:
    """A logger of our own with the production handler on it, writing to a buffer."""
    stream = io.StringIO()
    logger = logging.getLogger("tests.log_masking")
    logger.propagate = False
    logger.setLevel(logging.DEBUG)
    handler = build_handler(stream)
    logger.addHandler(handler)
    yield logger, stream
    logger.removeHandler(handler)


def no_digits_of(number: str, text: str) -> None:
    """Neither the number nor its last 4 digits (nor the national part) are in `text`."""
    digits = re.sub(r"\D", "", number)
    for piece in (digits, digits[-8:], digits[-4:]):
        assert piece not in re.sub(r"[ \-]", "", text), (piece, text)


class TestMask:
    def test_keeps_the_country_code_and_ends_in_a_keyed_tag(self) -> None:
        assert re.fullmatch(r"\+266\*{8}#[0-9a-f]{8}", mask(NUMBER))
        assert re.fullmatch(r"\+27\*{9}#[0-9a-f]{8}", mask("+27821234567"))
        no_digits_of(NUMBER, mask(NUMBER))

    def test_two_numbers_with_the_same_last_digits_get_different_masks(self) -> None:
        assert NUMBER[-4:] == DESK[-4:]
        assert mask(NUMBER) != mask(DESK)

    def test_one_number_has_one_mask_whatever_its_format(self) -> None:
        written = ["+26658123456", "58123456", "5812 3456", "5812-3456", "0026658123456"]
        assert {mask(w) for w in written} == {mask(NUMBER)}
        assert mask("082 123 4567") == mask("+27821234567")

    def test_the_tag_depends_on_the_key_and_is_not_the_lookup_hash(self) -> None:
        key = "unit-test-phone-hash-key-0123456789abcdef"
        first = mask(NUMBER)
        phones.set_mask_key("another-key-entirely-0123456789abcdefgh")
        assert mask(NUMBER) != first
        tag = first.rsplit("#", 1)[1]
        assert not phones.phone_hash(NUMBER, key).startswith(tag)

    def test_nothing_and_junk(self) -> None:
        assert mask(None) == "-" and mask("") == "-"
        assert mask("12").startswith("**#")


@pytest.mark.parametrize(
    "written",
    [
        "+26658123456",
        "58123456",
        "5812 3456",
        "5812-3456",
        "+266 5812 3456",
        "(+266) 5812 3456",
        "00266 5812 3456",
        "26658123456",
        "+27 82 123 4567",
        "+27821234567",
        "082 123 4567",
        "0821234567",
    ],
)
def test_every_number_format_is_masked(written: str) -> None:
    line = scrub(f"could not send to {written}, giving up")
    no_digits_of(written, line)
    assert "#" in line and line.startswith("could not send to ") and line.endswith(", giving up")


@pytest.mark.parametrize(
    "text",
    [
        "tel:58123456,",
        "phone=+26658123456&x=1",
        "to+26658123456",
        "['58123456', '62123456']",
        "{'msisdn': '+26658123456'}",
    ],
)
def test_numbers_inside_other_text_are_masked(text: str) -> None:
    line = scrub(text)
    assert "58123456" not in line and "3456" not in line


@pytest.mark.parametrize(
    "text",
    [
        "report T-5307 registration R-482913",
        "Case T-58123456 was already taken by LMPS",  # 8-digit references look like numbers
        "ACK r-12345678, STATUS T*58123456",
        "purge due 2024-05-01 at 12:00:00",
        "took 1234 ms, 3 of 12 sent, pid 40213",
        "db at 127.0.0.1:5432",
        "Successfully completed jobs.route_subject('report', 12) job in 0:00:00.012345s on w",
    ],
)
def test_ordinary_text_is_left_alone(text: str) -> None:
    assert scrub(text) == text


def test_a_number_next_to_a_duration_is_still_masked() -> None:
    out = scrub("took 0:00:01.250000 to reach 58123456")
    assert out.startswith("took 0:00:01.250000 to reach ") and "58123456" not in out


def test_a_number_next_to_a_reference_is_still_masked() -> None:
    out = scrub("T-58123456 reported from 58123456")
    assert out.startswith("T-58123456 reported from ") and "58123456" not in out[20:]


def test_a_message_and_its_arguments_are_masked(
    capture: tuple[logging.Logger, io.StringIO],
) -> None:
    logger, stream = capture
    logger.info("sent to %s and %s", NUMBER, "5812 3456")
    logger.info("sent to %(to)s", {"to": DESK})
    out = stream.getvalue()
    no_digits_of(NUMBER, out)
    no_digits_of(DESK, out)
    assert out.count(mask(NUMBER)) == 2 and mask(DESK) in out


def test_a_traceback_containing_a_number_is_masked(
    capture: tuple[logging.Logger, io.StringIO],
) -> None:
    logger, stream = capture

    def send(to: str) -> None:
        raise ValueError(f"gateway refused {to}")

    try:
        try:
            send("58123456")  # the source line of this frame names the number too
        except ValueError as exc:
            raise RuntimeError("retry failed for +27 82 123 4567") from exc
    except RuntimeError:
        logger.exception("alert not sent")
    out = stream.getvalue()
    assert "Traceback (most recent call last)" in out and "ValueError" in out
    assert "RuntimeError" in out and 'send("' in out  # frames and causes are all there
    no_digits_of("58123456", out)
    no_digits_of("+27821234567", out)
    assert mask("58123456") in out


def test_stack_info_and_extras_are_masked(capture: tuple[logging.Logger, io.StringIO]) -> None:
    logger, stream = capture
    logger.warning("odd", extra={"to": NUMBER, "recipients": [DESK]}, stack_info=True)
    out = stream.getvalue()
    no_digits_of(NUMBER, out)
    no_digits_of(DESK, out)
    assert "Stack (most recent call last)" in out


def test_json_lines_in_production_are_masked_too() -> None:
    stream = io.StringIO()
    logger = logging.getLogger("tests.log_masking.json")
    logger.propagate = False
    handler = build_handler(stream, json_output=True)
    logger.addHandler(handler)
    try:
        try:
            raise KeyError(NUMBER)
        except KeyError:
            logger.error("lookup failed for %s", "5812 3456", exc_info=True, extra={"n": DESK})
    finally:
        logger.removeHandler(handler)
    line = json.loads(stream.getvalue())
    assert line["level"] == "error" and line["logger"] == "tests.log_masking.json"
    assert line["event"] == f"lookup failed for {mask(NUMBER)}"
    assert mask(NUMBER) in line["exception"] and line["n"] == mask(DESK)
    assert "timestamp" in line
    no_digits_of(NUMBER, stream.getvalue())


def test_secrets_in_urls_and_configured_values_are_redacted() -> None:
    set_secrets(["gw-Zq8uTn3Lk2Vb9Xc4Rt7Yp1Wm6Sd0Fg5Hj"])
    assert scrub("POST /ussd?token=abc123&x=1 failed") == f"POST /ussd?token={REDACTED}&x=1 failed"
    assert scrub("GATEWAY_TOKEN=abc123") == f"GATEWAY_TOKEN={REDACTED}"
    assert "pw" not in scrub("redis://:pw@cache:6379/0").replace("6379", "")
    assert scrub("key gw-Zq8uTn3Lk2Vb9Xc4Rt7Yp1Wm6Sd0Fg5Hj leaked") == f"key {REDACTED} leaked"


def test_werkzeug_request_lines_lose_their_query_string() -> None:
    record = logging.LogRecord(
        "werkzeug",
        logging.INFO,
        __file__,
        1,
        '127.0.0.1 - - [01/Jan/2026 10:00:00] "%s" %s %s',
        ("\x1b[31mPOST /ussd?token=s3cret&x=1 HTTP/1.1\x1b[0m", "403", "-"),
        None,
    )
    assert StripQueryFilter().filter(record)
    assert record.getMessage() == '127.0.0.1 - - [01/Jan/2026 10:00:00] "POST /ussd HTTP/1.1" 403 -'


def test_a_line_that_cannot_be_formatted_is_dropped_without_its_arguments() -> None:
    stream = io.StringIO()
    logger = logging.getLogger("tests.log_masking.broken")
    logger.propagate = False
    handler = build_handler(stream)
    logger.addHandler(handler)
    try:
        logger.info("two %s %s", NUMBER)  # one argument short
    finally:
        logger.removeHandler(handler)
    assert "could not be formatted" in stream.getvalue()
    no_digits_of(NUMBER, stream.getvalue())


def test_a_correlation_id_is_never_taken_for_a_number() -> None:
    # 12 hex characters whose last 8 look like a Lesotho number (seen in a benchmark's log).
    line = "hop failed cid=816f58123456 session=ATUid_1"
    assert scrub(line) == line


def test_a_job_id_is_never_taken_for_a_number() -> None:
    line = "job 1b2c3d4e-5812-3456-7890-58123456abcd done"
    assert scrub(line) == line


def test_a_number_beside_a_correlation_id_is_still_masked() -> None:
    out = scrub("cid=816f58123456 caller 58123456")
    assert out.startswith("cid=816f58123456 caller ") and not out.endswith("58123456")


def test_a_job_id_with_a_south_african_shape_inside_is_left_alone() -> None:
    line = "alerts: Job OK (6f1c2a9e-0812-3456-7890-aabbccddeeff)"
    assert scrub(line) == line


def test_a_number_right_after_a_job_id_is_still_masked() -> None:
    out = scrub("job 6f1c2a9e-0812-3456-7890-aabbccddeeff for +26658123456")
    assert out.startswith("job 6f1c2a9e-0812-3456-7890-aabbccddeeff for ")
    assert "58123456" not in out


def test_rq_and_routing_lines_are_left_alone_without_the_matcher(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Lines every job writes, with no number in them, never reach libphonenumber."""
    import phonenumbers

    def no_matcher(*_args: object, **_kwargs: object) -> object:
        raise AssertionError("the matcher ran on a line with no number")

    monkeypatch.setattr(phonenumbers, "PhoneNumberMatcher", no_matcher)
    for line in (
        "report T-83769469 routed: 2 alert(s) staged",
        "Successfully completed time.time() job in 0:00:00.000310s on worker "
        "c20a2f93955d4661234567cbe63e57ed",
        "registration R-2051936-6 routed",
    ):
        assert scrub(line) == line
