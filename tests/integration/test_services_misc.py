"""Reference look-ups, "delete my data", language preferences and end-of-session events."""

from __future__ import annotations

from typing import Any, TypeVar

import pytest
from sqlalchemy import select

from ussd_app.cases.lookups import check_reference, find_reference, status_label
from ussd_app.consent import ConsentRecord
from ussd_app.container import Services
from ussd_app.db import Base
from ussd_app.reports.intake import submit_report
from ussd_app.reports.models import TraffickingReport
from ussd_app.returnees.account import delete_registration
from ussd_app.returnees.models import Registration
from ussd_app.returnees.registrations import register_returnee
from ussd_app.ussd.models import PhonePreference, UssdSessionEvent
from ussd_app.ussd.preferences import get_language, preference_key, set_language
from ussd_app.ussd.session_events import (
    InvalidSessionEvent,
    record_session_end,
    session_event_id,
)

PHONE = "+26658123456"
OTHER_PHONE = "+26662123456"
M = TypeVar("M", bound=Base)


def rows(services: Services, model: type[M]) -> list[M]:
    with services.uow() as uow:
        found = list(uow.session.scalars(select(model).order_by(model.id)))  # type: ignore[attr-defined]
        uow.session.expunge_all()
        return found


def register(services: Services, phone: str = PHONE, share: str = "no") -> str:
    return register_returnee(
        services,
        phone=phone,
        language="en",
        answers={
            "consent": "yes",
            "home_district": "LS-A",
            "needs": ["clinic"],
            "share_partners": share,
        },
    )


def report(services: Services) -> str:
    ref, _ = submit_report(
        services,
        phone=PHONE,
        language="en",
        answers={"danger_now": "no", "child_involved": "no", "flags": ["F5"]},
    )
    return ref


def set_status(services: Services, model: type[Any], ref: str, status: str) -> None:
    with services.uow() as uow:
        uow.session.scalars(select(model).where(model.ref == ref)).one().status = status
        uow.commit()


# --- check_reference ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("status", "coarse"),
    [
        ("received", "received"),
        ("sent", "passed_to_police"),
        ("acknowledged", "being_handled"),
        ("closed", "closed"),
    ],
)
def test_report_status_is_coarse(services: Services, status: str, coarse: str) -> None:
    ref = report(services)
    set_status(services, TraffickingReport, ref, status)
    assert check_reference(services, ref) == coarse


@pytest.mark.parametrize(
    ("status", "coarse"),
    [
        ("new", "received"),
        ("contacted", "with_case_worker"),
        ("referred", "with_case_worker"),
        ("closed", "closed"),
    ],
)
def test_registration_status_is_coarse(services: Services, status: str, coarse: str) -> None:
    ref = register(services)
    set_status(services, Registration, ref, status)
    assert check_reference(services, ref) == coarse


def test_reference_as_typed_on_a_keypad(services: Services) -> None:
    t_ref = report(services)
    r_ref = register(services)
    assert check_reference(services, t_ref.lower().replace("-", "")) == "received"
    assert find_reference(services, t_ref[2:]) == (t_ref, "received")  # digits only
    assert find_reference(services, r_ref[2:]) == (r_ref, "received")


def test_a_registration_answers_only_the_phone_that_made_it(services: Services) -> None:
    r_ref = register(services)
    t_ref = report(services)
    assert find_reference(services, r_ref, phone="5812 3456") == (r_ref, "received")  # same phone
    assert find_reference(services, r_ref, phone=OTHER_PHONE) is None  # someone else's
    assert find_reference(services, r_ref, phone="not a number") is None
    # A report's coarse status tells nothing about a person: any phone may ask.
    assert find_reference(services, t_ref, phone=OTHER_PHONE) == (t_ref, "received")


@pytest.mark.parametrize("typed", ["T-0000", "R-000000", "", "hello", "12", "T-12"])
def test_unknown_reference_is_none(services: Services, typed: str) -> None:
    report(services)
    assert check_reference(services, typed) is None


def test_status_label_by_language() -> None:
    assert status_label("passed_to_police", "en") == "Passed to police"
    assert status_label("closed", "st") == "E koetsoe"
    assert status_label("received", "xx") == "Received"


# --- delete_registration ------------------------------------------------------------------------


def test_delete_removes_the_registration_and_records_withdrawal(services: Services) -> None:
    ref = register(services, share="yes")
    other = register(services, phone=OTHER_PHONE)
    before = len(rows(services, ConsentRecord))

    assert delete_registration(services, "5812 3456") is True

    assert [r.ref for r in rows(services, Registration)] == [other]
    withdrawals = rows(services, ConsentRecord)[before:]
    # Registration and the granted partner sharing are withdrawn; SMS was never granted.
    assert {(w.purpose, w.granted) for w in withdrawals} == {
        ("registration", False),
        ("share_partners", False),
    }
    for w in withdrawals:
        assert (w.subject_type, w.subject_ref) == ("registration", ref)
        assert w.phone_hash is None  # the evidence keeps the reference, not the phone
        assert w.channel == "ussd"
    assert check_reference(services, ref) is None


