"""Report service: the report, the reporter's contact kept apart, consent, alerts, replays."""

from __future__ import annotations

import dataclasses
import datetime as dt
import re
from typing import Any, TypeVar

import pytest
from sqlalchemy import func, select

from tests.doubles import NoAlerts, RecordingEnqueuer
from ussd_app.cases import staging
from ussd_app.consent import ConsentRecord
from ussd_app.container import Services
from ussd_app.db import Base, UnitOfWork
from ussd_app.references import normalise_reference
from ussd_app.reports import intake as report_service
from ussd_app.reports.intake import (
    CONTACT_RETENTION_WITHOUT_CALLBACK,
    REPORT_CONSENT_VERSION,
    submit_report,
)
from ussd_app.reports.models import ReporterContact, TraffickingReport
from ussd_app.reports.retention import contact_tag

PHONE = "+26658123456"
M = TypeVar("M", bound=Base)


def answers(**overrides: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "danger_now": "no",
        "child_involved": "no",
        "flags": ["F4", "F1"],
        "place": "maputsoe_bridge",
        "when_seen": "today",
        "persons_count": "2_5",
        "vehicle": "AB 123 CD",
        "callback_consent": "no",
    }
    base.update(overrides)
    return base


def submit(services: Services, **kwargs: Any) -> tuple[str, str]:
    params: dict[str, Any] = {"phone": PHONE, "language": "en", "answers": answers()}
    params.update(kwargs)
    return submit_report(services, **params)


def rows(services: Services, model: type[M]) -> list[M]:
    with services.uow() as uow:
        found = list(uow.session.scalars(select(model)))
        uow.session.expunge_all()
        return found


def count(services: Services, model: type[Base]) -> int:
    with services.uow() as uow:
        return int(uow.session.scalar(select(func.count()).select_from(model)) or 0)


def test_report_is_stored_with_codes_priority_and_district(services: Services) -> None:
    ref, priority = submit(services)

    assert ref.startswith("T-")
    assert len(ref) == len("T-12345678")  # a letter, 7 digits and a check digit
    assert priority == "P2"  # today + a border post
    (report,) = rows(services, TraffickingReport)
    assert report.ref == ref
    assert report.priority == "P2"
    assert report.status == "received"
    assert report.channel == "ussd"
    assert report.language == "en"
    assert report.danger_now is False
    assert report.child_involved == "no"
    assert report.flags == ["F1", "F4"]
    assert report.place == "maputsoe_bridge"
    assert report.district == "LS-C"  # derived from the border post
    assert (report.when_seen, report.persons_count) == ("today", "2_5")
    assert report.vehicle_enc is not None
    assert services.cipher.decrypt(report.vehicle_enc) == "AB 123 CD"
    assert report.sms_text_enc is None
    assert report.incomplete is False
    assert report.callback_consent is False
    assert report.created_at.tzinfo is not None
    assert report.acknowledged_at is None
    assert report.closed_at is None


def test_report_row_holds_no_phone_or_hash(services: Services) -> None:
    submit(services)
    (report,) = rows(services, TraffickingReport)
    columns = {c.key for c in TraffickingReport.__table__.columns}
    assert not any("phone" in c or "msisdn" in c for c in columns)
    phone_hash = services.hash_phone(PHONE)
    for column in columns:
        value = str(getattr(report, column))
        assert "58123456" not in value, column
        assert phone_hash not in value, column
        assert "AB 123" not in value, column  # free text only encrypted


