"""Alerts reach police and partners through real Redis, a real RQ worker and the real Africa's
Talking SDK talking to a local stand-in of the gateway; failures are retried, rerouted, swept."""

from __future__ import annotations

import dataclasses
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from tests.doubles import DeadRedis
from tests.integration.alerts_support import (
    P1_ANSWERS,
    REPORTER,
    drain,
    expected_recipients,
    file_report,
    later,
    outbox_rows,
    report_row,
    time_passes,
)
from tests.standin import AtStandIn
from ussd_app.bootstrap import Container
from ussd_app.messaging import outbox
from ussd_app.messaging.models import SmsStatus
from ussd_app.messaging.queues import Dispatcher, LeaveForSweeper
from ussd_app.reports.intake import submit_report
from ussd_app.runtime.maintenance import run_maintenance

ROOT = Path(__file__).resolve().parents[2]


class TestDelivery:
    def test_p1_report_reaches_every_expected_recipient_exactly_once(
        self, alert_container: Container, standin: AtStandIn
    ) -> None:
        ref = file_report(alert_container)
        expected = {r.phone for r in expected_recipients(alert_container, ref)}
        assert expected == {
            "+26659990001",  # national duty desk
            "+26659990021",  # Leribe district focal point
            "+26659990061",  # Maputsoe Bridge border desk
            "+26659990071",  # BDS transit monitors at the post
            "+26659990091",  # child protection (a child is involved)
        }
        drain(alert_container)
        received = Counter(m.number for m in standin.messages)
        assert set(received) == expected
        assert all(count == 1 for count in received.values()), received
        rows = outbox_rows(alert_container)
        assert {r.status for r in rows} == {SmsStatus.SENT.value}
        assert all(r.message_id for r in rows)
        # Running every job again sends nothing more: each row's outcome is known.
        for row in rows:
            alert_container.dispatcher.enqueue(row.id, row.purpose, replace=True)
        drain(alert_container)
        assert len(standin.messages) == len(expected)
        assert report_row(alert_container, ref).status == "sent"

    def test_alert_text_has_codes_only(
        self, alert_container: Container, standin: AtStandIn
    ) -> None:
        ref = file_report(alert_container)
        drain(alert_container)
        for message in standin.messages:
            assert ref in message.text and "P1" in message.text
            assert REPORTER not in message.text and REPORTER[-8:] not in message.text
            assert "A 123 BCD" not in message.text  # the vehicle is free text: desk only
            assert len(message.text) <= 160

    def test_gateway_500s_are_retried_then_succeed(
        self, alert_container: Container, standin: AtStandIn
    ) -> None:
        standin.fail_next("http_500", times=3)
        ref = file_report(alert_container)
        drain(alert_container)
        expected = {r.phone for r in expected_recipients(alert_container, ref)}
        received = Counter(m.number for m in standin.messages)
        assert set(received) == expected and max(received.values()) == 1
        rows = outbox_rows(alert_container)
        assert all(r.status == SmsStatus.SENT.value for r in rows)
        assert sum(r.attempts for r in rows) == len(rows) + 3

    def test_gateway_timeouts_are_retried_then_succeed(
        self, alert_container: Container, standin: AtStandIn
    ) -> None:
        standin.fail_next("timeout", times=2, delay_s=2.0)  # client gives up after 1 s
        ref = file_report(alert_container)
        drain(alert_container)
        expected = {r.phone for r in expected_recipients(alert_container, ref)}
        rows = outbox_rows(alert_container)
        assert all(r.status == SmsStatus.SENT.value for r in rows)
        assert {m.number for m in standin.messages} == expected
        assert any(r.attempts > 1 for r in rows)

    def test_connection_resets_are_retried(
        self, alert_container: Container, standin: AtStandIn
    ) -> None:
        standin.fail_next("reset", times=2)
        file_report(alert_container)
        drain(alert_container)
        assert all(r.status == SmsStatus.SENT.value for r in outbox_rows(alert_container))

    def test_an_invalid_number_falls_through_to_the_next_contact(
        self, alert_container: Container, standin: AtStandIn
    ) -> None:
        standin.set_invalid("+26659990001")  # the desk's first phone
        file_report(alert_container)
        drain(alert_container)
        desk = outbox_rows(alert_container, partner_code="lmps-atu-desk")
        assert [r.status for r in desk] == [SmsStatus.FAILED.value, SmsStatus.SENT.value]
        assert "+26659990002" in {m.number for m in standin.messages}
        assert "+26659990001" not in {m.number for m in standin.messages}

    def test_insufficient_balance_holds_alerts_and_shouts(
        self, alert_container: Container, standin: AtStandIn, caplog: pytest.LogCaptureFixture
    ) -> None:
        standin.fail_next("insufficient_balance", times=1)
        file_report(alert_container)
        drain(alert_container)
        held = [r for r in outbox_rows(alert_container) if r.status == SmsStatus.PENDING.value]
        assert len(held) == 1 and "account" in (held[0].last_error or "")
        assert any(rec.levelname == "CRITICAL" for rec in caplog.records)
        from ussd_app import create_app

        health = create_app(container=alert_container).test_client().get("/healthz")
        assert health.status_code == 200  # keep taking reports
        assert "sms account problem: 1" in health.get_json()["warnings"][0]
        # Topped up: the sweeper sends it once its back-off has passed.
        time_passes(alert_container, 11)
        run_maintenance(alert_container)
        drain(alert_container)
        assert all(r.status == SmsStatus.SENT.value for r in outbox_rows(alert_container))


