"""The terminal simulator against a real HTTP server, and `ussd-app menus check` from the CLI."""

from __future__ import annotations

import io
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl

import pytest
import yaml
from click.testing import CliRunner
from flask import Flask
from sqlalchemy import select
from werkzeug.serving import BaseWSGIServer, make_server

from ussd_app.bootstrap import Container
from ussd_app.cli import main as cli
from ussd_app.reports.models import TraffickingReport
from ussd_app.reports.retention import report_key
from ussd_app.ussd import simulator
from ussd_app.ussd.models import UssdSessionEvent
from ussd_app.ussd.session_events import session_event_id
from ussd_app.ussd.simulator import SimulatedSession, run_interactive

REAL_MENUS = Path(__file__).resolve().parents[2] / "menus.yaml"
PHONE = "+26658200001"

# ---------------------------------------------------------------- helpers and servers


class Served:
    """A WSGI app served over real HTTP on 127.0.0.1 (an OS-chosen port) in a thread."""

    def __init__(self, wsgi_app: Any) -> None:
        self.server: BaseWSGIServer = make_server("127.0.0.1", 0, wsgi_app, threaded=True)
        self.thread = threading.Thread(
            target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self.thread.start()

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.server.server_port}"

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout=5)


class Keyboard:
    """Scripted `read` for run_interactive; EOFError (hang-up) when the script runs out."""

    def __init__(self, keys: Iterable[str]) -> None:
        self.keys = list(keys)
        self.prompts = 0

    def __call__(self, prompt: str) -> str:
        self.prompts += 1
        if not self.keys:
            raise EOFError
        return self.keys.pop(0)


class Screen:
    """Collects what run_interactive writes."""

    def __init__(self) -> None:
        self.lines: list[str] = []

    def __call__(self, line: str) -> None:
        self.lines.append(line)

    @property
    def text(self) -> str:
        return "\n".join(self.lines)


