"""The USSD webhook speaks the gateway's protocol exactly, and fails safe."""

from __future__ import annotations

import threading
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select

from tests.doubles import DeadRedis
from tests.functional.conftest import Phone
from ussd_app import create_app
from ussd_app.bootstrap import Container
from ussd_app.redis_wire import WriteBehind
from ussd_app.reports.models import TraffickingReport

FORM = {
    "sessionId": "ATUid_0f3c9a1e2b7d4c5a8e6f1a2b3c4d5e6f",
    "serviceCode": "*384*1234#",
    "phoneNumber": "+26658123456",
    "networkCode": "99999",
    "text": "",
}

# Answers that walk a report to its end (English), after choosing English and "2 Report".
REPORT_PATH = ["2", "2", "2", "2", "13", "1", "2", "2", "1", "1"]


def _post(client: FlaskClient, **changes: str) -> Any:
    return client.post("/ussd", data={**FORM, **changes})


def _reports(container: Container) -> int:
    with container.services.uow() as uow:
        return int(uow.session.scalar(select(func.count(TraffickingReport.id))) or 0)


class TestProtocol:
    def test_first_hop_with_empty_text_shows_the_language_menu(self, client: FlaskClient) -> None:
        res = _post(client)
        assert res.status_code == 200
        assert res.mimetype == "text/plain"
        body = res.get_data(as_text=True)
        assert body.startswith("CON ")
        assert "English" in body and "Sesotho" in body
        assert res.headers["at-ussd-hop-metadata"] == "language"

    def test_language_is_remembered_for_the_phone(self, phone: Phone) -> None:
        phone.dial()
        assert "Welcome" in phone.send("2")
        again = phone.dial()
        assert again.startswith("CON ") and "Welcome" in again

    @pytest.mark.parametrize("field", ["sessionId", "phoneNumber", "serviceCode", "text"])
    def test_a_missing_field_is_a_clear_400(self, client: FlaskClient, field: str) -> None:
        data = {k: v for k, v in FORM.items() if k != field}
        res = client.post("/ussd", data=data)
        assert res.status_code == 400
        assert field in res.get_data(as_text=True)

    def test_a_bad_phone_number_is_a_clear_400(self, client: FlaskClient) -> None:
        res = _post(client, phoneNumber="not-a-number")
        assert res.status_code == 400
        assert "phoneNumber" in res.get_data(as_text=True)

    def test_an_oversized_body_is_a_clear_413(self, client: FlaskClient) -> None:
        res = _post(client, text="1*" * 5000)
        assert res.status_code == 413
        assert "larger than" in res.get_data(as_text=True)

    def test_a_json_body_is_a_clear_400(self, client: FlaskClient) -> None:
        res = client.post("/ussd", json=FORM)
        assert res.status_code == 400

    def test_answers_containing_star_survive(self, phone: Phone) -> None:
        phone.dial()
        phone.send("2")  # English
        phone.send("2")  # report
        for answer in ["2", "2", "1", "1", "1", "1"]:
            phone.send(answer)
        # The vehicle screen: "AB*12" is rejected as a whole (not split into "AB" and "12").
        rejected = phone.send("AB*12")
        assert "plate" in rejected.lower() or "route" in rejected.lower()
        accepted = phone.send("AB 12")
        assert "call you back" in accepted

    def test_direct_dial_with_a_shortcut_starts_that_flow(self, client: FlaskClient) -> None:
        res = _post(client, text="2")
        body = res.get_data(as_text=True)
        assert body.startswith("CON ")
        assert "danger" in body.lower() or "kotsing" in body.lower()

    def test_direct_dial_with_an_unknown_shortcut_shows_the_start(
        self, client: FlaskClient
    ) -> None:
        body = _post(client, text="7*7").get_data(as_text=True)
        assert body.startswith("CON ") and "English" in body


