"""The simulator behaves like the gateway: direct dials, hang-ups and a service that is down."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from click.testing import CliRunner
from flask import Flask
from sqlalchemy import select

from ussd_app.bootstrap import Container
from ussd_app.cli import main as cli
from ussd_app.ussd.models import UssdSessionEvent
from ussd_app.ussd.simulator import SimulatedSession, run_interactive, split_direct_dial

from .test_simulator import Keyboard, Screen, Served, record_hops, stub_server

PHONE = "+26658200002"


@pytest.fixture
def received(app: Flask) -> list[dict[str, str]]:
    """Every /ussd hop the real app receives (see `record_hops`)."""
    hops: list[dict[str, str]] = []
    record_hops(app, hops)
    return hops


def texts(hops: list[dict[str, str]]) -> list[str]:
    return [hop["text"] for hop in hops]


@pytest.fixture
def live(app: Flask, received: list[dict[str, str]]) -> Iterator[str]:
    served = Served(app)
    yield served.base
    served.stop()


def events(container: Container) -> list[UssdSessionEvent]:
    with container.services.uow() as uow:
        rows = list(uow.session.scalars(select(UssdSessionEvent)).all())
        uow.session.expunge_all()
        return rows


def dead_url() -> str:
    served = stub_server(lambda: ("200 OK", "CON hi"))
    url = served.base + "/ussd"
    served.stop()  # nothing listens on that port any more
    return url


class KeyboardThenCtrlC(Keyboard):
    def __call__(self, prompt: str) -> str:
        if not self.keys:
            self.prompts += 1
            raise KeyboardInterrupt
        return super().__call__(prompt)


class TestDirectDial:
    @pytest.mark.parametrize(
        ("dialled", "base", "expected"),
        [
            ("*384*1234#", None, ("*384*1234#", "")),
            ("*384*1234*2#", None, ("*384*1234#", "2")),
            ("*384*1234*3*1#", None, ("*384*1234#", "3*1")),
            ("*123*2#", "*123#", ("*123#", "2")),
            ("*123#", "*123#", ("*123#", "")),
        ],
    )
    def test_the_extension_becomes_the_first_text(
        self, dialled: str, base: str | None, expected: tuple[str, str]
    ) -> None:
        assert split_direct_dial(dialled, base) == expected

    def test_a_direct_dial_reaches_the_report_and_answers_append_to_it(
        self, live: str, received: list[dict[str, str]], container: Container
    ) -> None:
        session = SimulatedSession.dialling(live + "/ussd", PHONE, "*384*1234*2#")
        screen = Screen()
        run_interactive(session, read=Keyboard(["2"]), write=screen, events_url=None)
        assert texts(received) == ["2", "2*2"]
        assert session.service_code == "*384*1234#"
        assert session.metadata[:2] == ["report_danger", "report_child"]
        assert "direct dial: serviceCode *384*1234#, first text '2'" in screen.text
        assert "Khetha puo" not in screen.text  # not the language or main menu

    def test_the_cli_sends_the_shortcut_as_the_first_text(
        self, live: str, received: list[dict[str, str]]
    ) -> None:
        result = CliRunner().invoke(
            cli,
            [
                "simulate",
                "--url",
                live + "/ussd",
                "--phone",
                PHONE,
                "--no-events",
                "--service-code",
                "*384*1234*2#",
            ],
            input="",
        )
        assert result.exit_code == 0, result.output
        assert texts(received) == ["2"]


class TestHangingUp:
    def test_the_banner_says_how_to_hang_up(self, live: str) -> None:
        session = SimulatedSession(url=live + "/ussd", phone=PHONE)
        screen = Screen()
        run_interactive(session, read=Keyboard([]), write=screen, events_url=None)
        assert "Ctrl-C or Ctrl-D hangs up" in screen.lines[1]

    def test_ctrl_c_is_a_hang_up_that_posts_the_notification(
        self, live: str, container: Container
    ) -> None:
        session = SimulatedSession(url=live + "/ussd", phone=PHONE)
        screen = Screen()
        keys = KeyboardThenCtrlC(["2", "2"])  # English, report; then Ctrl-C
        run_interactive(session, read=keys, write=screen, events_url=live + "/ussd/events")
        assert "(hung up)" in screen.text
        assert "Traceback" not in screen.text
        assert session.status == "Incomplete"
        assert "end-of-session notification (Incomplete) posted: HTTP 200" in screen.text
        [event] = events(container)
        assert event.status == "Incomplete" and event.last_screen == "report_danger"
        assert event.language == "en" and event.phone_hash is None  # a report: never the phone

    def test_the_notification_records_the_language_the_caller_chose(
        self, live: str, container: Container
    ) -> None:
        # Sesotho, then hang up on the main menu; then a redial (the language remembered, so
        # the main menu comes first) that hangs up at once: both sessions were in Sesotho.
        for keys in (["1"], []):
            session = SimulatedSession(url=live + "/ussd", phone="+26658200003")
            run_interactive(
                session,
                read=KeyboardThenCtrlC(keys),
                write=Screen(),
                events_url=live + "/ussd/events",
            )
        # A caller who hangs up on the language screen chose none.
        session = SimulatedSession(url=live + "/ussd", phone="+26658200004")
        run_interactive(
            session, read=KeyboardThenCtrlC([]), write=Screen(), events_url=live + "/ussd/events"
        )
        found = sorted((e.last_screen or "", e.language or "-") for e in events(container))
        assert found == [("language", "-"), ("main", "st"), ("main", "st")]


class TestServiceDown:
    def test_one_clear_line_and_exit_1(self) -> None:
        url = dead_url()
        result = CliRunner().invoke(cli, ["simulate", "--url", url], input="")
        assert result.exit_code == 1
        assert result.exception is None or isinstance(result.exception, SystemExit)
        lines = result.output.splitlines()
        problem = [line for line in lines if "could not reach" in line]
        assert problem == [
            f"[gateway] could not reach the service at {url}: "
            "connection refused (is `ussd-app serve` running?)"
        ]
        assert "WARNING" not in result.output  # no "screen is 280 characters"
        assert "Traceback" not in result.output and "MaxRetryError" not in result.output
        assert "notification" not in result.output

    def test_the_simulators_own_lines_are_never_warned_about(self) -> None:
        session = SimulatedSession(url=dead_url(), phone=PHONE)
        body = session.dial()
        assert body.startswith("END [gateway] could not reach")
        assert session.warnings(body) == []
        assert session.warnings("END " + "x" * 200) != []  # the service's own screens still are

    def test_an_events_url_that_is_down_is_one_line(self, live: str) -> None:
        session = SimulatedSession(url=live + "/ussd", phone=PHONE)
        screen = Screen()
        run_interactive(session, read=Keyboard([]), write=screen, events_url=dead_url())
        assert any(
            line.startswith("end-of-session notification (Incomplete) not posted: could not reach")
            for line in screen.lines
        ), screen.text