@pytest.mark.parametrize("consent", ["yes", "no"])
def test_reporter_contact_is_encrypted_apart(services: Services, consent: str) -> None:
    before = dt.datetime.now(dt.UTC)
    submit(services, phone="5812 3456", answers=answers(callback_consent=consent))

    (report,) = rows(services, TraffickingReport)
    (contact,) = rows(services, ReporterContact)
    assert contact.report_id == report.id
    assert contact.phone_enc is not None
    assert services.cipher.decrypt(contact.phone_enc) == PHONE  # normalised to E.164
    # A daily tag, not the phone hash every other table uses: it joins to nothing else.
    assert contact.abuse_tag == contact_tag(services, PHONE, contact.created_at)
    assert contact.abuse_tag != services.hash_phone(PHONE)
    assert "58123456" not in contact.phone_enc
    assert contact.callback_consent is (consent == "yes")
    assert report.callback_consent is (consent == "yes")
    if consent == "yes":
        assert contact.purge_after is None  # set when the case closes
    else:
        assert contact.purge_after is not None
        assert contact.purge_after - before >= CONTACT_RETENTION_WITHOUT_CALLBACK
        assert contact.purge_after - before < CONTACT_RETENTION_WITHOUT_CALLBACK + dt.timedelta(
            minutes=5
        )


@pytest.mark.parametrize("consent", ["yes", "no"])
def test_callback_consent_is_recorded_without_linking_a_phone(
    services: Services, consent: str
) -> None:
    ref, _ = submit(services, answers=answers(callback_consent=consent))
    (record,) = rows(services, ConsentRecord)
    assert record.subject_type == "report"
    assert record.subject_ref == ref
    assert record.purpose == "callback"
    assert record.granted is (consent == "yes")
    assert record.phone_hash is None
    assert record.version == REPORT_CONSENT_VERSION
    assert record.channel == "ussd"


def test_sms_report_text_is_encrypted(services: Services) -> None:
    text = "Taxi at Maseru rank, 3 girls, driver took phones"
    _ref, priority = submit(
        services,
        channel="sms",
        answers={"danger_now": "yes"},
        sms_text=text,
    )
    (report,) = rows(services, TraffickingReport)
    assert priority == "P1"
    assert report.channel == "sms"
    assert report.sms_text_enc is not None
    assert services.cipher.decrypt(report.sms_text_enc) == text
    assert "girls" not in report.sms_text_enc


@pytest.mark.parametrize(
    ("overrides", "expected"),
    [
        ({"danger_now": "yes", "when_seen": "earlier", "place": "other"}, "P1"),
        ({"child_involved": "yes", "when_seen": "now"}, "P1"),
        ({"flags": ["F8"], "when_seen": "now", "place": "other"}, "P1"),
        ({"child_involved": "unsure", "when_seen": "earlier"}, "P2"),
        ({"when_seen": "earlier", "place": "LS-A"}, "P3"),
    ],
)
def test_priority_is_computed_and_stored(
    services: Services, overrides: dict[str, Any], expected: str
) -> None:
    _, priority = submit(services, answers=answers(**overrides))
    assert priority == expected
    (report,) = rows(services, TraffickingReport)
    assert report.priority == expected


def test_place_other_has_no_district(services: Services) -> None:
    submit(services, answers=answers(place="other"))
    (report,) = rows(services, TraffickingReport)
    assert report.place == "other"
    assert report.district is None


def test_unknown_codes_are_kept_out_but_the_report_is_not_lost(services: Services) -> None:
    ref, _ = submit(
        services, answers=answers(place="mars", flags=["F2", "F99"], persons_count="lots")
    )
    (report,) = rows(services, TraffickingReport)
    assert report.ref == ref
    assert report.place is None
    assert report.district is None
    assert report.flags == ["F2"]
    assert report.persons_count is None


def test_incomplete_report_from_an_abandoned_session(services: Services) -> None:
    _ref, priority = submit(
        services, answers={"danger_now": "yes", "child_involved": "yes"}, incomplete=True
    )
    (report,) = rows(services, TraffickingReport)
    assert report.incomplete is True
    assert priority == "P1"
    assert report.when_seen is None
    assert report.place is None
    assert report.flags == []
    assert report.callback_consent is False
    assert count(services, ReporterContact) == 1
    assert count(services, ConsentRecord) == 0  # the call-back question was never asked


