"""The border health desk through the real app (issue 10): a health worker at a post finds a
registration by the reference the returnee gives and records services given (never a result);
only staff of a partner running a border health desk may use it."""

from __future__ import annotations

import re

import pytest
from flask import Flask
from sqlalchemy import select

from tests.desk.conftest import csrf_of, enrol
from tests.desk.test_cases_web import (  # noqa: F401  (fixtures)
    audit_rows,
    cases_app,
    cases_container,
    client_for,
    post,
    svc,
)
from tests.desk.test_registrations_web import NAME, RETURNEE, register
from ussd_app.cases.staging import sweep_unrouted
from ussd_app.consent import ConsentRecord
from ussd_app.container import Services
from ussd_app.messaging.models import OutboundSms
from ussd_app.returnees.account import delete_registration
from ussd_app.returnees.health import HealthService
from ussd_app.returnees.models import Registration
from ussd_app.staff.models import AuditEvent


def test_a_health_worker_finds_a_registration_and_records_a_tb_screening(
    cases_app: Flask,  # noqa: F811
    svc: Services,  # noqa: F811
) -> None:
    ref = register(svc)
    nurse = client_for(cases_app, svc, enrol(svc, "officer", "moh-border-health", "Nurse N"))
    page = nurse.get(f"/desk/border-health?ref={ref}").get_data(as_text=True)
    assert ref in page and "Leribe" in page and "Clinic services" in page
    assert NAME not in page and "58444555" not in page
    (lookup,) = audit_rows(svc, "health.lookup")
    assert lookup.record_ref == ref and lookup.detail == "found"
    text = post(
        nurse,
        f"/desk/border-health/{ref}",
        f"/desk/border-health?ref={ref}",
        service="tb_screening",
        post="maputsoe_bridge",
    )
    assert "1 service(s) recorded." in text and "TB screening, Maputsoe Bridge" in text
    assert "result" not in {c.name.lower() for c in HealthService.__table__.columns}
    # A partner following the registration sees it on the registration page.
    iom = client_for(cases_app, svc, enrol(svc, "officer", "iom-lesotho", "Ina IOM"))
    assert "TB screening" in iom.get(f"/desk/returnees/{ref}").get_data(as_text=True)
    # Nothing ticked, or a post the desk does not run: nothing recorded.
    post(nurse, f"/desk/border-health/{ref}", f"/desk/border-health?ref={ref}", post="sani_pass")
    with svc.uow() as uow:
        assert len(uow.session.scalars(select(HealthService)).all()) == 1
    # Delete-my-data takes the services with the registration.
    assert delete_registration(svc, RETURNEE)
    with svc.uow() as uow:
        assert uow.session.scalars(select(HealthService)).all() == []


def test_an_unknown_reference_and_a_partner_without_a_health_desk(
    cases_app: Flask,  # noqa: F811
    svc: Services,  # noqa: F811
) -> None:
    ref = register(svc)
    nurse = client_for(cases_app, svc, enrol(svc, "officer", "moh-border-health", "Nurse N"))
    text = nurse.get("/desk/border-health?ref=R-000000").get_data(as_text=True)
    assert "No registration has that reference" in text
    skill = client_for(cases_app, svc, enrol(svc, "officer", "skillshare-lesotho", "Lineo S"))
    assert skill.get(f"/desk/border-health?ref={ref}").status_code == 403
    assert audit_rows(svc, "access.refused")


# -- by number, and walk-ins -------------------------------------------------------------------

WALK_IN = "+26658777888"


def walk_in_form(**over: str | list[str]) -> dict[str, str | list[str]]:
    return {
        "number": "5877 7888",
        "home_district": "LS-C",
        "need": ["livelihood", "clinic"],
        "contact_by": "sms",
        "language": "st",
        "post": "maputsoe_bridge",
        "share_partners": "yes",
        "verbal_consent": "yes",
        **over,
    }


def test_find_by_number_needs_a_reason_and_is_audited_without_the_number(
    cases_app: Flask,  # noqa: F811
    svc: Services,  # noqa: F811
    caplog: pytest.LogCaptureFixture,
) -> None:
    ref = register(svc)
    nurse = client_for(cases_app, svc, enrol(svc, "officer", "moh-border-health", "Nurse N"))
    page = "/desk/border-health"
    # No reason: nothing looked up.
    text = post(nurse, f"{page}/find-number", page, number="5844 4555")
    assert "Choose why" in text and ref not in text
    assert audit_rows(svc, "health.number_lookup") == []
    # With a reason: found by the keyed hash, on to the registration by its reference.
    text = post(nurse, f"{page}/find-number", page, number="5844 4555", reason="no_reference")
    assert f'id="health-ref">{ref}<' in text and NAME not in text
    (row,) = audit_rows(svc, "health.number_lookup")
    assert row.record_ref == ref and row.detail == "reason=no_reference:found"
    # Not found: said so, and the walk-in form opens with the number in it.
    text = post(nurse, f"{page}/find-number", page, number="58777888", reason="before_walk_in")
    assert "No registration for that number" in text and 'value="58777888"' in text
    assert audit_rows(svc, "health.number_lookup")[-1].detail == "reason=before_walk_in:not_found"
    assert "That is not a phone number" in post(
        nurse, f"{page}/find-number", page, number="hello", reason="no_reference"
    )
    # The number is in no audit row and no log line, typed or normalised.
    with svc.uow() as uow:
        dumped = " ".join(
            f"{a.action} {a.record_ref} {a.detail}" for a in uow.session.scalars(select(AuditEvent))
        )
    for shown in ("58444555", "5844 4555", "58777888"):
        assert shown not in dumped and shown not in caplog.text