def test_delete_without_a_registration_is_false(services: Services) -> None:
    assert delete_registration(services, PHONE) is False
    register(services)
    assert delete_registration(services, PHONE) is True
    assert delete_registration(services, PHONE) is False
    assert delete_registration(services, "not a phone") is False


def test_delete_leaves_reports_alone(services: Services) -> None:
    register(services)
    ref = report(services)
    assert delete_registration(services, PHONE) is True
    assert check_reference(services, ref) == "received"


# --- preferences --------------------------------------------------------------------------------


def test_language_is_remembered_and_updated(services: Services) -> None:
    assert get_language(services, PHONE) is None
    set_language(services, PHONE, "st")
    assert get_language(services, "5812 3456") == "st"
    set_language(services, "5812 3456", "en")
    set_language(services, PHONE, "en")
    assert get_language(services, PHONE) == "en"
    assert get_language(services, OTHER_PHONE) is None
    (pref,) = rows(services, PhonePreference)
    # Not the phone hash the registrations use: a reporter's language choice joins to nothing.
    assert pref.phone_hash == preference_key(services, services.hash_phone(PHONE))
    assert pref.phone_hash != services.hash_phone(PHONE)
    assert (pref.updated_at.hour, pref.updated_at.minute, pref.updated_at.second) == (0, 0, 0)


def test_bad_language_or_phone(services: Services) -> None:
    with pytest.raises(ValueError, match="language"):
        set_language(services, PHONE, "Sesotho")
    assert get_language(services, "not a phone") is None


# --- session events -----------------------------------------------------------------------------


def event(**overrides: str) -> dict[str, str]:
    form = {
        "date": "2026-11-01 10:11:12",
        "sessionId": "ATUid_0f3c9a1e",
        "serviceCode": "*384*1234#",
        "networkCode": "65101",
        "phoneNumber": PHONE,
        "status": "Incomplete",
        "cost": "LSL 0.10",
        "durationInMillis": "14250",
        "hopsCount": "4",
        "hopsMetadata": "main|report_danger|report_child",
        "input": "2*1*1*SECRET-ANSWER",
        "lastAppResponse": "CON Was a child involved? SECRET-SCREEN",
        "errorMessage": "",
    }
    form.update(overrides)
    return form


def test_session_end_is_stored_without_input_or_reply(services: Services) -> None:
    assert record_session_end(services, event()) is True

    (e,) = rows(services, UssdSessionEvent)
    assert e.session_id == session_event_id(services, "ATUid_0f3c9a1e") != "ATUid_0f3c9a1e"
    assert e.status == "Incomplete"
    assert (e.hops, e.duration_ms) == (4, 14250)
    assert e.last_screen == "report_child"
    assert (e.network_code, e.service_code) == ("65101", "*384*1234#")
    assert e.error_message is None
    assert e.phone_hash is None  # a report session: never the phone
    assert e.received_at.tzinfo is not None
    for column in UssdSessionEvent.__table__.columns:
        value = str(getattr(e, column.key))
        assert "SECRET" not in value, column.key
        assert "58123456" not in value, column.key


def test_a_registration_session_keeps_the_phone_hash(services: Services) -> None:
    assert record_session_end(services, event(hopsMetadata="language|main|reg_consent")) is True
    (e,) = rows(services, UssdSessionEvent)
    assert e.last_screen == "reg_consent"
    assert e.phone_hash == services.hash_phone(PHONE)


def test_duplicate_session_end_changes_nothing(services: Services) -> None:
    assert record_session_end(services, event()) is True
    assert record_session_end(services, event(status="Failed", hopsCount="9")) is False
    (e,) = rows(services, UssdSessionEvent)
    assert (e.status, e.hops) == ("Incomplete", 4)


def test_failed_session_keeps_the_error(services: Services) -> None:
    record_session_end(services, event(status="Failed", errorMessage="App timeout"))
    (e,) = rows(services, UssdSessionEvent)
    assert e.error_message == "App timeout"


def test_junk_numbers_and_missing_optional_fields(services: Services) -> None:
    form = {"sessionId": "s1", "status": "Success", "hopsCount": "many", "durationInMillis": "-5"}
    assert record_session_end(services, form) is True
    (e,) = rows(services, UssdSessionEvent)
    assert (e.hops, e.duration_ms, e.last_screen, e.phone_hash) == (None, None, None, None)
    record_session_end(services, event(sessionId="s2", durationInMillis=str(2**40)))
    assert rows(services, UssdSessionEvent)[1].duration_ms is None


@pytest.mark.parametrize(
    ("form", "match"),
    [
        ({"status": "Success"}, "sessionId"),
        ({"sessionId": "  ", "status": "Success"}, "sessionId"),
        ({"sessionId": "s1"}, "status"),
        ({"sessionId": "s" * 300, "status": "Success"}, "sessionId"),
    ],
)
def test_unusable_session_end_is_refused(
    services: Services, form: dict[str, str], match: str
) -> None:
    with pytest.raises(InvalidSessionEvent, match=match) as info:
        record_session_end(services, form)
    assert isinstance(info.value, ValueError)
    assert rows(services, UssdSessionEvent) == []