def test_replayed_hop_returns_the_same_report(services: Services) -> None:
    first = submit(services, idempotency_key="ATUid_abc")
    again = submit(services, idempotency_key="ATUid_abc", answers=answers(danger_now="yes"))

    assert again == first
    assert count(services, TraffickingReport) == 1
    assert count(services, ReporterContact) == 1
    assert count(services, ConsentRecord) == 1


def test_different_sessions_make_different_reports(services: Services) -> None:
    a, _ = submit(services, idempotency_key="ATUid_1")
    b, _ = submit(services, idempotency_key="ATUid_2")
    c, _ = submit(services)
    assert len({a, b, c}) == 3
    assert count(services, TraffickingReport) == 3


def test_the_report_commits_alone_and_its_routing_is_enqueued_after_the_commit(
    services: Services,
) -> None:
    called: list[int] = []
    staged = dataclasses.replace(
        services, alerts=NoAlerts(on_report=lambda uow, report: called.append(report.id))
    )
    ref, _ = submit(staged)

    assert called == []  # nothing is staged on the caller's hop
    (report,) = rows(services, TraffickingReport)
    assert report.ref == ref
    assert report.routed_at is None
    enqueuer = services.enqueuer
    assert isinstance(enqueuer, RecordingEnqueuer)
    assert enqueuer.routings == [("report", report.id)]


def test_routing_stages_inside_its_transaction_with_routed_at_and_runs_once(
    services: Services,
) -> None:
    seen: list[dict[str, Any]] = []
    after: list[str] = []

    def stager(uow: UnitOfWork, report: Any) -> None:
        assert isinstance(report, TraffickingReport)
        seen.append({"id": report.id, "routed_at": report.routed_at})
        # An alert row staged here commits with routed_at (a ConsentRecord stands in for it).
        uow.session.add(
            ConsentRecord(
                subject_type="report",
                subject_ref=report.ref,
                purpose="sms",
                granted=False,
                version="alert-stand-in",
                channel="sms",
            )
        )
        uow.after_commit(lambda: after.append(report.ref))

    routed = dataclasses.replace(services, alerts=NoAlerts(on_report=stager))
    ref, _ = submit(routed)
    (report,) = rows(services, TraffickingReport)

    assert staging.route(routed, "report", report.id) is True
    assert staging.route(routed, "report", report.id) is False  # safe to run twice
    assert seen == [{"id": report.id, "routed_at": None}]
    assert after == [ref]  # the queue is fed only after the routing commit
    (report,) = rows(services, TraffickingReport)
    assert report.routed_at is not None
    assert {r.version for r in rows(services, ConsentRecord)} == {
        REPORT_CONSENT_VERSION,
        "alert-stand-in",
    }


def test_a_failing_stager_leaves_the_report_stored_and_unrouted_for_the_sweeper(
    services: Services,
) -> None:
    class StagingFailed(Exception):
        pass

    def stager(uow: UnitOfWork, report: Any) -> None:
        uow.after_commit(lambda: pytest.fail("after-commit must not run"))
        raise StagingFailed

    failing = dataclasses.replace(services, alerts=NoAlerts(on_report=stager))
    ref, _ = submit(failing, idempotency_key="ATUid_x")
    (report,) = rows(services, TraffickingReport)
    with pytest.raises(StagingFailed):
        staging.route(failing, "report", report.id)

    (report,) = rows(services, TraffickingReport)
    assert report.ref == ref and report.routed_at is None
    assert {r.version for r in rows(services, ConsentRecord)} == {REPORT_CONSENT_VERSION}
    # Not yet overdue: left to its job; overdue: the sweeper routes it once the stager works.
    assert staging.unrouted(services) == []
    later = report.updated_at + dt.timedelta(seconds=staging.SWEEP_GRACE_S + 1)
    assert staging.sweep_unrouted(failing, now=later) == []  # still failing: retried later
    assert staging.sweep_unrouted(services, now=later) == [("report", report.id)]
    assert staging.sweep_unrouted(services, now=later) == []


