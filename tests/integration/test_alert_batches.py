"""Issue 12, alert path: the routing job sends a report's alerts together.

One claim and one record for all of a report's alerts, one gateway request per distinct text,
over one kept-alive connection; a request that fails retries exactly its own rows; a row another
worker holds is left alone. A routing job also takes the other reports waiting (a burst): each is
alerted once, one bad report does not hold back the others, and a report another worker is
routing is skipped, not waited for. And the partners directory, read afresh by every routing, is
rebuilt only when its rows changed, so an on-duty change is never missed.

Real parts: the database of the run, Redis, an RQ worker (burst), the Africa's Talking SDK
against the local stand-in.
"""

from __future__ import annotations

import dataclasses
import threading
import time
from collections import Counter
from typing import Any

import pytest
from sqlalchemy import select, update

from tests.integration.alerts_support import (
    P1_ANSWERS,
    REPORTER,
    drain,
    expected_recipients,
    outbox_rows,
)
from tests.standin import AtStandIn
from ussd_app.bootstrap import Container
from ussd_app.cases import staging
from ussd_app.container import Services
from ussd_app.db import UnitOfWork, utcnow
from ussd_app.messaging import outbox
from ussd_app.messaging.models import OutboundSms, SmsPurpose, SmsStatus
from ussd_app.partners.roster import roster, set_on_duty
from ussd_app.partners.snapshot import load_directory
from ussd_app.reports.intake import submit_report
from ussd_app.reports.models import TraffickingReport
from ussd_app.runtime import jobs


def _file_through_the_queue(container: Container) -> str:
    """File a report as the last hop does (its routing job enqueued after the commit) and let a
    worker run that job: the path the service takes, `runtime.jobs.route_subject`."""
    ref, _ = submit_report(container.services, phone=REPORTER, language="en", answers=P1_ANSWERS)
    drain(container)
    return ref


def test_a_reports_alerts_go_in_one_request_per_text_over_one_connection(
    alert_container: Container, standin: AtStandIn
) -> None:
    ref = _file_through_the_queue(alert_container)
    expected = Counter(r.phone for r in expected_recipients(alert_container, ref))
    assert len(expected) == 5
    assert Counter(m.number for m in standin.messages) == expected
    rows = outbox_rows(alert_container)
    assert {r.status for r in rows} == {SmsStatus.SENT.value}
    assert all(r.attempts == 1 and r.message_id for r in rows)
    texts = {r.body for r in rows}
    assert standin.request_count == len(texts) < len(rows)
    assert standin.connection_count == 1  # kept alive, not one connection per message


def test_a_failed_request_retries_its_own_rows_and_each_alert_still_arrives_once(
    alert_container: Container, standin: AtStandIn
) -> None:
    standin.fail_next("http_500", times=1)
    ref = _file_through_the_queue(alert_container)
    expected = Counter(r.phone for r in expected_recipients(alert_container, ref))
    assert Counter(m.number for m in standin.messages) == expected
    rows = outbox_rows(alert_container)
    assert {r.status for r in rows} == {SmsStatus.SENT.value}
    # The first request carried the rows of the first text; only they were tried twice.
    first_text = min(rows, key=lambda r: r.id).body
    assert {r.id: r.attempts for r in rows} == {
        r.id: 2 if r.body == first_text else 1 for r in rows
    }


