"""Returnee registration service: what is stored, encrypted, updated and consented."""

from __future__ import annotations

import dataclasses
import datetime as dt
import re
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from sqlalchemy import select

from tests.doubles import NoAlerts, RecordingEnqueuer
from ussd_app.cases import staging
from ussd_app.consent import ConsentRecord
from ussd_app.container import Services
from ussd_app.db import UnitOfWork
from ussd_app.references import normalise_reference
from ussd_app.returnees.models import Registration
from ussd_app.returnees.registrations import (
    REGISTRATION_CONSENT_VERSION,
    ConsentRequired,
    InvalidAnswers,
    register_returnee,
)

PHONE = "+26658123456"


def answers(**overrides: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "consent": "yes",
        "share_partners": "yes",
        "home_district": "LS-F",
        "came_from": "ZA-GP",
        "stay_intent": "staying",
        "entry_point": "maseru_bridge",
        "travel_document": "passport_valid",
        "needs": ["skills", "clinic"],
        "sex": "female",
        "age_band": "18_35",
        "name": "  Palesa   Mokoena ",
        "sms_opt_in": "no",
    }
    base.update(overrides)
    return base


def register(services: Services, phone: str = PHONE, **overrides: Any) -> str:
    return register_returnee(
        services, phone=phone, language="st", answers=answers(**overrides), session_id="ATUid_1"
    )


def all_registrations(services: Services) -> list[Registration]:
    with services.uow() as uow:
        rows = list(uow.session.scalars(select(Registration)))
        uow.session.expunge_all()  # keep loaded values readable after the rollback on exit
        return rows


def consents(services: Services) -> list[ConsentRecord]:
    with services.uow() as uow:
        rows = list(uow.session.scalars(select(ConsentRecord).order_by(ConsentRecord.id)))
        uow.session.expunge_all()
        return rows


def test_registration_is_stored_with_codes_and_encrypted_personal_data(
    services: Services,
) -> None:
    ref = register(services)

    assert ref.startswith("R-")
    assert len(ref) == len("R-12345678")  # a letter, 7 digits and a check digit
    (reg,) = all_registrations(services)
    assert reg.ref == ref
    assert reg.language == "st"
    assert reg.consent_version == REGISTRATION_CONSENT_VERSION
    assert reg.share_partners is True
    assert reg.sms_opt_in is False
    assert (reg.home_district, reg.came_from, reg.stay_intent) == ("LS-F", "ZA-GP", "staying")
    assert (reg.entry_point, reg.travel_document) == ("maseru_bridge", "passport_valid")
    assert reg.needs == ["clinic", "skills"]  # codes' own order, whatever order was typed
    assert (reg.sex, reg.age_band) == ("female", "18_35")
    assert reg.status == "new"
    assert reg.channel == "ussd"
    # Number and name only encrypted; the hash is the keyed look-up hash.
    assert services.cipher.decrypt(reg.phone_enc) == PHONE
    assert reg.name_enc is not None
    assert services.cipher.decrypt(reg.name_enc) == "Palesa Mokoena"
    assert reg.phone_hash == services.hash_phone(PHONE)
    for column in Registration.__table__.columns:
        value = str(getattr(reg, column.key))
        assert "58123456" not in value, column.key
        assert "Palesa" not in value, column.key
    assert reg.created_at.tzinfo is not None
    assert reg.created_at.utcoffset() == dt.timedelta(0)


def test_registering_again_updates_the_same_record(services: Services) -> None:
    first = register(services)
    second = register(
        services, phone="5812 3456", home_district="LS-A", needs=["documents"], name=None
    )

    assert second == first
    (reg,) = all_registrations(services)
    assert reg.home_district == "LS-A"
    assert reg.needs == ["documents"]
    assert reg.name_enc is None  # the latest answers win, including "no name"


def test_another_phone_gets_its_own_record(services: Services) -> None:
    a = register(services)
    b = register(services, phone="+26662123456")
    assert a != b
    assert len(all_registrations(services)) == 2


def test_consent_records_are_written_for_each_purpose(services: Services) -> None:
    ref = register(services, share_partners="no", sms_opt_in="yes")

    records = consents(services)
    assert {(r.purpose, r.granted) for r in records} == {
        ("registration", True),
        ("share_partners", False),
        ("sms", True),
        ("call", False),
    }
    for r in records:
        assert r.subject_type == "registration"
        assert r.subject_ref == ref
        assert r.phone_hash == services.hash_phone(PHONE)
        assert r.version == REGISTRATION_CONSENT_VERSION
        assert r.channel == "ussd"
        assert r.recorded_at.tzinfo is not None


def test_registering_again_adds_consent_history(services: Services) -> None:
    register(services)
    register(services, share_partners="no")
    records = consents(services)
    assert len(records) == 8
    assert [r.granted for r in records if r.purpose == "share_partners"] == [True, False]


def test_missing_opt_ins_mean_no(services: Services) -> None:
    a = answers()
    del a["share_partners"], a["sms_opt_in"]
    register_returnee(services, phone=PHONE, language="en", answers=a)
    (reg,) = all_registrations(services)
    assert reg.share_partners is False
    assert reg.sms_opt_in is False
    assert reg.contact_by == "none"


