"""The lean `POST /ussd` endpoint in front of Flask answers exactly as the Flask view does.

Every request here is sent twice, once through the whole app (the endpoint answers ordinary
hops) and once straight to Flask's own WSGI callable behind it (the `ussd_hop` view answers),
and the two answers must match: status, body and the headers the gateway reads. The real app
runs against the test database and Redis.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from typing import Any

import pytest
from flask import Flask
from prometheus_client import REGISTRY
from werkzeug.test import Client, TestResponse

from ussd_app import create_app
from ussd_app.bootstrap import Container
from ussd_app.config import Settings
from ussd_app.ussd.endpoint import UssdEndpoint

FORM = "application/x-www-form-urlencoded"
_ids = itertools.count(1)
# The headers a caller of /ussd can see and act on.
COMPARED = ("Content-Type", "at-ussd-hop-metadata", "Retry-After", "Strict-Transport-Security")


def endpoint_of(app: Flask) -> UssdEndpoint:
    """The endpoint among the app's WSGI middlewares (the desk's ProxyFix may wrap it)."""
    wsgi: Any = app.wsgi_app
    while not isinstance(wsgi, UssdEndpoint):
        wsgi = wsgi.app
    return wsgi


def hop_body(phone: str = "+26658300001", text: str = "", session: str | None = None) -> str:
    """An urlencoded hop as the gateway posts it (a fresh session unless one is given)."""
    session = session or f"ATUid_endpoint{next(_ids):06d}"
    number = phone.replace("+", "%2B")
    fixed = "serviceCode=%2A384%2A1234%23&networkCode=99999"
    return f"sessionId={session}&{fixed}&phoneNumber={number}&text={text}"


Send = Callable[[Client], TestResponse]


def both(app: Flask, send: Send) -> tuple[TestResponse, TestResponse]:
    """`send` through the endpoint and straight to the Flask view."""
    return send(Client(app)), send(Client(endpoint_of(app)._app))


def same(app: Flask, send: Send) -> TestResponse:
    lean, view = both(app, send)
    assert lean.status == view.status
    assert lean.get_data() == view.get_data()
    for name in COMPARED:
        assert lean.headers.get(name) == view.headers.get(name), name
    return lean


def post(body: str | bytes, query: str = "", address: str = "127.0.0.1", **headers: str) -> Send:
    def send(client: Client) -> TestResponse:
        return client.post(
            "/ussd" + query,
            data=body,
            content_type=FORM,
            headers=headers,
            environ_base={"REMOTE_ADDR": address},
        )

    return send


class TestTheEndpointAnswersOrdinaryHops:
    def test_an_ordinary_hop_never_reaches_flask(self, app: Flask) -> None:
        endpoint = endpoint_of(app)

        def no_flask(environ: Any, start_response: Any) -> Any:
            raise AssertionError("an ordinary hop reached Flask")

        endpoint._app = no_flask
        res = post(hop_body())(Client(app))
        assert res.status_code == 200 and res.get_data(as_text=True).startswith("CON "), (
            res.get_data()
        )
        assert res.headers["Content-Type"] == "text/plain; charset=utf-8"
        assert int(res.headers["Content-Length"]) == len(res.get_data())

    def test_multipart_and_chunked_go_to_the_flask_view(self, app: Flask) -> None:
        endpoint = endpoint_of(app)
        reached: list[str] = []
        inner = endpoint._app

        def spy(environ: Any, start_response: Any) -> Any:
            reached.append(environ.get("CONTENT_TYPE", ""))
            return inner(environ, start_response)

        endpoint._app = spy
        fields = {"sessionId": "ATUid_multi1", "serviceCode": "*384*1234#", "text": ""}
        fields["networkCode"] = "99999"
        fields["phoneNumber"] = "+26658300002"
        res = Client(app).post("/ussd", data=fields, content_type="multipart/form-data")
        assert res.status_code == 200 and res.get_data(as_text=True).startswith("CON "), (
            res.get_data()
        )
        assert reached and reached[0].startswith("multipart/form-data")
        Client(app).get("/ussd")  # not a POST: Flask's 405
        assert len(reached) == 2

    def test_the_first_screen_is_the_views(self, app: Flask) -> None:
        res = same(app, post(hop_body()))
        assert res.get_data(as_text=True).startswith("CON ")

    def test_a_whole_session_is_the_same_through_either(self, app: Flask) -> None:
        """The start of a report, driven once through each path."""
        passes = [(Client(app), "+26658300009"), (Client(endpoint_of(app)._app), "+26658300010")]
        for client, phone in passes:  # a fresh phone each: no resume, no remembered language
            session = f"ATUid_whole{next(_ids):06d}"
            screens = [
                post(hop_body(phone, text, session))(client).get_data(as_text=True)
                for text in ("", "2", "2*1", "2*1*98")
            ]
            assert all(screen.startswith("CON ") for screen in screens)
            assert len(set(screens)) == 4  # four different screens
            if client.application is app:
                lean_screens = screens
        assert screens == lean_screens

    def test_requests_are_counted_in_the_metrics(self, app: Flask) -> None:
        def count() -> float:
            labels = {"route": "/ussd", "status": "2xx"}
            return REGISTRY.get_sample_value("http_requests_total", labels) or 0.0

        before = count()
        post(hop_body())(Client(app))
        assert count() - before == 1


class TestRefusalsAreTheViews:
    @pytest.mark.parametrize(
        "body",
        [
            "sessionId=ATUid_x&phoneNumber=%2B26658300001&text=",  # no serviceCode
            "sessionId=bad%20id&serviceCode=%2A123%23&phoneNumber=%2B26658300001&text=",
            "sessionId=ATUid_y&serviceCode=%2A123%23&phoneNumber=12&text=",
            "sessionId=ATUid_z&serviceCode=%2A123%23&phoneNumber=%2B26658300001&text=1%002",
            b"sessionId=ATUid_w&serviceCode=%2A123%23&phoneNumber=%2B266583&text=\xff",
            "",
        ],
        ids=["missing", "session", "phone", "control", "not-utf8", "empty"],
    )
    def test_a_malformed_hop_is_the_same_400(self, app: Flask, body: str | bytes) -> None:
        res = same(app, post(body))
        assert res.status_code == 400 and res.get_data(as_text=True).startswith("bad request: ")

    def test_a_body_over_the_limit_is_the_same_413(self, app: Flask) -> None:
        limit = app.config["MAX_CONTENT_LENGTH"]
        res = same(app, post(hop_body() + "&pad=" + "a" * limit))
        assert res.status_code == 413
        assert res.get_data(as_text=True) == f"bad request: body larger than {limit} bytes\n"

    def test_a_wrong_token_is_the_same_403(self, app: Flask) -> None:
        app.config["GATEWAY_TOKEN"] = "tok"
        assert same(app, post(hop_body(), "?token=nope")).status_code == 403
        assert same(app, post(hop_body())).status_code == 403
        assert same(app, post(hop_body(), "?x=1&token=tok")).status_code == 200

    def test_the_allow_list_and_the_forwarded_address_are_the_views(self, app: Flask) -> None:
        networks = Settings.from_env({"GATEWAY_ALLOWED_IPS": "196.201.214.0/24"}).gateway_networks
        app.config["GATEWAY_NETWORKS"] = networks
        assert same(app, post(hop_body(), address="196.201.214.20")).status_code == 200
        assert same(app, post(hop_body(), address="203.0.113.9")).status_code == 403
        forged = post(hop_body(), address="203.0.113.9", **{"X-Forwarded-For": "196.201.214.20"})
        assert same(app, forged).status_code == 403
        app.config["GATEWAY_TRUSTED_PROXIES"] = 1
        proxied = post(hop_body(), address="10.0.0.2", **{"X-Forwarded-For": "196.201.214.20"})
        assert same(app, proxied).status_code == 200
        assert same(app, post(hop_body(), address="10.0.0.2")).status_code == 403  # no entry

    def test_an_address_over_its_limit_is_the_same_429(self, app: Flask) -> None:
        class Over:
            def allow(self, name: str, key: str) -> bool:
                return False

        app.extensions["rate_limits"] = Over()
        res = same(app, post(hop_body(), address="203.0.113.9"))
        assert res.status_code == 429 and res.headers["Retry-After"] == "60"

    def test_a_fault_outside_the_hop_is_a_500_with_a_correlation_id(
        self, app: Flask, container: Container, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        def broken(raw: str) -> str:
            raise RuntimeError("normaliser broke")

        monkeypatch.setattr(endpoint_of(app), "_container", _Broken(container, broken))
        res = post(hop_body())(Client(app))
        assert res.status_code == 500
        cid = res.headers["X-Correlation-Id"]
        assert res.get_data(as_text=True) == f"error {cid}\n"


class _Broken:
    """A container whose phone normaliser raises (a fault outside the hop service)."""

    def __init__(self, container: Container, normalise: Callable[[str], str]) -> None:
        self.hops = container.hops
        self.services = type("S", (), {"normalise_phone": staticmethod(normalise)})()


def test_production_answers_carry_hsts(container: Container) -> None:
    from dataclasses import replace

    container.settings = replace(container.settings, app_env="production")  # type: ignore[misc]
    app = create_app(container=container)
    res = same(app, post(hop_body()))
    assert res.headers["Strict-Transport-Security"].startswith("max-age=")
