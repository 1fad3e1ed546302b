"""The cases inbox and case pages through the real app: who sees and does what (role x record
ownership), and that desk actions and SMS commands are one state machine.

Partners come from partners.example.yaml; a P1 report at Maputsoe Bridge alerts the national
desk (lmps-atu-desk), the Maputsoe border desk, BDS north and the child-protection unit, never
the returnee-only Skillshare.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import redis
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import Engine, select

from tests.desk.conftest import Staff, csrf_of, enrol, sign_in
from tests.integration.alerts_support import P1_ANSWERS
from ussd_app import create_app
from ussd_app.bootstrap import Container, bootstrap
from ussd_app.cases.models import CaseEvent
from ussd_app.cases.staging import sweep_unrouted
from ussd_app.config import Settings
from ussd_app.container import Services
from ussd_app.messaging.models import OutboundSms
from ussd_app.partners.importer import import_partners
from ussd_app.reports.intake import submit_report
from ussd_app.reports.models import TraffickingReport
from ussd_app.staff.models import AuditEvent

PARTNERS_FILE = Path(__file__).resolve().parents[2] / "partners.example.yaml"
REPORTER = "+26658111222"


@pytest.fixture
def cases_container(
    desk_settings: Settings, clean_db: Engine, redis_conn: redis.Redis
) -> Iterator[Container]:
    built = bootstrap(desk_settings)
    import_partners(built.services.session_factory, PARTNERS_FILE)
    yield built
    built.close()  # held Redis writes go out first (write-behind)


@pytest.fixture
def svc(cases_container: Container) -> Services:
    return cases_container.services


@pytest.fixture
def cases_app(cases_container: Container) -> Flask:
    return create_app(container=cases_container)


def client_for(app: Flask, svc: Services, staff: Staff) -> FlaskClient:
    client = app.test_client()
    assert sign_in(client, svc, staff) == 303
    return client


@pytest.fixture
def people(svc: Services) -> dict[str, Staff]:
    return {
        "bds_officer": enrol(svc, "officer", "bds-maputsoe", "Bontle BDS"),
        "bds_super": enrol(svc, "supervisor", "bds-maputsoe", "Sello Supervisor"),
        "desk_officer": enrol(svc, "officer", "lmps-atu-desk", "Thabo Desk"),
        "desk_super": enrol(svc, "supervisor", "lmps-atu-desk", "Palesa Desk"),
        "skill_officer": enrol(svc, "officer", "skillshare-lesotho", "Lineo Skillshare"),
        "admin": enrol(svc, "admin", "lmps-atu-desk", "Ada Admin"),
        "analyst": enrol(svc, "analyst", "lmps-atu-desk", "Ana Analyst"),
    }


def file_report(svc: Services, *, phone: str, answers: dict[str, Any] | None = None) -> str:
    ref, _ = submit_report(
        svc, phone=phone, language="en", answers=answers if answers is not None else P1_ANSWERS
    )
    sweep_unrouted(svc, older_than_s=0)  # its routing job, run now: the alerts exist
    return ref


def audit_rows(svc: Services, action: str) -> list[AuditEvent]:
    with svc.uow() as uow:
        rows = list(uow.session.scalars(select(AuditEvent).where(AuditEvent.action == action)))
        uow.session.expunge_all()
        return rows


def report(svc: Services, ref: str) -> TraffickingReport:
    with svc.uow() as uow:
        row = uow.session.scalars(
            select(TraffickingReport).where(TraffickingReport.ref == ref)
        ).one()
        uow.session.expunge_all()
        return row


def post(client: FlaskClient, path: str, page: str, **data: str) -> str:
    token = csrf_of(client, page)
    res = client.post(path, data={"csrf_token": token, **data}, follow_redirects=True)
    assert res.status_code == 200, res.status_code
    return res.get_data(as_text=True)


# -- who sees what ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("who", "in_inbox", "detail"),
    [
        ("bds_officer", True, 200),
        ("bds_super", True, 200),
        ("desk_officer", True, 200),
        ("skill_officer", False, 404),  # never alerted: as if the case did not exist
        ("admin", True, 404),  # sees lists, not case pages (nor numbers)
        ("analyst", False, 404),  # aggregates only: not even the list
    ],
)
def test_who_sees_a_case(
    cases_app: Flask,
    svc: Services,
    people: dict[str, Staff],
    who: str,
    in_inbox: bool,
    detail: int,
) -> None:
    ref = file_report(svc, phone=REPORTER)
    client = client_for(cases_app, svc, people[who])
    inbox = client.get("/desk/cases")
    assert (ref in inbox.get_data(as_text=True)) is in_inbox
    assert client.get(f"/desk/cases/{ref}").status_code == detail
    if detail == 404:
        refused = [r for r in audit_rows(svc, "access.refused") if r.record_type == "case"]
        assert [(r.record_ref, r.actor_id) for r in refused] == [(ref, people[who].id)]
    if in_inbox:
        assert audit_rows(svc, "case.list")  # every list is recorded
    else:
        assert inbox.status_code in (403, 200)


def test_an_unknown_reference_is_404_like_a_hidden_one(
    cases_app: Flask, svc: Services, people: dict[str, Staff]
) -> None:
    client = client_for(cases_app, svc, people["bds_officer"])
    assert client.get("/desk/cases/T-0000").status_code == 404
    assert client.get("/desk/cases/not-a-ref").status_code == 404


def test_the_case_page_says_everything_in_words(
    cases_app: Flask, svc: Services, people: dict[str, Staff]
) -> None:
    ref = file_report(svc, phone=REPORTER)
    client = client_for(cases_app, svc, people["bds_officer"])
    page = client.get(f"/desk/cases/{ref}").get_data(as_text=True)
    for words in (
        "Maputsoe Bridge (Leribe)",
        "Seemed scared, not allowed to speak",
        "Child not travelling with own family",
        "2 to 5 people",
        "Happening now",
        "A 123 BCD",  # the vehicle, decrypted for the partner
        "Alert queued",
    ):
        assert words in page, words
    assert REPORTER not in page and "58111222" not in page
    (view,) = audit_rows(svc, "case.view")
    assert view.record_ref == ref and view.actor_id == people["bds_officer"].id


def test_the_inbox_filters_and_marks_overdue(
    cases_app: Flask, svc: Services, people: dict[str, Staff]
) -> None:
    p1 = file_report(svc, phone=REPORTER)
    p3 = file_report(
        svc,
        phone="+26658111333",
        answers={
            "danger_now": "no",
            "child_involved": "no",
            "place": "LS-C",
            "when_seen": "earlier",
        },
    )
    with svc.uow() as uow:  # the P1 is 20 minutes old: past its 15-minute acknowledgement time
        row = uow.session.scalars(
            select(TraffickingReport).where(TraffickingReport.ref == p1)
        ).one()
        row.created_at = row.created_at - dt.timedelta(minutes=20)
        uow.commit()
    client = client_for(cases_app, svc, people["desk_officer"])
    page = client.get("/desk/cases?folder=all").get_data(as_text=True)
    assert page.index(p1) < page.index(p3)  # priority first
    assert re.search(rf'id="case-{p1}" class="row-overdue"', page)
    only_p3 = client.get("/desk/cases?folder=all&priority=P3").get_data(as_text=True)
    assert p3 in only_p3 and p1 not in only_p3
    at_post = client.get("/desk/cases?folder=all&place=maputsoe_bridge").get_data(as_text=True)
    assert p1 in at_post and p3 not in at_post


# -- acting -----------------------------------------------------------------------------------


def test_taking_on_the_desk_then_ack_by_sms_is_already_taken(
    cases_app: Flask, cases_container: Container, svc: Services, people: dict[str, Staff]
) -> None:
    ref = file_report(svc, phone=REPORTER)
    client = client_for(cases_app, svc, people["bds_officer"])
    page = post(client, f"/desk/cases/{ref}/take", f"/desk/cases/{ref}")
    assert "You have taken this case." in page
    row = report(svc, ref)
    assert row.status == "acknowledged" and row.holder_partner_code == "bds-maputsoe"
    assert row.assignee_user_id == people["bds_officer"].id
    # The national desk's phone sends ACK by SMS: one state machine, so "already taken".
    sms = create_app(container=cases_container).test_client()
    res = sms.post(
        "/sms/inbound",
        data={"from": "+26659990001", "to": "12345", "text": f"ACK {ref}", "id": "in-1"},
    )
    assert res.status_code == 200
    with svc.uow() as uow:
        bodies = [r.body for r in uow.session.scalars(select(OutboundSms))]
    assert any(f"Case {ref} was already taken by" in b for b in bodies)
    # The same action by SMS and on the desk writes the same kind of audit row.
    took = audit_rows(svc, "case.acknowledged")
    assert [r.detail for r in took] == ["channel=desk"]
    assert [r.detail for r in audit_rows(svc, "case.acknowledged_not_now")] == [
        f"channel=sms:contact={_desk_contact_id(svc)}"
    ]


def _desk_contact_id(svc: Services) -> str:
    from ussd_app.partners.models import PartnerContact

    with svc.uow() as uow:
        cid = uow.session.scalar(
            select(PartnerContact.id).where(PartnerContact.phone == "+26659990001")
        )
    return str(cid)


def test_only_the_holder_closes_and_a_refusal_is_recorded(
    cases_app: Flask, svc: Services, people: dict[str, Staff]
) -> None:
    ref = file_report(svc, phone=REPORTER)
    bds = client_for(cases_app, svc, people["bds_officer"])
    post(bds, f"/desk/cases/{ref}/take", f"/desk/cases/{ref}")
    desk = client_for(cases_app, svc, people["desk_officer"])
    page = post(desk, f"/desk/cases/{ref}/close", f"/desk/cases/{ref}", outcome="nothing_found")
    assert "cannot do that" in page
    assert report(svc, ref).status == "acknowledged"
    with svc.uow() as uow:
        refused = uow.session.scalars(select(CaseEvent).where(CaseEvent.action == "refused")).one()
        assert refused.partner_code == "lmps-atu-desk" and refused.channel == "desk"
    page = post(
        bds,
        f"/desk/cases/{ref}/close",
        f"/desk/cases/{ref}",
        outcome="assisted",
        note="two girls taken to a shelter",
    )
    assert "Case closed." in page and "Person assisted" in page
    assert "two girls taken to a shelter" in page  # the note, decrypted on the timeline
    row = report(svc, ref)
    assert row.status == "closed" and row.outcome == "assisted"
    page = post(bds, f"/desk/cases/{ref}/reopen", f"/desk/cases/{ref}")
    assert report(svc, ref).status == "acknowledged"


def test_closing_needs_an_outcome_from_the_list(
    cases_app: Flask, svc: Services, people: dict[str, Staff]
) -> None:
    ref = file_report(svc, phone=REPORTER)
    bds = client_for(cases_app, svc, people["bds_officer"])
    page = post(bds, f"/desk/cases/{ref}/close", f"/desk/cases/{ref}", outcome="gone")
    assert "Choose an outcome" in page
    assert report(svc, ref).status != "closed"


def test_notes_are_encrypted_at_rest(
    cases_app: Flask, svc: Services, people: dict[str, Staff]
) -> None:
    ref = file_report(svc, phone=REPORTER)
    bds = client_for(cases_app, svc, people["bds_officer"])
    page = post(bds, f"/desk/cases/{ref}/note", f"/desk/cases/{ref}", note="called the rank")
    assert "called the rank" in page
    with svc.uow() as uow:
        event = uow.session.scalars(select(CaseEvent).where(CaseEvent.action == "noted")).one()
        assert event.note_enc and "rank" not in event.note_enc


def test_assigning_is_for_the_holders_supervisor(
    cases_app: Flask, svc: Services, people: dict[str, Staff]
) -> None:
    ref = file_report(svc, phone=REPORTER)
    officer = client_for(cases_app, svc, people["bds_officer"])
    post(officer, f"/desk/cases/{ref}/take", f"/desk/cases/{ref}")
    # An officer may not assign (role), whatever the form says.
    token = csrf_of(officer, f"/desk/cases/{ref}")
    res = officer.post(
        f"/desk/cases/{ref}/assign",
        data={"csrf_token": token, "user": str(people["bds_super"].id)},
    )
    assert res.status_code == 404
    supervisor = client_for(cases_app, svc, people["bds_super"])
    page = post(
        supervisor,
        f"/desk/cases/{ref}/assign",
        f"/desk/cases/{ref}",
        user=str(people["bds_super"].id),
    )
    assert "Case assigned." in page
    assert report(svc, ref).assignee_user_id == people["bds_super"].id
    # A colleague of another partner cannot be chosen.
    page = post(
        supervisor,
        f"/desk/cases/{ref}/assign",
        f"/desk/cases/{ref}",
        user=str(people["desk_officer"].id),
    )
    assert "Choose a colleague from your organisation" in page
    # The desk's supervisor was alerted but does not hold it: refused by the state machine.
    desk_super = client_for(cases_app, svc, people["desk_super"])
    page = post(
        desk_super,
        f"/desk/cases/{ref}/assign",
        f"/desk/cases/{ref}",
        user=str(people["desk_officer"].id),
    )
    assert "cannot do that" in page
    assert report(svc, ref).assignee_user_id == people["bds_super"].id


def test_transfer_alerts_the_new_partner_who_can_then_see_and_take_it(
    cases_app: Flask, svc: Services, people: dict[str, Staff]
) -> None:
    ref = file_report(svc, phone=REPORTER)
    bds = client_for(cases_app, svc, people["bds_officer"])
    post(bds, f"/desk/cases/{ref}/take", f"/desk/cases/{ref}")
    skill = client_for(cases_app, svc, people["skill_officer"])
    assert skill.get(f"/desk/cases/{ref}").status_code == 404
    page = post(
        bds, f"/desk/cases/{ref}/transfer", f"/desk/cases/{ref}", partner="skillshare-lesotho"
    )
    assert "Case transferred" in page
    with svc.uow() as uow:
        alert = uow.session.scalars(
            select(OutboundSms).where(OutboundSms.partner_code == "skillshare-lesotho")
        ).one()
        assert alert.purpose == "alert" and ref in alert.body
    assert skill.get(f"/desk/cases/{ref}").status_code == 200
    post(skill, f"/desk/cases/{ref}/take", f"/desk/cases/{ref}")
    assert report(svc, ref).holder_partner_code == "skillshare-lesotho"


# -- the reporter's number ---------------------------------------------------------------------


def test_no_call_back_no_number(cases_app: Flask, svc: Services, people: dict[str, Staff]) -> None:
    ref = file_report(svc, phone=REPORTER)  # callback_consent: no
    bds = client_for(cases_app, svc, people["bds_officer"])
    page = bds.get(f"/desk/cases/{ref}").get_data(as_text=True)
    assert 'id="show-number"' not in page and "did not agree to a call-back" in page
    token = csrf_of(bds, f"/desk/cases/{ref}")
    res = bds.post(f"/desk/cases/{ref}/number", data={"csrf_token": token, "reason": "callback"})
    assert res.status_code == 404
    assert audit_rows(svc, "case.number_shown") == []


def test_show_number_needs_a_reason_and_is_audited_once(
    cases_app: Flask, svc: Services, people: dict[str, Staff]
) -> None:
    ref = file_report(svc, phone=REPORTER, answers={**P1_ANSWERS, "callback_consent": "yes"})
    bds = client_for(cases_app, svc, people["bds_officer"])
    page = bds.get(f"/desk/cases/{ref}").get_data(as_text=True)
    assert 'id="show-number"' in page and REPORTER not in page
    page = post(bds, f"/desk/cases/{ref}/number", f"/desk/cases/{ref}", reason="")
    assert "Choose why you need the number" in page
    assert audit_rows(svc, "case.number_shown") == []
    token = csrf_of(bds, f"/desk/cases/{ref}")
    res = bds.post(f"/desk/cases/{ref}/number", data={"csrf_token": token, "reason": "callback"})
    assert res.status_code == 200
    assert REPORTER in res.get_data(as_text=True)
    assert res.headers["Cache-Control"] == "no-store"
    (shown,) = audit_rows(svc, "case.number_shown")
    assert shown.detail == "reason=callback" and shown.actor_id == people["bds_officer"].id
    # Never in lists; never for the admin.
    assert REPORTER not in bds.get("/desk/cases?folder=all").get_data(as_text=True)
    admin = client_for(cases_app, svc, people["admin"])
    token = csrf_of(admin, "/desk/cases")
    assert (
        admin.post(
            f"/desk/cases/{ref}/number", data={"csrf_token": token, "reason": "callback"}
        ).status_code
        == 404
    )


def test_after_the_purge_the_desk_says_the_number_was_erased(
    cases_app: Flask, svc: Services, people: dict[str, Staff]
) -> None:
    from ussd_app.reports.models import ReporterContact

    ref = file_report(svc, phone=REPORTER, answers={**P1_ANSWERS, "callback_consent": "yes"})
    with svc.uow() as uow:
        contact = uow.session.scalars(select(ReporterContact)).one()
        contact.phone_enc = None
        uow.commit()
    bds = client_for(cases_app, svc, people["bds_officer"])
    token = csrf_of(bds, f"/desk/cases/{ref}")
    res = bds.post(f"/desk/cases/{ref}/number", data={"csrf_token": token, "reason": "callback"})
    assert "erased" in res.get_data(as_text=True)
    assert [r.detail for r in audit_rows(svc, "case.number_erased")] == ["reason=callback"]


def test_the_supervisor_reads_the_cases_access_log(
    cases_app: Flask, svc: Services, people: dict[str, Staff]
) -> None:
    ref = file_report(svc, phone=REPORTER)
    client_for(cases_app, svc, people["bds_officer"]).get(f"/desk/cases/{ref}")
    supervisor = client_for(cases_app, svc, people["bds_super"])
    page = supervisor.get(f"/desk/cases/{ref}/access").get_data(as_text=True)
    assert "case.view" in page and "Bontle BDS" in page
    officer = client_for(cases_app, svc, people["bds_officer"])
    assert officer.get(f"/desk/cases/{ref}/access").status_code == 404


def test_a_possible_flood_is_marked_and_the_duty_desk_sees_every_report(
    cases_app: Flask, svc: Services, people: dict[str, Staff]
) -> None:
    # REPORT_LIMIT is 5 an hour per phone: the 6th and 7th are flagged (tests/integration/
    # test_floods.py has the whole alert path).
    refs = [file_report(svc, phone="+26658444444") for _ in range(7)]
    desk = client_for(cases_app, svc, people["desk_officer"])
    inbox = desk.get("/desk/cases").get_data(as_text=True)
    assert all(ref in inbox for ref in refs)  # the duty desk can act on each one
    assert inbox.count(">possible flood</span>") == 2
    page = desk.get(f"/desk/cases/{refs[6]}").get_data(as_text=True)
    assert "Possible flood: one of 2 reports over the limit from one number" in page
    assert "Possible flood" not in desk.get(f"/desk/cases/{refs[0]}").get_data(as_text=True)
    # A partner alerted to the first five was not alerted to the flagged ones.
    bds = client_for(cases_app, svc, people["bds_officer"]).get("/desk/cases")
    seen = bds.get_data(as_text=True)
    assert all(ref in seen for ref in refs[:5]) and not any(ref in seen for ref in refs[5:])
