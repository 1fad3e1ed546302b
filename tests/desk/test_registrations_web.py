"""Returnee registrations on the desk through the real app (issue 10): who sees and does what
(role x ownership), every answer in words, the name only to the holder, referrals per need,
notes, the plan due date, close with an outcome; desk ACK and SMS ACK are one state machine.

Partners come from partners.example.yaml: a Leribe registration needing livelihood and clinic
services is told to IOM (programme partner), Skillshare (livelihood) and MoH Leribe (clinic);
never to MoH Maseru or the police.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import select

from tests.desk.conftest import Staff, csrf_of, enrol
from tests.desk.test_cases_web import (  # noqa: F401  (fixtures)
    audit_rows,
    cases_app,
    cases_container,
    client_for,
    post,
    svc,
)
from ussd_app.cases.models import CaseEvent
from ussd_app.cases.staging import sweep_unrouted
from ussd_app.container import Services
from ussd_app.returnees.models import Registration
from ussd_app.returnees.referrals import Referral
from ussd_app.returnees.registrations import register_returnee

RETURNEE = "+26658444555"
NAME = "Palesa"


@pytest.fixture
def people(svc: Services) -> dict[str, Staff]:  # noqa: F811
    return {
        "iom_officer": enrol(svc, "officer", "iom-lesotho", "Ina IOM"),
        "iom_super": enrol(svc, "supervisor", "iom-lesotho", "Sam IOM"),
        "skill_officer": enrol(svc, "officer", "skillshare-lesotho", "Lineo Skillshare"),
        "moh_maseru": enrol(svc, "officer", "moh-maseru", "Mpho Maseru"),
        "police": enrol(svc, "officer", "lmps-atu-desk", "Thabo Desk"),
        "admin": enrol(svc, "admin", "lmps-atu-desk", "Ada Admin"),
    }


def register(svc: Services, **over: Any) -> str:  # noqa: F811
    answers: dict[str, Any] = {
        "consent": "yes",
        "share_partners": "yes",
        "home_district": "LS-C",
        "came_from": "ZA-GP",
        "stay_intent": "staying",
        "entry_point": "maputsoe_bridge",
        "travel_document": "passport_expired",
        "needs": ["livelihood", "clinic"],
        "sex": "female",
        "age_band": "18_35",
        "name": NAME,
        "sms_opt_in": "no",
        **over,
    }
    ref = register_returnee(svc, phone=RETURNEE, language="en", answers=answers)
    sweep_unrouted(svc, older_than_s=0)  # its routing job, run now: the notices exist
    return ref


def reg_row(svc: Services, ref: str) -> Registration:  # noqa: F811
    with svc.uow() as uow:
        row = uow.session.scalars(select(Registration).where(Registration.ref == ref)).one()
        uow.session.expunge_all()
        return row


@pytest.mark.parametrize(
    ("who", "in_inbox", "detail"),
    [
        ("iom_officer", True, 200),  # the programme partner
        ("iom_super", True, 200),
        ("skill_officer", True, 200),  # takes livelihood in every district
        ("moh_maseru", False, 404),  # clinic needs in Maseru only: never told
        ("police", False, 404),
        ("admin", False, 404),  # lists, never a registration page: as if it did not exist
    ],
)
def test_who_sees_a_registration(
    cases_app: Flask,  # noqa: F811
    svc: Services,  # noqa: F811
    people: dict[str, Staff],
    who: str,
    in_inbox: bool,
    detail: int,
) -> None:
    ref = register(svc)
    client = client_for(cases_app, svc, people[who])
    inbox = client.get("/desk/returnees")
    assert inbox.status_code == 200
    assert (ref in inbox.get_data(as_text=True)) is in_inbox
    assert client.get(f"/desk/returnees/{ref}").status_code == detail
    if detail == 404:
        (refused,) = audit_rows(svc, "access.refused")
        assert refused.record_type == "registration" and refused.record_ref == ref
        assert refused.actor_id == people[who].id
    assert audit_rows(svc, "registration.list")


def test_the_nav_links_to_returnees_for_roles_that_list_cases(
    cases_app: Flask,  # noqa: F811
    svc: Services,  # noqa: F811
    people: dict[str, Staff],
) -> None:
    page = client_for(cases_app, svc, people["iom_officer"]).get("/desk/returnees")
    assert 'id="nav-returnees"' in page.get_data(as_text=True)


def test_the_page_says_everything_in_words_and_the_name_only_to_the_holder(
    cases_app: Flask,  # noqa: F811
    svc: Services,  # noqa: F811
    people: dict[str, Staff],
) -> None:
    ref = register(svc)
    iom = client_for(cases_app, svc, people["iom_officer"])
    page = iom.get(f"/desk/returnees/{ref}").get_data(as_text=True)
    for words in (
        "Leribe",
        "South Africa: Gauteng",
        "Back to stay",
        "Maputsoe Bridge",
        "Expired passport",
        "Livelihood (work, income)",
        "Clinic services",
        "Female",
        "18 to 35",
        "Sharing with partner organisations",
        "reg-2026-12",
        "Not referred yet",
        "Alert queued",
    ):
        assert words in page, words
    assert NAME not in page and "58444555" not in page  # not taken yet: no name
    (view,) = audit_rows(svc, "registration.view")
    assert view.record_ref == ref
    post(iom, f"/desk/returnees/{ref}/take", f"/desk/returnees/{ref}")
    page = iom.get(f"/desk/returnees/{ref}").get_data(as_text=True)
    assert NAME in page and "58444555" not in page
    skill = client_for(cases_app, svc, people["skill_officer"])
    assert NAME not in skill.get(f"/desk/returnees/{ref}").get_data(as_text=True)


def test_take_refer_deliver_note_and_close(
    cases_app: Flask,  # noqa: F811
    svc: Services,  # noqa: F811
    people: dict[str, Staff],
) -> None:
    ref = register(svc)
    page = f"/desk/returnees/{ref}"
    skill = client_for(cases_app, svc, people["skill_officer"])
    iom = client_for(cases_app, svc, people["iom_officer"])
    # Not taken: nobody refers yet (the table wants the holder).
    text = post(skill, f"{page}/refer", page, need="livelihood", status="referred")
    assert "cannot do that" in text or "Nothing changed" in text
    assert "You have taken this registration." in post(skill, f"{page}/take", page)
    assert reg_row(svc, ref).holder_partner_code == "skillshare-lesotho"
    # Another partner told of it cannot take it again, nor refer its needs.
    assert "Nothing changed" in post(iom, f"{page}/take", page)
    assert "cannot do that" in post(iom, f"{page}/refer", page, need="clinic", status="referred")
    post(skill, f"{page}/refer", page, need="livelihood", status="referred", service="WORTH group")
    post(skill, f"{page}/refer", page, need="livelihood", status="accepted")
    text = post(skill, f"{page}/refer", page, need="livelihood", status="delivered")
    assert "Service delivered" in text and "WORTH group" in text
    # Delivered is final.
    assert "Nothing changed" in post(
        skill, f"{page}/refer", page, need="livelihood", status="referred"
    )
    post(skill, f"{page}/refer", page, need="clinic", status="referred")
    post(skill, f"{page}/refer", page, need="clinic", status="unreachable")
    text = post(skill, f"{page}/note", page, note="Called twice; will try the alternative number")
    assert "Called twice" in text
    with svc.uow() as uow:
        rows = {
            r.need: r
            for r in uow.session.scalars(select(Referral).where(Referral.need.is_not(None)))
        }
        assert rows["livelihood"].status == "delivered" and rows["livelihood"].ended_at
        assert rows["livelihood"].accepted_at is not None
        assert rows["clinic"].status == "unreachable"
        details = [
            e.detail
            for e in uow.session.scalars(
                select(CaseEvent).where(CaseEvent.action == "referred").order_by(CaseEvent.id)
            )
        ]
    assert details == [
        "livelihood:referred",
        "livelihood:accepted",
        "livelihood:delivered",
        "clinic:referred",
        "clinic:unreachable",
    ]
    assert reg_row(svc, ref).status == "referred"
    assert "Choose an outcome" in post(skill, f"{page}/close", page, outcome="nonsense")
    text = post(skill, f"{page}/close", page, outcome="assisted", note="Working again")
    assert "Registration closed." in text and "Person assisted" in text
    closed = client_for(cases_app, svc, people["skill_officer"]).get(
        "/desk/returnees?folder=closed"
    )
    assert ref in closed.get_data(as_text=True)


def test_the_plan_is_due_in_30_days_and_marked_overdue_past_it(
    cases_app: Flask,  # noqa: F811
    svc: Services,  # noqa: F811
    people: dict[str, Staff],
) -> None:
    late = register(svc)
    with svc.uow() as uow:
        row = uow.session.scalars(select(Registration).where(Registration.ref == late)).one()
        row.created_at = row.created_at - dt.timedelta(days=31)
        uow.commit()
    client = client_for(cases_app, svc, people["iom_officer"])
    inbox = client.get("/desk/returnees?folder=all").get_data(as_text=True)
    assert f'id="reg-{late}" class="row-overdue"' in inbox
    page = client.get(f"/desk/returnees/{late}").get_data(as_text=True)
    assert "PLAN OVERDUE" in page


def test_search_by_reference_district_need_and_date(
    cases_app: Flask,  # noqa: F811
    svc: Services,  # noqa: F811
    people: dict[str, Staff],
) -> None:
    leribe = register(svc)
    maseru = register_returnee(
        svc,
        phone="+26658444666",
        language="en",
        answers={
            "consent": "yes",
            "share_partners": "no",
            "home_district": "LS-A",
            "needs": ["documents"],
        },
    )
    sweep_unrouted(svc, older_than_s=0)  # its routing job, run now
    client = client_for(cases_app, svc, people["iom_officer"])

    def found(query: str) -> set[str]:
        text = client.get(f"/desk/returnees?folder=all&{query}").get_data(as_text=True)
        return {ref for ref in (leribe, maseru) if ref in text}

    assert found("") == {leribe, maseru}
    assert found(f"ref={leribe}") == {leribe}
    assert found("district=LS-A") == {maseru}
    assert found("need=clinic") == {leribe}
    today = dt.date.today()
    assert found(f"since={today.isoformat()}") == {leribe, maseru}
    assert found(f"until={(today - dt.timedelta(days=2)).isoformat()}") == set()
    # The programme partner also sees the one that did not agree to sharing; Skillshare not.
    skill = client_for(cases_app, svc, people["skill_officer"])
    text = skill.get("/desk/returnees?folder=all").get_data(as_text=True)
    assert leribe in text and maseru not in text


def test_ack_on_the_desk_and_by_sms_are_one_action(
    cases_app: Flask,  # noqa: F811
    svc: Services,  # noqa: F811
    people: dict[str, Staff],
) -> None:
    ref = register(svc)
    page = f"/desk/returnees/{ref}"
    iom = client_for(cases_app, svc, people["iom_officer"])
    post(iom, f"{page}/take", page)
    sms = cases_app.test_client().post(
        "/sms/inbound",
        data={"from": "+26659990101", "to": "1", "text": f"ACK {ref}", "id": "in-1"},
    )
    assert sms.status_code == 200
    row = reg_row(svc, ref)
    assert row.holder_partner_code == "iom-lesotho" and row.status == "contacted"
    with svc.uow() as uow:
        taken = uow.session.scalars(
            select(CaseEvent).where(CaseEvent.action == "acknowledged")
        ).all()
        assert [(e.channel, e.partner_code) for e in taken] == [("desk", "iom-lesotho")]


def test_show_number_only_to_the_holder_with_a_reason_audited(
    cases_app: Flask,  # noqa: F811
    svc: Services,  # noqa: F811
    people: dict[str, Staff],
) -> None:
    ref = register(svc)
    page = f"/desk/returnees/{ref}"
    skill = client_for(cases_app, svc, people["skill_officer"])
    iom = client_for(cases_app, svc, people["iom_officer"])
    post(skill, f"{page}/take", page)
    assert 'id="show-number"' not in iom.get(page).get_data(as_text=True)
    token = csrf_of(iom, page)
    refused = iom.post(f"{page}/number", data={"csrf_token": token, "reason": "follow_up"})
    assert refused.status_code == 404
    text = post(skill, f"{page}/number", page, reason="follow_up")
    assert RETURNEE in text
    (shown,) = audit_rows(svc, "registration.number_shown")
    assert shown.record_ref == ref and shown.detail == "reason=follow_up"
    assert RETURNEE not in str(shown.detail)