class TestNothingIsLost:
    def test_redis_down_at_submit_time_is_delivered_once_redis_returns(
        self, alert_container: Container, standin: AtStandIn
    ) -> None:
        working = alert_container.services
        alert_container.services = dataclasses.replace(
            working,
            enqueuer=Dispatcher(DeadRedis()),  # type: ignore[arg-type]
        )
        ref, _ = submit_report(  # the report stands though Redis is down
            alert_container.services, phone=REPORTER, language="en", answers=P1_ANSWERS
        )
        assert report_row(alert_container, ref).priority == "P1"
        assert outbox_rows(alert_container) == []  # its routing job was lost with Redis
        drain(alert_container)
        assert standin.messages == []
        alert_container.services = working  # Redis is back
        result = run_maintenance(alert_container, now=later(1))
        assert len(result.routed) == 1  # the sweeper routed it
        rows = outbox_rows(alert_container)
        assert rows and all(r.status == SmsStatus.PENDING.value for r in rows)
        drain(alert_container)
        received = Counter(m.number for m in standin.messages)
        assert len(received) == len(rows) and max(received.values()) == 1

    def test_a_worker_killed_mid_job_leaves_no_alert_lost(
        self, alert_container: Container, standin: AtStandIn, tmp_path: Path
    ) -> None:
        settings = alert_container.settings
        # The gateway hangs on the first send; the worker process is killed while waiting.
        standin.fail_next("timeout", times=1, delay_s=30.0)
        working = alert_container.services
        alert_container.services = dataclasses.replace(working, enqueuer=LeaveForSweeper())
        ref = file_report(alert_container, answers={**P1_ANSWERS, "place": "LS-K"})
        rows = outbox_rows(alert_container)
        first = rows[0]
        alert_container.dispatcher.enqueue(first.id, first.purpose)
        env = {
            **os.environ,
            "APP_ENV": "test",
            "INSTANCE_DIR": str(tmp_path),
            "DATABASE_URL": settings.resolved_database_url,
            "REDIS_URL": (
                alert_container.redis.connection_pool.connection_kwargs.get("path")
                and f"unix://{alert_container.redis.connection_pool.connection_kwargs['path']}"
            )
            or _redis_url(alert_container),
            "DATA_KEYS": ",".join(settings.data_keys),
            "PHONE_HASH_KEY": settings.phone_hash_key,
            "SMS_BACKEND": "africastalking",
            "AT_BASE_URL": standin.url,
            "AT_API_KEY": "test-key",
            "AT_TIMEOUT_S": "60",
            "NO_PROXY": "127.0.0.1,localhost",
        }
        proc = subprocess.Popen(
            [sys.executable, str(ROOT / "worker.py"), "--burst"],
            env=env,
            cwd=str(ROOT),
            start_new_session=True,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            deadline = time.monotonic() + 30
            while time.monotonic() < deadline:
                status = outbox_rows(alert_container, id=first.id)[0].status
                if status == SmsStatus.SENDING.value and standin.request_count >= 1:
                    break
                time.sleep(0.1)
            else:
                pytest.fail("the worker never started sending")
        finally:
            os.killpg(proc.pid, signal.SIGKILL)  # the worker and its work horse
            proc.wait(timeout=10)
        assert outbox_rows(alert_container, id=first.id)[0].status == SmsStatus.SENDING.value
        # The sweeper frees the claim after the lease and re-enqueues it; a new worker sends.
        alert_container.services = working
        run_maintenance(alert_container, now=later(outbox.CLAIM_LEASE.total_seconds() / 60 + 1))
        drain(alert_container)
        statuses = {r.id: r.status for r in outbox_rows(alert_container)}
        assert statuses[first.id] == SmsStatus.SENT.value
        assert all(s == SmsStatus.SENT.value for s in statuses.values()), statuses
        numbers = {m.number for m in standin.messages}
        assert {r.phone for r in expected_recipients(alert_container, ref)} <= numbers


def _redis_url(container: Container) -> str:
    """The URL of the Redis the container uses (embedded: a unix socket), for a subprocess."""
    kwargs = container.redis.connection_pool.connection_kwargs
    db = kwargs.get("db", 0)
    if kwargs.get("path"):
        return f"unix://{kwargs['path']}?db={db}"
    return f"redis://{kwargs.get('host', '127.0.0.1')}:{kwargs.get('port', 6379)}/{db}"


class TestDeliveryReports:
    def _deliver_one(self, container: Container) -> Any:
        file_report(container)
        drain(container)
        return outbox_rows(container)[0]

    def _post(self, container: Container, **form: str) -> str:
        from ussd_app import create_app

        client = create_app(container=container).test_client()
        res = client.post("/sms/delivery", data=form)
        assert res.status_code == 200, res.get_data(as_text=True)
        return res.get_data(as_text=True)

    def test_duplicate_and_out_of_order_reports_are_harmless(
        self, alert_container: Container, standin: AtStandIn
    ) -> None:
        row = self._deliver_one(alert_container)
        mid = row.message_id
        assert "delivered" in self._post(alert_container, id=mid, status="Success")
        assert "duplicate" in self._post(alert_container, id=mid, status="Success")
        assert "ignored" in self._post(alert_container, id=mid, status="Buffered")
        assert "ignored" in self._post(alert_container, id=mid, status="Failed")
        after = outbox_rows(alert_container, id=row.id)[0]
        assert after.status == SmsStatus.DELIVERED.value
        assert len(standin.messages) == len(outbox_rows(alert_container))  # nothing resent

    def test_in_transit_then_final(self, alert_container: Container) -> None:
        row = self._deliver_one(alert_container)
        self._post(alert_container, id=row.message_id, status="Submitted")
        assert outbox_rows(alert_container, id=row.id)[0].gateway_status == "Submitted"
        self._post(alert_container, id=row.message_id, status="Success")
        assert outbox_rows(alert_container, id=row.id)[0].status == SmsStatus.DELIVERED.value

    def test_a_final_failure_moves_the_alert_to_the_next_contact(
        self, alert_container: Container, standin: AtStandIn
    ) -> None:
        file_report(alert_container)
        drain(alert_container)
        desk = outbox_rows(alert_container, partner_code="lmps-atu-desk")[0]
        self._post(
            alert_container, id=desk.message_id, status="Failed", failureReason="UserIsInactive"
        )
        drain(alert_container)
        desk_rows = outbox_rows(alert_container, partner_code="lmps-atu-desk")
        assert [r.status for r in desk_rows] == [SmsStatus.FAILED.value, SmsStatus.SENT.value]
        assert standin.messages[-1].number == "+26659990002"

    def test_a_report_that_overtakes_the_send_result_is_applied_when_it_lands(
        self, alert_container: Container, standin: AtStandIn
    ) -> None:
        real_sender = alert_container.sms_sender
        test = self

        class RacingSender:
            """The gateway's delivery report arrives before send() has returned to us."""

            def send(self, message: str, recipients: list[str]) -> Any:
                results = real_sender.send(message, recipients)
                test._post(alert_container, id=results[0].message_id, status="Success")
                return results

        alert_container.sms_sender = RacingSender()  # type: ignore[assignment]
        file_report(alert_container)
        drain(alert_container)
        rows = outbox_rows(alert_container)
        assert rows and {r.status for r in rows} == {SmsStatus.DELIVERED.value}

    def test_a_report_missing_fields_is_a_400(self, alert_container: Container) -> None:
        from ussd_app import create_app

        client = create_app(container=alert_container).test_client()
        assert client.post("/sms/delivery", data={"status": "Success"}).status_code == 400


def test_rows_never_carry_a_readable_reporter_number(alert_container: Container) -> None:
    file_report(alert_container)
    with alert_container.services.uow() as uow:
        from ussd_app.messaging.models import OutboundSms

        for row in uow.session.scalars(select(OutboundSms)):
            assert REPORTER not in row.to_enc and REPORTER not in row.body