def test_rows_another_worker_holds_are_skipped_and_the_rest_sent(
    alert_container: Container, standin: AtStandIn
) -> None:
    services = alert_container.services
    with services.uow() as uow:
        staged = [
            outbox.stage(
                uow,
                services,
                to=f"+2665999100{i}",
                body="same text" if i < 3 else "other text",
                purpose=SmsPurpose.ADMIN,
                key=f"batch-test-{i}",
            )
            for i in range(4)
        ]
        uow.commit()
    ids = [row.id for row in staged if row is not None]
    with services.uow() as uow:  # another worker claimed the second row a moment ago
        uow.session.execute(
            update(OutboundSms)
            .where(OutboundSms.id == ids[1])
            .values(status=SmsStatus.SENDING.value, claimed_at=utcnow(), attempts=1)
        )
        uow.commit()

    results = outbox.deliver_many(services, alert_container.sms_sender, ids)
    assert results == {
        ids[0]: outbox.DeliveryResult.SENT,
        ids[1]: outbox.DeliveryResult.SKIPPED,
        ids[2]: outbox.DeliveryResult.SENT,
        ids[3]: outbox.DeliveryResult.SENT,
    }
    assert sorted(m.number for m in standin.messages) == [
        "+26659991000",
        "+26659991002",
        "+26659991003",
    ]
    assert standin.request_count == 2  # "same text" to two numbers, "other text" to one
    assert outbox.deliver_many(services, alert_container.sms_sender, ids) == dict.fromkeys(
        ids, outbox.DeliveryResult.SKIPPED
    )
    assert len(standin.messages) == 3  # nothing is sent twice


def test_a_number_twice_with_one_text_goes_in_two_requests() -> None:
    claimed = [
        outbox._Claimed(1, "+26659990001", "text", 1),
        outbox._Claimed(2, "+26659990002", "text", 1),
        outbox._Claimed(3, "+26659990001", "text", 1),
        outbox._Claimed(4, "+26659990003", "another", 1),
    ]
    batches = [[c.id for c in batch] for batch in outbox._requests(claimed)]
    assert batches == [[1, 2], [3], [4]]


def test_the_directory_is_rebuilt_only_when_it_changed_and_an_on_duty_change_is_seen(
    alert_container: Container,
) -> None:
    services = alert_container.services
    with services.uow() as uow:
        first = load_directory(uow.session)
    with services.uow() as uow:
        assert load_directory(uow.session) is first  # same rows: the same snapshot

    desk = roster(services, "lmps-atu-desk")
    assert len(desk) >= 2
    on_duty = {e.contact_id for e in desk if e.on_duty}
    # Hand the phone over: one phone only if several are on duty, else all of them.
    wanted = {desk[-1].contact_id} if len(on_duty) > 1 else {e.contact_id for e in desk}
    assert wanted != on_duty
    set_on_duty(services, "lmps-atu-desk", wanted)

    with services.uow() as uow:
        after = load_directory(uow.session)
    assert after is not first
    partner = after.partner("lmps-atu-desk")
    assert partner is not None
    assert {c.id for c in partner.contacts if c.on_duty} == wanted


# Four places that route to different partners: different sets of recipients.
_BURST_PLACES = ("maputsoe_bridge", "LS-A", "van_rooyens_gate", "LS-C")


def _file_without_routing(container: Container, count: int, first: int = 0) -> list[int]:
    """File `count` reports whose routing jobs are not run yet (a burst, workers busy), from
    numbers `first`, `first` + 1, ..."""
    services = container.services
    refs = [
        submit_report(
            services,
            phone=f"+266581110{i:02d}",
            language="en",
            answers={**P1_ANSWERS, "place": _BURST_PLACES[i % len(_BURST_PLACES)]},
        )[0]
        for i in range(first, first + count)
    ]
    with services.uow() as uow:
        ids = uow.session.scalars(
            select(TraffickingReport.id)
            .where(TraffickingReport.ref.in_(refs))
            .order_by(TraffickingReport.id)
        ).all()
    return list(ids)


def _routed(services: Services) -> dict[int, bool]:
    with services.uow() as uow:
        return {
            int(i): at is not None
            for i, at in uow.session.execute(
                select(TraffickingReport.id, TraffickingReport.routed_at)
            )
        }


def _expected_numbers(container: Container, ids: list[int]) -> Counter[str]:
    with container.services.uow() as uow:
        refs = uow.session.scalars(
            select(TraffickingReport.ref).where(TraffickingReport.id.in_(ids))
        ).all()
    return sum(
        (Counter(r.phone for r in expected_recipients(container, ref)) for ref in refs), Counter()
    )