def test_only_health_desk_staff_look_up_by_number_or_register_walk_ins(
    cases_app: Flask,  # noqa: F811
    svc: Services,  # noqa: F811
) -> None:
    register(svc)
    skill = client_for(cases_app, svc, enrol(svc, "officer", "skillshare-lesotho", "Lineo S"))
    token = csrf_of(skill, "/desk/")
    found = skill.post(
        "/desk/border-health/find-number",
        data={"csrf_token": token, "number": "58444555", "reason": "no_reference"},
    )
    assert found.status_code == 403
    assert (
        skill.post(
            "/desk/border-health/walk-in", data={"csrf_token": token, **walk_in_form()}
        ).status_code
        == 403
    )
    admin = client_for(cases_app, svc, enrol(svc, "admin", "moh-border-health", "Ada Admin"))
    token = csrf_of(admin, "/desk/")
    assert (
        admin.post(
            "/desk/border-health/walk-in", data={"csrf_token": token, **walk_in_form()}
        ).status_code
        == 403
    )
    assert len(audit_rows(svc, "access.refused")) >= 2
    assert audit_rows(svc, "health.number_lookup") == []
    with svc.uow() as uow:
        assert len(uow.session.scalars(select(Registration)).all()) == 1


def test_a_walk_in_is_registered_with_verbal_consent_and_routed_like_any_registration(
    cases_app: Flask,  # noqa: F811
    svc: Services,  # noqa: F811
) -> None:
    nurse_staff = enrol(svc, "officer", "moh-border-health", "Nurse N")
    nurse = client_for(cases_app, svc, nurse_staff)
    page = "/desk/border-health"
    # Without the verbal-consent tick nothing is stored.
    text = post(nurse, f"{page}/walk-in", page, **walk_in_form(verbal_consent=""))  # type: ignore[arg-type]
    assert "Nothing was stored" in text
    with svc.uow() as uow:
        assert uow.session.scalars(select(Registration)).all() == []
    text = post(nurse, f"{page}/walk-in", page, **walk_in_form())  # type: ignore[arg-type]
    ref = re.search(r"Give the returnee their reference: (R-\d+)", text)
    assert ref, text
    ref_ = ref.group(1)
    assert f'id="health-ref">{ref_}<' in text
    with svc.uow() as uow:
        reg = uow.session.scalars(select(Registration)).one()
        assert (reg.channel, reg.contact_by, reg.language) == ("walk_in", "sms", "st")
        assert reg.needs == ["clinic", "livelihood"] and reg.entry_point == "maputsoe_bridge"
        assert reg.phone_hash == svc.hash_phone(WALK_IN)
        consents = uow.session.scalars(
            select(ConsentRecord).where(ConsentRecord.subject_ref == ref_)
        ).all()
        assert {c.channel for c in consents} == {"walk_in"}
        assert {c.purpose for c in consents if c.granted} == {
            "registration",
            "share_partners",
            "sms",
        }
    sweep_unrouted(svc, older_than_s=0)  # its routing job, run now (the worker's first thing)
    with svc.uow() as uow:
        # Routed like any registration: the partners the directory names, once each, codes only.
        reg = uow.session.scalars(select(Registration)).one()
        notices = uow.session.scalars(
            select(OutboundSms).where(
                OutboundSms.registration_id == reg.id, OutboundSms.purpose == "alert"
            )
        ).all()
        told = {n.partner_code for n in notices}
        assert {"iom-lesotho", "skillshare-lesotho", "moh-leribe"} <= told
        assert len(told) == len(notices)
    (audit,) = audit_rows(svc, "health.walk_in")
    assert audit.record_ref == ref_ and audit.actor_id == nurse_staff.id
    assert audit.detail == "post=maputsoe_bridge"
    # The programme partner sees who registered it.
    iom = client_for(cases_app, svc, enrol(svc, "officer", "iom-lesotho", "Ina IOM"))
    text = iom.get(f"/desk/returnees/{ref_}").get_data(as_text=True)
    assert "walk-in, consent given verbally" in text and "at a border health desk" in text
    # The same number again: refused, the registration untouched.
    text = post(nurse, f"{page}/walk-in", page, **walk_in_form(need=["documents"]))  # type: ignore[arg-type]
    assert "already registered; nothing was changed" in text
    assert audit_rows(svc, "health.walk_in_refused")
    with svc.uow() as uow:
        assert uow.session.scalars(select(Registration)).one().needs == ["clinic", "livelihood"]
    # Nonsense answers or a post the desk does not run: nothing stored.
    for bad, said in (
        (walk_in_form(number="58777999", need=["flying"]), "an answer was not one of"),
        (walk_in_form(number="58777999", post="sani_pass"), "Choose the border post."),
        (walk_in_form(number="58777999", contact_by="fax"), "Choose how the returnee"),
        (walk_in_form(number="not a number"), "That is not a phone number"),
    ):
        assert said in post(nurse, f"{page}/walk-in", page, **bad)  # type: ignore[arg-type]
    with svc.uow() as uow:
        assert len(uow.session.scalars(select(Registration)).all()) == 1