def record_hops(app: Flask, hops: list[dict[str, str]]) -> None:
    """Wrap the app's WSGI callable so every /ussd hop it receives lands in `hops` (as the
    gateway sent it), whichever path answers it: the lean endpoint or the Flask view."""
    inner = app.wsgi_app

    def recording(environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
        if environ.get("PATH_INFO") == "/ussd" and environ.get("REQUEST_METHOD") == "POST":
            length = int(environ.get("CONTENT_LENGTH") or 0)
            body = environ["wsgi.input"].read(length)
            environ["wsgi.input"] = io.BytesIO(body)
            form = dict(parse_qsl(body.decode("utf-8"), keep_blank_values=True))
            hops.append(
                {
                    "text": form.get("text", ""),
                    "session": form.get("sessionId", ""),
                    "metadata": environ.get("HTTP_AT_USSD_HOP_METADATA", ""),
                }
            )
        return inner(environ, start_response)

    app.wsgi_app = recording  # type: ignore[method-assign]


@pytest.fixture
def received(app: Flask) -> list[dict[str, str]]:
    """Every /ussd hop the real app receives: its `text` and hop-metadata header."""
    hops: list[dict[str, str]] = []
    record_hops(app, hops)
    return hops


@pytest.fixture
def live(app: Flask, received: list[dict[str, str]]) -> Iterator[str]:
    """The real app (real menus, DB and Redis) on a real port; yields its base URL."""
    served = Served(app)
    yield served.base
    served.stop()


def stub_server(reply: Callable[[], tuple[str, str]]) -> Served:
    """A fake service: `reply()` gives (HTTP status line, body) for every request."""

    def wsgi(environ: dict[str, Any], start_response: Any) -> list[bytes]:
        status, body = reply()
        start_response(status, [("Content-Type", "text/plain; charset=utf-8")])
        return [body.encode()]

    return Served(wsgi)


def session_events(container: Container) -> list[UssdSessionEvent]:
    with container.services.uow() as uow:
        rows = list(uow.session.scalars(select(UssdSessionEvent)).all())
        uow.session.expunge_all()
        return rows


# ---------------------------------------------------------------- against the real service


class TestAgainstTheRealService:
    def test_text_is_built_like_the_gateway_and_the_ending_is_recorded(
        self, live: str, received: list[dict[str, str]], container: Container
    ) -> None:
        session = SimulatedSession(url=live + "/ussd", phone=PHONE)
        screen = Screen()
        keys = Keyboard(["2", " 1 ", "3"])  # English, register, decline consent
        run_interactive(session, read=keys, write=screen, events_url=live + "/ussd/events")

        assert [hop["text"] for hop in received] == ["", "2", "2*1", "2*1*3"]
        assert {hop["session"] for hop in received} == {session.session_id}
        # The label the service sent back on each hop is echoed on the next one.
        assert [hop["metadata"] for hop in received] == ["", "language", "main", "reg_consent"]
        assert session.metadata == ["language", "main", "reg_consent", "reg_declined"]
        assert session.status == "Success" and session.hops == 4 and session.ended
        assert "Khetha puo / Choose language" in screen.text
        assert "Nothing was saved. You can register any time" in screen.text
        assert "CON " not in screen.text and "END " not in screen.text  # shown like a handset
        assert "WARNING" not in screen.text
        assert "end-of-session notification (Success) posted: HTTP 200" in screen.text

        [event] = session_events(container)
        assert event.session_id == session_event_id(container.services, session.session_id)
        assert event.status == "Success"
        assert event.hops == 4
        assert event.last_screen == "reg_declined"
        assert event.network_code == "99999" and event.service_code == "*384*1234#"
        assert event.phone_hash == container.services.hash_phone(PHONE)

    def test_a_report_filed_through_the_simulator_is_stored_once(
        self, live: str, received: list[dict[str, str]], container: Container
    ) -> None:
        session = SimulatedSession(url=live + "/ussd", phone=PHONE)
        screen = Screen()
        answers = ["2", "2", "1", "2", "28", "1", "1", "2", "AB*12 CD", "AB 12 CD", "2"]
        run_interactive(session, read=Keyboard(answers), write=screen, events_url=None)

        assert received[-1]["text"] == "*".join(answers)
        assert "Call 112 now if you can." in screen.text
        assert "Type plate/route, or 1" in screen.text  # "AB*12 CD" refused as one answer
        assert session.status == "Success"
        assert session.metadata[-1] == "report_done_urgent"
        assert session.last_response.startswith("END Report T-")
        with container.services.uow() as uow:
            reports = uow.session.scalars(select(TraffickingReport)).all()
            assert [r.idempotency_key for r in reports] == [
                report_key(container.services, session.session_id)
            ]
            assert reports[0].priority == "P1"
            assert container.services.cipher.decrypt_optional(reports[0].vehicle_enc) == "AB 12 CD"
        assert session_events(container) == []  # no events URL: nothing posted

    def test_hanging_up_posts_an_incomplete_session(self, live: str, container: Container) -> None:
        session = SimulatedSession(url=live + "/ussd", phone=PHONE)
        screen = Screen()
        keys = Keyboard(["2", "2"])  # English, report; then the caller hangs up
        run_interactive(session, read=keys, write=screen, events_url=live + "/ussd/events")

        assert keys.prompts == 3
        assert "(hung up)" in screen.text
        assert session.status == "Incomplete" and not session.ended
        assert session.text == "2*2"
        [event] = session_events(container)
        assert event.status == "Incomplete"
        assert event.hops == 3
        assert event.last_screen == "report_danger"


class TestAbandonedUrgentReports:
    """A caller who said someone is in danger and named a place must reach the duty desk even if
    the session never gets to the last screen (services/abandoned.py)."""

    # English, report, danger yes, child yes, flags 1, place Maseru Bridge; now on "When?".
    URGENT_UP_TO_PLACE = ("2", "2", "1", "1", "1", "1")

    def reports(self, container: Container) -> list[tuple[bool, str, bool | None, str | None]]:
        with container.services.uow() as uow:
            return [
                (r.incomplete, r.priority, r.danger_now, r.place)
                for r in uow.session.scalars(select(TraffickingReport)).all()
            ]

    def sweep_long_after(self, container: Container) -> None:
        from ussd_app.ussd import abandoned

        later = time.time() + 10 * abandoned.ABANDONED_AFTER_S
        abandoned.sweep_idle(container.services, container.store, now=later)

    def test_hanging_up_after_the_place_files_an_incomplete_p1_report(
        self, live: str, container: Container
    ) -> None:
        session = SimulatedSession(url=live + "/ussd", phone=PHONE)
        keys = Keyboard(self.URGENT_UP_TO_PLACE)
        run_interactive(session, read=keys, write=Screen(), events_url=live + "/ussd/events")
        assert session.status == "Incomplete"
        assert self.reports(container) == [(True, "P1", True, "maseru_bridge")]
        self.sweep_long_after(container)
        assert len(self.reports(container)) == 1  # filed once, not again by the sweeper

    def test_too_many_invalid_tries_after_the_place_still_files_an_incomplete_p1_report(
        self, live: str, container: Container
    ) -> None:
        # A frightened caller fumbles the keypad on "When?": the service ends the session
        # (too_many_tries), the gateway reports it as Success, and the sweeper runs later.
        # Whichever of these files it, the urgent report must not be lost.
        session = SimulatedSession(url=live + "/ussd", phone=PHONE)
        screen = Screen()
        keys = Keyboard([*self.URGENT_UP_TO_PLACE, "x", "y", "z"])
        run_interactive(session, read=keys, write=screen, events_url=live + "/ussd/events")
        assert "Sorry, that did not work." in screen.text
        assert session.status == "Success"
        self.sweep_long_after(container)
        assert self.reports(container) == [(True, "P1", True, "maseru_bridge")]


# ---------------------------------------------------------------- warnings and failed hops


class TestWarnings:
    def session(self, budget: int = 160) -> SimulatedSession:
        return SimulatedSession(url="http://127.0.0.1:9/ussd", phone=PHONE, budget=budget)

    def test_a_reply_within_budget_has_no_warning(self) -> None:
        assert self.session().warnings("CON " + "x" * 156) == []

    def test_a_reply_over_budget_is_warned_about_with_its_length(self) -> None:
        [warning] = self.session().warnings("CON " + "x" * 157)
        assert warning == "screen is 161 characters, over the 160 budget"

    def test_extension_characters_count_two_septets(self) -> None:
        assert self.session().warnings("CON " + "{" * 78) == []
        [warning] = self.session().warnings("CON " + "{" * 79)
        assert "162 characters" in warning

    def test_the_budget_is_configurable(self) -> None:
        assert self.session(budget=182).warnings("CON " + "x" * 178) == []
        assert self.session(budget=100).warnings("CON " + "x" * 97) != []

    def test_a_non_gsm7_reply_is_warned_about_naming_the_characters(self) -> None:
        [warning] = self.session().warnings("CON Tšoarelo 😀")
        assert "outside GSM-7" in warning and "š" in warning and "😀" in warning
        assert "UCS-2" in warning

    def test_run_interactive_prints_warnings_for_a_bad_screen(self) -> None:
        served = stub_server(lambda: ("200 OK", "END Tšoarelo " + "x" * 170))
        try:
            session = SimulatedSession(url=served.base + "/ussd", phone=PHONE)
            screen = Screen()
            run_interactive(session, read=Keyboard([]), write=screen, events_url=None)
        finally:
            served.stop()
        assert "WARNING: characters outside GSM-7: 'š'" in screen.text
        assert session.status == "Success"


class TestFailedHops:
    def test_a_server_slower_than_the_hop_timeout_is_a_failed_hop(
        self, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        monkeypatch.setattr(simulator, "HOP_TIMEOUT_S", 0.3)

        def slow() -> tuple[str, str]:
            time.sleep(1.5)
            return "200 OK", "CON too late"

        served = stub_server(slow)
        try:
            session = SimulatedSession(url=served.base + "/ussd", phone=PHONE)
            screen = Screen()
            keys = Keyboard(["1"])
            started = time.monotonic()
            run_interactive(session, read=keys, write=screen, events_url=None)
            elapsed = time.monotonic() - started
        finally:
            served.stop()
        assert elapsed < 1.4  # gave up at the timeout, did not wait for the reply
        assert keys.prompts == 0  # the session ended on the failed hop
        assert session.status == "Failed" and session.ended
        assert "no answer within" in session.error and "drops the session" in session.error
        assert "[gateway] no answer within" in screen.text
        assert session.notification()["status"] == "Failed"
        assert session.notification()["errorMessage"] == session.error

    def test_the_real_hop_timeout_is_ten_seconds(self) -> None:
        assert simulator.HOP_TIMEOUT_S == 10.0

    @pytest.mark.parametrize(
        ("status", "body", "error"),
        [
            ("500 INTERNAL SERVER ERROR", "boom", "HTTP 500: boom"),
            ("200 OK", "Welcome", "Response should start with a CON or an END"),
        ],
    )
    def test_a_bad_answer_is_a_failed_hop(self, status: str, body: str, error: str) -> None:
        served = stub_server(lambda: (status, body))
        try:
            session = SimulatedSession(url=served.base + "/ussd", phone=PHONE)
            reply = session.dial()
        finally:
            served.stop()
        assert reply == "END [gateway] " + error
        assert session.status == "Failed" and session.error == error

    def test_an_unreachable_service_is_a_failed_hop(self) -> None:
        served = stub_server(lambda: ("200 OK", "CON hi"))
        url = served.base + "/ussd"
        served.stop()  # nothing listens on that port any more
        session = SimulatedSession(url=url, phone=PHONE)
        assert session.dial().startswith("END [gateway] could not reach the service")
        assert session.status == "Failed"


# ---------------------------------------------------------------- ussd-app menus check


def _broken_copy(tmp_path: Path, *faults: str) -> Path:
    """The real menus.yaml with the named faults put in."""
    data = yaml.safe_load(REAL_MENUS.read_text(encoding="utf-8"))
    screens = data["screens"]
    if "dangling" in faults:
        screens["main"]["options"][2]["next"] = "check_reff"
    if "missing_translation" in faults:
        del screens["reg_district"]["text"]["st"]
    if "over_budget" in faults:
        screens["delete_kept"]["text"]["en"] = "Nothing was deleted. " * 9
    path = tmp_path / "menus.yaml"
    path.write_text(yaml.safe_dump(data, allow_unicode=True, sort_keys=False), encoding="utf-8")
    return path


FAULT_MESSAGES = {
    "dangling": ("screen 'main'", "leads to unknown screen 'check_reff'"),
    "missing_translation": ("screen 'reg_district'", "missing translation 'st'"),
    "over_budget": ("screen 'delete_kept'", "in 'en' is", "over the budget of 160"),
}


class TestMenusCheckCli:
    def test_the_real_menus_yaml_passes(self) -> None:
        result = CliRunner().invoke(cli, ["menus", "check", str(REAL_MENUS)])
        assert result.exit_code == 0, result.output
        assert "OK" in result.output and "every reply fits 160 septets" in result.output

    def test_the_default_path_is_the_real_menus_yaml(self, monkeypatch: pytest.MonkeyPatch) -> None:
        monkeypatch.chdir(REAL_MENUS.parent)
        monkeypatch.delenv("MENUS_PATH", raising=False)
        result = CliRunner().invoke(cli, ["menus", "check"])
        assert result.exit_code == 0, result.output
        assert "menus.yaml: OK" in result.output

    @pytest.mark.parametrize("fault", sorted(FAULT_MESSAGES))
    def test_one_fault_fails_and_is_named(self, tmp_path: Path, fault: str) -> None:
        path = _broken_copy(tmp_path, fault)
        result = CliRunner().invoke(cli, ["menus", "check", str(path)])
        assert result.exit_code == 1, result.output
        problem = [line for line in result.output.splitlines() if FAULT_MESSAGES[fault][0] in line]
        assert problem, result.output
        for fragment in FAULT_MESSAGES[fault]:
            assert fragment in problem[0], result.output
        assert problem[0].startswith(f"{path}:")
        assert "1 problem found" in result.output

    def test_every_fault_in_one_file_is_reported(self, tmp_path: Path) -> None:
        path = _broken_copy(tmp_path, *FAULT_MESSAGES)
        result = CliRunner().invoke(cli, ["menus", "check", str(path)])
        assert result.exit_code == 1, result.output
        for fragments in FAULT_MESSAGES.values():
            assert any(all(f in line for f in fragments) for line in result.output.splitlines()), (
                result.output
            )
        assert "3 problems found" in result.output

    def test_a_missing_file_fails_cleanly(self, tmp_path: Path) -> None:
        result = CliRunner().invoke(cli, ["menus", "check", str(tmp_path / "nope.yaml")])
        assert result.exit_code == 1
        assert "cannot read menu file" in result.output