class TestRetriesAndConcurrency:
    def test_a_repeated_hop_returns_the_cached_reply_and_runs_nothing_twice(
        self, phone: Phone, container: Container
    ) -> None:
        phone.dial()
        replies = [phone.send(step) for step in REPORT_PATH]
        assert replies[-1].startswith("END ") and "T-" in replies[-1]
        assert _reports(container) == 1
        assert phone.post() == replies[-1]  # the gateway re-sends the last hop
        assert _reports(container) == 1

    def test_concurrent_duplicate_hops_are_serialised(
        self, phone: Phone, container: Container, app: Flask
    ) -> None:
        phone.dial()
        for step in REPORT_PATH[:-1]:
            phone.send(step)
        final_text = phone.text + "*" + REPORT_PATH[-1]
        bodies: list[str] = []

        def hit() -> None:
            with app.test_client() as client:
                res = client.post(
                    "/ussd",
                    data={
                        **FORM,
                        "sessionId": phone.session_id,
                        "phoneNumber": phone.number,
                        "text": final_text,
                    },
                )
                bodies.append(res.get_data(as_text=True))

        threads = [threading.Thread(target=hit) for _ in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert len(set(bodies)) == 1, bodies
        assert bodies[0].startswith("END ")
        assert _reports(container) == 1


class TestFailSafe:
    def test_an_internal_error_answers_end_with_an_apology(
        self, phone: Phone, container: Container, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        import handlers

        def broken(ctx: Any) -> Any:
            raise RuntimeError("database on fire")

        monkeypatch.setitem(handlers.REGISTRY, "submit_report", broken)
        phone.dial()
        replies = [phone.send(step) for step in REPORT_PATH]
        assert replies[-1].startswith("END ")
        assert "Sorry" in replies[-1] or "Ts'oarelo" in replies[-1]
        assert "Traceback" not in replies[-1] and "fire" not in replies[-1]

    def test_redis_down_answers_end_not_5xx(
        self, client: FlaskClient, container: Container
    ) -> None:
        dead = DeadRedis()
        container.hops._store._redis = dead  # type: ignore[attr-defined]
        container.hops._store._wire = WriteBehind(dead)  # type: ignore[attr-defined,arg-type]
        res = _post(client)
        assert res.status_code == 200
        assert res.get_data(as_text=True).startswith("END ")
        assert "X-Correlation-Id" in res.headers


class TestGatewayToken:
    def test_token_is_required_when_configured(self, container: Container) -> None:
        from dataclasses import replace

        container.settings = replace(container.settings, gateway_token="s3cret")
        app = create_app(container=container)
        client = app.test_client()
        assert client.post("/ussd", data=FORM).status_code == 403
        assert client.post("/ussd?token=wrong", data=FORM).status_code == 403
        assert client.post("/ussd/events?token=wrong", data={}).status_code == 403
        assert client.post("/sms/inbound", data={}).status_code == 403
        assert client.post("/sms/delivery", data={}).status_code == 403
        ok = client.post("/ussd?token=s3cret", data=FORM)
        assert ok.status_code == 200 and ok.get_data(as_text=True).startswith("CON ")


class TestResume:
    def _start_report(self, phone: Phone) -> None:
        phone.dial()
        phone.send("2")  # English
        phone.send("2")  # report
        phone.send("2")  # danger: no
        phone.send("2")  # child: no

    def test_redial_offers_continue_without_echoing_answers(self, phone: Phone) -> None:
        self._start_report(phone)
        welcome = phone.dial()
        assert "Welcome back" in welcome
        assert "Continue" in welcome
        for secret in ("danger", "child", "trafficking", "No"):
            assert secret not in welcome
        resumed = phone.send("1")
        assert "see" in resumed.lower()  # the red-flags screen, where the caller stopped

    def test_start_again_goes_to_the_main_menu(self, phone: Phone) -> None:
        self._start_report(phone)
        phone.dial()
        fresh = phone.send("2")
        assert "Welcome. Choose" in fresh

    def test_finished_flow_is_not_offered_again(self, phone: Phone) -> None:
        phone.dial()
        for step in REPORT_PATH:
            phone.send(step)
        assert "Welcome. Choose" in phone.dial()


class TestSessionEvents:
    NOTE = {
        "date": "2026-11-22 10:11:12",
        "sessionId": "ATUid_events1",
        "serviceCode": "*384*1234#",
        "networkCode": "99999",
        "phoneNumber": "+26658123456",
        "status": "Incomplete",
        "cost": "0.0000",
        "durationInMillis": "14250",
        "hopsCount": "3",
        "hopsMetadata": "language|main|report_danger",
        "input": "2*2",
        "lastAppResponse": "CON Is someone in danger",
        "errorMessage": "",
    }

    def test_notification_is_stored_once(self, client: FlaskClient, container: Container) -> None:
        from ussd_app.ussd.models import UssdSessionEvent

        assert client.post("/ussd/events", data=self.NOTE).status_code == 200
        assert client.post("/ussd/events", data=self.NOTE).status_code == 200
        with container.services.uow() as uow:
            rows = uow.session.scalars(select(UssdSessionEvent)).all()
            assert len(rows) == 1
            assert rows[0].status == "Incomplete"
            assert rows[0].hops == 3
            assert rows[0].duration_ms == 14250
            assert rows[0].last_screen == "report_danger"

    def test_notification_without_session_id_is_a_400(self, client: FlaskClient) -> None:
        data = {k: v for k, v in self.NOTE.items() if k != "sessionId"}
        assert client.post("/ussd/events", data=data).status_code == 400


class TestBrokenMenus:
    def test_the_service_refuses_to_start_on_a_broken_menus_file(
        self, settings: Any, tmp_path: Any
    ) -> None:
        from dataclasses import replace
        from pathlib import Path

        from ussd_app.bootstrap import bootstrap
        from ussd_app.menu.loader import MenuError

        good = Path(settings.menus_path).read_text()
        broken = tmp_path / "menus.yaml"
        broken.write_text(good.replace("next: report_danger_route", "next: nowhere", 1))
        with pytest.raises(MenuError) as caught:
            bootstrap(replace(settings, menus_path=str(broken)))
        assert any(
            p.screen == "report_danger" and "nowhere" in p.message for p in caught.value.problems
        )

    def test_serve_prints_the_faults_and_exits(self, tmp_path: Any) -> None:
        from click.testing import CliRunner

        from ussd_app.cli import main

        broken = tmp_path / "menus.yaml"
        broken.write_text("version: 1\nscreens: {}\n")
        result = CliRunner().invoke(
            main, ["serve"], env={"MENUS_PATH": str(broken), "INSTANCE_DIR": str(tmp_path)}
        )
        assert result.exit_code != 0
        assert "menus.yaml is invalid" in result.output


class TestHealth:
    def test_healthy(self, client: FlaskClient) -> None:
        res = client.get("/healthz")
        assert res.status_code == 200
        assert res.get_json() == {"ok": True, "failing": [], "warnings": []}

    def test_redis_down_is_named(self, client: FlaskClient, container: Container) -> None:
        real = container.redis
        container.redis = DeadRedis()  # type: ignore[assignment]
        try:
            res = client.get("/healthz")
        finally:
            container.redis = real
        assert res.status_code == 503
        assert res.get_json()["failing"] == ["redis"]