def test_one_routing_job_routes_the_reports_waiting_with_it_and_each_alert_goes_once(
    alert_container: Container, standin: AtStandIn
) -> None:
    ids = _file_without_routing(alert_container, 4)
    assert jobs.route_subject("report", ids[2]) is True  # the third report's job ran first

    assert _routed(alert_container.services) == dict.fromkeys(ids, True)
    expected = _expected_numbers(alert_container, ids)
    assert Counter(m.number for m in standin.messages) == expected
    texts = {r.body for r in outbox_rows(alert_container)}
    assert len(texts) == 4 and standin.request_count == 4  # one request per report's text

    drain(alert_container)  # the four routing jobs on the queue run now: nothing more is sent
    assert [jobs.route_subject("report", i) for i in ids] == [False] * 4
    assert Counter(m.number for m in standin.messages) == expected
    assert {r.status for r in outbox_rows(alert_container)} == {SmsStatus.SENT.value}


class _FailsFor:
    """The real alert port, except that staging report `bad_id` raises (`tries` counts it)."""

    def __init__(self, real: Any, bad_id: int) -> None:
        self._real, self._bad_id = real, bad_id
        self.tries = 0

    def stage_report_alerts(self, services: Services, uow: UnitOfWork, report: Any) -> int:
        if report.id == self._bad_id:
            self.tries += 1
            raise RuntimeError("this report cannot be staged")
        return int(self._real.stage_report_alerts(services, uow, report))

    def stage_registration_notices(self, *args: Any) -> None:
        self._real.stage_registration_notices(*args)


def test_a_report_that_cannot_be_routed_does_not_hold_back_the_others_routed_with_it(
    alert_container: Container,
) -> None:
    services = alert_container.services
    ids = _file_without_routing(alert_container, 3)
    port = _FailsFor(services.alerts, ids[1])
    failing = dataclasses.replace(services, alerts=port)

    # Another report's job: its own report and the third are routed, one by one.
    assert staging.route(failing, "report", ids[0], others=24) is True
    assert _routed(services) == {ids[0]: True, ids[1]: False, ids[2]: True}
    assert port.tries == 2  # in the batch, then alone
    # For a while, other jobs leave the bad report out of their batch: they route in one go.
    ids += _file_without_routing(alert_container, 2, first=3)
    assert staging.route(failing, "report", ids[3], others=24) is True
    assert port.tries == 2 and _routed(services) == {
        ids[0]: True,
        ids[1]: False,
        ids[2]: True,
        ids[3]: True,
        ids[4]: True,
    }
    # The bad report's own job still tries it, and fails loudly (RQ keeps it as failed; the
    # sweeper retries).
    with pytest.raises(RuntimeError, match="cannot be staged"):
        staging.route(failing, "report", ids[1], others=24)
    assert port.tries == 3 and _routed(services)[ids[1]] is False
    assert staging.route(services, "report", ids[1], others=24) is True  # once it works
    assert {r.report_id for r in outbox_rows(alert_container)} == set(ids)


def _postgresql_only(services: Services) -> None:
    with services.uow() as uow:
        dialect = uow.session.get_bind().dialect.name
    if dialect != "postgresql":
        pytest.skip("row locks (FOR UPDATE [SKIP LOCKED]) are PostgreSQL's; .ci/run runs this")


def _route_in_a_thread(services: Services, report_id: int) -> tuple[threading.Thread, list[Any]]:
    """staging.route as a job would call it, in a thread (so a wait on a lock cannot hang the
    test: it is joined with a timeout)."""
    outcome: list[Any] = []

    def run() -> None:
        try:
            outcome.append(staging.route(services, "report", report_id, others=24))
        except Exception as exc:  # the test reports it
            outcome.append(exc)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread, outcome


def _hold_row_lock(services: Services, report_id: int) -> UnitOfWork:
    """Another transaction (a worker, a replayed hop, the desk) holding the report's row lock."""
    holder = services.uow().__enter__()
    holder.session.execute(
        select(TraffickingReport.id).where(TraffickingReport.id == report_id).with_for_update()
    )
    return holder