def test_refs_are_new_format_unique_and_carry_a_check_digit(services: Services) -> None:
    refs = {submit(services)[0] for _ in range(20)}
    assert len(refs) == 20
    for ref in refs:
        assert re.fullmatch(r"T-\d{8}", ref) and normalise_reference(ref) == ref
    with services.uow() as uow:  # no placeholder is ever committed
        assert all(
            not r.startswith("~") for r in uow.session.scalars(select(TraffickingReport.ref))
        )


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"language": "english"}, "language"),
        ({"channel": "email"}, "channel"),
        ({"idempotency_key": "x" * 200}, "idempotency_key"),
        ({"phone": ""}, "number"),
    ],
)
def test_bad_call_is_refused(services: Services, kwargs: dict[str, Any], match: str) -> None:
    with pytest.raises(ValueError, match=match):
        submit(services, **kwargs)
    assert count(services, TraffickingReport) == 0


def test_concurrent_replay_that_loses_the_insert_race_returns_the_winner(
    services: Services, monkeypatch: pytest.MonkeyPatch
) -> None:
    winner, _ = submit(services, idempotency_key="ATUid_race")
    real_by_key = report_service._by_key
    calls: list[str | None] = []

    def late_check(uow: UnitOfWork, key: str | None) -> TraffickingReport | None:
        # The first look-up runs "before the winner committed": it sees nothing, so the insert
        # hits the unique key; the retry must then find and return the winner.
        calls.append(key)
        return None if len(calls) == 1 else real_by_key(uow, key)

    monkeypatch.setattr(report_service, "_by_key", late_check)
    assert submit(services, idempotency_key="ATUid_race")[0] == winner
    assert len(calls) == 2
    assert count(services, TraffickingReport) == 1
    assert count(services, ReporterContact) == 1


@pytest.mark.parametrize(
    ("report_answers", "floor", "expected"),
    [
        ({}, "P2", "P2"),  # an SMS report with nothing coded is still read within a day
        ({"danger_now": "yes"}, "P2", "P1"),  # the computed priority wins when more urgent
        ({}, "P3", "P3"),
        ({}, None, "P3"),
    ],
)
def test_default_priority_is_a_floor(
    services: Services, report_answers: dict[str, Any], floor: str | None, expected: str
) -> None:
    _, priority = submit(
        services, channel="sms", answers=report_answers, sms_text="x", default_priority=floor
    )
    assert priority == expected
    (report,) = rows(services, TraffickingReport)
    assert report.priority == expected


def test_unknown_default_priority_is_refused(services: Services) -> None:
    with pytest.raises(ValueError, match="default_priority"):
        submit(services, default_priority="P0")


def test_a_filing_leaves_no_pooled_connection_in_autocommit(services: Services) -> None:
    """On PostgreSQL the filing runs in autocommit (one statement is atomic); the connection
    goes back to the pool in transactional mode, so the next unit of work is a transaction."""
    from ussd_app.returnees.registrations import register_returnee

    submit(services)
    register_returnee(
        services,
        phone="+26658000011",
        language="en",
        answers={"consent": "yes", "share_partners": "yes", "contact_by": "sms"},
    )
    with services.uow() as uow:
        conn = uow.session.connection()
        assert conn.get_isolation_level() != "AUTOCOMMIT"
        dbapi = conn.connection.dbapi_connection
        if conn.dialect.name == "postgresql":
            assert dbapi is not None and dbapi.autocommit is False  # type: ignore[attr-defined]
        uow.session.add(TraffickingReport(ref="T-0", language="en", priority="P3"))
        uow.session.flush()
        # Not committed: leaving the unit of work rolls it back, as a transaction would.
    assert count(services, TraffickingReport) == 1