@pytest.mark.parametrize(
    ("answer", "contact_by", "sms", "call"),
    [("call", "call", False, True), ("sms", "sms", True, False), ("none", "none", False, False)],
)
def test_contact_question_sets_how_to_reach_the_person(
    services: Services, answer: str, contact_by: str, sms: bool, call: bool
) -> None:
    a = answers()
    del a["sms_opt_in"]
    register_returnee(services, phone=PHONE, language="en", answers={**a, "contact_by": answer})
    (reg,) = all_registrations(services)
    assert (reg.contact_by, reg.sms_opt_in) == (contact_by, sms)
    granted = {r.purpose: r.granted for r in consents(services)}
    assert (granted["sms"], granted["call"]) == (sms, call)


def test_an_unknown_contact_code_is_refused(services: Services) -> None:
    with pytest.raises(InvalidAnswers):
        register_returnee(
            services, phone=PHONE, language="en", answers={**answers(), "contact_by": "fax"}
        )
    assert all_registrations(services) == []


@pytest.mark.parametrize("consent", ["no", None])
def test_without_consent_nothing_is_stored(services: Services, consent: str | None) -> None:
    with pytest.raises(ConsentRequired):
        register(services, consent=consent)
    assert all_registrations(services) == []
    assert consents(services) == []


@pytest.mark.parametrize(
    "overrides",
    [
        {"home_district": "LS-Z"},
        {"needs": ["clinic", "money"]},
        {"needs": "clinic"},
        {"share_partners": "maybe"},
        {"age_band": "99"},
    ],
)
def test_unknown_codes_are_refused_without_echoing_them(
    services: Services, overrides: dict[str, Any]
) -> None:
    with pytest.raises(InvalidAnswers) as info:
        register(services, **overrides)
    for value in overrides.values():
        if isinstance(value, str):
            assert repr(value) not in str(info.value)
    assert all_registrations(services) == []


def test_minimal_registration_leaves_optional_fields_empty(services: Services) -> None:
    register_returnee(
        services, phone=PHONE, language="en", answers={"consent": "yes", "age_band": "u18"}
    )
    (reg,) = all_registrations(services)
    assert reg.age_band == "u18"
    assert reg.home_district is None
    assert reg.needs == []
    assert reg.name_enc is None


def test_long_name_is_capped(services: Services) -> None:
    register(services, name="N" * 200)
    (reg,) = all_registrations(services)
    assert reg.name_enc is not None
    assert services.cipher.decrypt(reg.name_enc) == "N" * 40


def test_closed_registration_reopens_when_registering_again(services: Services) -> None:
    register(services)
    with services.uow() as uow:
        uow.session.scalars(select(Registration)).one().status = "closed"
        uow.commit()
    register(services)
    (reg,) = all_registrations(services)
    assert reg.status == "new"


def test_refs_are_new_format_unique_and_kept_on_update(services: Services) -> None:
    first = register(services, phone="+26662123456")
    second = register(services)
    assert first != second
    for ref in (first, second):
        assert re.fullmatch(r"R-\d{8}", ref) and normalise_reference(ref) == ref
    assert register(services) == second  # registering again keeps the reference


def test_bad_language_is_refused(services: Services) -> None:
    with pytest.raises(ValueError, match="language"):
        register_returnee(services, phone=PHONE, language="English!", answers=answers())


def test_simultaneous_registrations_from_one_phone_make_one_record(services: Services) -> None:
    with ThreadPoolExecutor(max_workers=4) as pool:
        refs = list(pool.map(lambda _: register(services), range(4)))

    assert len(set(refs)) == 1
    assert len(all_registrations(services)) == 1
    assert len(consents(services)) == 16  # 4 purposes x 4 registrations


def test_registration_notices_are_staged_by_the_routing_job_after_the_commit(
    services: Services,
) -> None:
    seen: list[tuple[str, str, bool]] = []

    def hook(uow: UnitOfWork, reg: Any, e164: str) -> None:
        seen.append((reg.ref, e164, reg.routed_at is None))

    hooked = dataclasses.replace(services, alerts=NoAlerts(on_registration=hook))
    ref = register(hooked, phone="5812 3456")
    assert seen == []  # nothing staged on the caller's hop
    (reg,) = all_registrations(services)
    assert reg.routed_at is None
    enqueuer = services.enqueuer
    assert isinstance(enqueuer, RecordingEnqueuer)
    assert enqueuer.routings == [("registration", reg.id)]

    assert staging.route(hooked, "registration", reg.id) is True
    assert staging.route(hooked, "registration", reg.id) is False
    assert seen == [(ref, PHONE, True)]
    (routed,) = all_registrations(services)
    assert routed.routed_at is not None
    assert routed.updated_at == reg.updated_at  # routing is not a change to the record

    register(hooked, phone="5812 3456")  # an update is routed again
    (again,) = all_registrations(services)
    assert again.routed_at is None
    assert staging.route(hooked, "registration", again.id) is True
    assert len(seen) == 2


def test_a_failing_registration_hook_leaves_the_registration_unrouted(
    services: Services,
) -> None:
    def hook(uow: UnitOfWork, reg: Any, e164: str) -> None:
        raise RuntimeError("staging failed")

    failing = dataclasses.replace(services, alerts=NoAlerts(on_registration=hook))
    ref = register(failing)
    (reg,) = all_registrations(services)
    with pytest.raises(RuntimeError, match="staging failed"):
        staging.route(failing, "registration", reg.id)
    (reg,) = all_registrations(services)
    assert reg.ref == ref and reg.routed_at is None
    later = reg.updated_at + dt.timedelta(seconds=staging.SWEEP_GRACE_S + 1)
    assert staging.sweep_unrouted(services, now=later) == [("registration", reg.id)]
