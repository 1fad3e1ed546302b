"""gateway_form reads the gateway's urlencoded body itself (the hop's hot path): it must agree
with werkzeug's form parser on every body, and keep the size and control-character checks."""

from __future__ import annotations

import pytest
from flask import Flask
from hypothesis import given, settings
from hypothesis import strategies as st

from ussd_app.gateway import BadRequest, TooLarge, gateway_form

URLENCODED = "application/x-www-form-urlencoded"


@pytest.fixture(scope="module")
def app() -> Flask:
    app = Flask(__name__)
    app.config["MAX_CONTENT_LENGTH"] = 4096
    return app


def parsed(app: Flask, body: bytes, content_type: str = URLENCODED) -> dict[str, str]:
    with app.test_request_context("/ussd", method="POST", data=body, content_type=content_type):
        return gateway_form()


def werkzeug_parsed(app: Flask, body: bytes) -> dict[str, str]:
    with app.test_request_context("/ussd", method="POST", data=body, content_type=URLENCODED):
        from flask import request

        return request.form.to_dict()


# UTF-8 bodies as a gateway (or anything else) might send them: fields with escapes, raw
# UTF-8, stray '%', '+', '=' and '&' (bodies that are not UTF-8 are checked below).
pieces = st.sampled_from(
    ["sessionId", "text", "=", "&", "+", "%", "%2", "%C3%A9", "%2A", "*", "é", "1", ";", " "]
)
bodies = st.one_of(
    st.lists(pieces, max_size=30).map(lambda parts: "".join(parts).encode()),
    st.text(max_size=100).map(str.encode),
)


@settings(max_examples=300, deadline=None)
@given(bodies)
def test_agrees_with_werkzeugs_parser_on_any_body(body: bytes) -> None:
    app = Flask(__name__)
    app.config["MAX_CONTENT_LENGTH"] = 4096
    try:
        mine = parsed(app, body)
    except BadRequest:
        return  # a control character: refused, checked below
    assert mine == werkzeug_parsed(app, body)


def test_first_value_wins_and_escapes_are_utf8(app: Flask) -> None:
    body = b"text=1*2%2A3&text=9&phoneNumber=%2B26658000001&name=Lerato+M%C3%B6&empty="
    assert parsed(app, body) == {
        "text": "1*2*3",
        "phoneNumber": "+26658000001",
        "name": "Lerato Mö",
        "empty": "",
    }


def test_an_escape_that_is_not_utf8_is_replaced(app: Flask) -> None:
    assert parsed(app, b"text=%FF1&b=2") == {"text": "\ufffd1", "b": "2"}


def test_a_body_that_is_not_utf8_is_a_400(app: Flask) -> None:
    with pytest.raises(BadRequest, match="not UTF-8"):
        parsed(app, b"text=\xff")


def test_a_control_character_is_a_400(app: Flask) -> None:
    with pytest.raises(BadRequest, match="control character"):
        parsed(app, b"text=a%00b")


def test_a_body_over_the_limit_is_a_413(app: Flask) -> None:
    with pytest.raises(TooLarge):
        parsed(app, b"text=" + b"1" * 5000)


def test_thousands_of_fields_are_a_400(app: Flask) -> None:
    with pytest.raises(BadRequest, match="too many form fields"):
        parsed(app, b"&".join(b"f%d=1" % i for i in range(300)))


def test_multipart_still_goes_to_werkzeug(app: Flask) -> None:
    with app.test_request_context("/ussd", method="POST", data={"text": "1*2", "sessionId": "s"}):
        assert gateway_form() == {"text": "1*2", "sessionId": "s"}


def test_a_form_already_parsed_elsewhere_is_still_read(app: Flask) -> None:
    from flask import request

    with app.test_request_context(
        "/ussd", method="POST", data=b"text=1*2", content_type=URLENCODED
    ):
        assert request.form["text"] == "1*2"  # consumes the body
        assert gateway_form() == {"text": "1*2"}