def test_a_report_another_worker_is_routing_is_skipped_not_waited_for(
    alert_container: Container,
) -> None:
    services = alert_container.services
    _postgresql_only(services)
    ids = _file_without_routing(alert_container, 3)
    holder = _hold_row_lock(services, ids[1])
    try:
        thread, outcome = _route_in_a_thread(services, ids[0])
        thread.join(timeout=10)
        # Row 2 is locked by another transaction: not waited for, not routed here.
        assert outcome == [True], "the batch waited for a row another transaction holds"
        assert _routed(services) == {ids[0]: True, ids[1]: False, ids[2]: True}
    finally:
        holder.__exit__(None, None, None)
    assert staging.route(services, "report", ids[1], others=24) is True  # its own job, later


def test_a_jobs_own_report_held_a_moment_by_another_transaction_is_waited_for(
    alert_container: Container,
) -> None:
    services = alert_container.services
    _postgresql_only(services)
    (own,) = _file_without_routing(alert_container, 1)
    holder = _hold_row_lock(services, own)
    try:
        thread, outcome = _route_in_a_thread(services, own)
        thread.join(timeout=0.5)
        assert thread.is_alive() and outcome == []  # waiting for the lock, not skipping it
    finally:
        holder.__exit__(None, None, None)
    thread.join(timeout=10)
    assert outcome == [True] and _routed(services) == {own: True}


def test_a_routing_job_whose_own_report_fails_still_sends_the_others_it_routed(
    alert_container: Container, standin: AtStandIn
) -> None:
    services = alert_container.services
    ids = _file_without_routing(alert_container, 3)
    broken = dataclasses.replace(
        alert_container,
        services=dataclasses.replace(services, alerts=_FailsFor(services.alerts, ids[0])),
    )
    jobs.configure(broken)
    try:
        with pytest.raises(RuntimeError, match="cannot be staged"):
            jobs.route_subject("report", ids[0])
    finally:
        jobs.configure(alert_container)
    assert _routed(services) == {ids[0]: False, ids[1]: True, ids[2]: True}
    # The two others were routed alone after the batch failed, and sent by this job at once.
    assert Counter(m.number for m in standin.messages) == _expected_numbers(
        alert_container, ids[1:]
    )


def test_sends_not_started_before_the_deadline_are_put_back_and_queued(
    alert_container: Container, standin: AtStandIn
) -> None:
    services = alert_container.services
    (report,) = _file_without_routing(alert_container, 1)
    staged: list[int] = []
    here = dataclasses.replace(services, enqueuer=_Collect(staged))
    assert staging.route(here, "report", report) is True
    assert staged

    results = outbox.deliver_many(
        services, alert_container.sms_sender, staged, deadline=time.monotonic()
    )
    assert set(results.values()) == {outbox.DeliveryResult.DEFERRED}
    assert standin.messages == []
    rows = outbox_rows(alert_container)
    assert {(r.status, r.attempts) for r in rows} == {(SmsStatus.PENDING.value, 0)}
    drain(alert_container)  # queued as sends of their own: each goes once
    assert Counter(m.number for m in standin.messages) == _expected_numbers(
        alert_container, [report]
    )
    assert {r.status for r in outbox_rows(alert_container)} == {SmsStatus.SENT.value}


class _Collect:
    """An `Enqueuer` that only notes the outbox ids staged (sends nothing, queues nothing)."""

    def __init__(self, into: list[int]) -> None:
        self._into = into

    def enqueue(self, outbound_id: int, purpose: Any = None, **_kw: Any) -> bool:
        self._into.append(outbound_id)
        return True

    def enqueue_routing(self, subject: str, subject_id: int) -> bool:
        return True


def test_a_routing_job_out_of_time_queues_what_it_has_not_sent(
    alert_container: Container, standin: AtStandIn, monkeypatch: pytest.MonkeyPatch
) -> None:
    ids = _file_without_routing(alert_container, 2)
    monkeypatch.setattr(jobs, "SEND_BUDGET_S", 0.0)  # as if the gateway had been slow
    assert jobs.route_subject("report", ids[0]) is True
    assert standin.messages == []  # nothing sent by the job itself
    assert {r.status for r in outbox_rows(alert_container)} == {SmsStatus.PENDING.value}
    drain(alert_container)  # each queued as a send of its own: each goes once
    assert Counter(m.number for m in standin.messages) == _expected_numbers(alert_container, ids)
