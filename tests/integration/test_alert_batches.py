"""Issue 12, alert path: the routing job sends a report's alerts together.

One claim and one record for all of a report's alerts, one gateway request per distinct text,
over one kept-alive connection; a request that fails retries exactly its own rows; a row another
worker holds is left alone. And the partners directory, read afresh by every routing, is rebuilt
only when its rows changed, so an on-duty change is never missed.

Real parts: the database of the run, Redis, an RQ worker (burst), the Africa's Talking SDK
against the local stand-in.
"""

from __future__ import annotations

from collections import Counter

from sqlalchemy import update

from tests.integration.alerts_support import (
    P1_ANSWERS,
    REPORTER,
    drain,
    expected_recipients,
    outbox_rows,
)
from tests.standin import AtStandIn
from ussd_app.bootstrap import Container
from ussd_app.db import utcnow
from ussd_app.messaging import outbox
from ussd_app.messaging.models import OutboundSms, SmsPurpose, SmsStatus
from ussd_app.partners.roster import roster, set_on_duty
from ussd_app.partners.snapshot import load_directory
from ussd_app.reports.intake import submit_report


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
