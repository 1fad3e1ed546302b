"""The returnee inbox's follow-up folders and the "plan agreed" action (issue 10, item 3).

"Overdue plans": open, more than 30 days since registration, no plan agreed. "Due follow-ups":
open, and a plan due within 7 days, a referral with no news for 14 days, or the 90-day check-in
of a call chooser (`registration_queries.check_in_due_condition`). The SQL conditions and the
words shown per row are two statements of one rule; these tests hold them together.
"""

from __future__ import annotations

import datetime as dt

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
from tests.desk.test_registrations_web import register
from ussd_app.cases import registration_queries as queries
from ussd_app.cases.models import CaseEvent
from ussd_app.cases.staging import sweep_unrouted
from ussd_app.container import Services
from ussd_app.returnees import checkins
from ussd_app.returnees.models import Registration
from ussd_app.returnees.referrals import Referral
from ussd_app.returnees.registrations import register_returnee
from ussd_app.stats import figures


@pytest.fixture
def people(svc: Services) -> dict[str, Staff]:  # noqa: F811
    return {
        "iom": enrol(svc, "officer", "iom-lesotho", "Ina IOM"),
        "skill": enrol(svc, "officer", "skillshare-lesotho", "Lineo Skillshare"),
        "admin": enrol(svc, "admin", "iom-lesotho", "Ada Admin"),
    }


def age(svc: Services, ref: str, days: int) -> None:  # noqa: F811
    """Move a registration `days` into the past (and its referrals with it)."""
    with svc.uow() as uow:
        reg = uow.session.scalars(select(Registration).where(Registration.ref == ref)).one()
        reg.created_at -= dt.timedelta(days=days)
        for r in uow.session.scalars(select(Referral).where(Referral.registration_id == reg.id)):
            r.referred_at -= dt.timedelta(days=days)
            if r.accepted_at:
                r.accepted_at -= dt.timedelta(days=days)
        uow.commit()


def folder(client: object, name: str) -> str:
    return client.get(f"/desk/returnees?folder={name}").get_data(as_text=True)  # type: ignore[attr-defined]


def other(svc: Services, phone: str) -> str:  # noqa: F811
    ref = register_returnee(
        svc,
        phone=phone,
        language="en",
        answers={"consent": "yes", "share_partners": "yes", "home_district": "LS-C"},
    )
    sweep_unrouted(svc, older_than_s=0)  # its routing job, run now: the partners are told
    return ref


def test_overdue_plans_folder_holds_open_registrations_past_30_days_without_a_plan(
    cases_app: Flask,  # noqa: F811
    svc: Services,  # noqa: F811
    people: dict[str, Staff],
) -> None:
    late, fresh, edge = register(svc), other(svc, "+26658444601"), other(svc, "+26658444602")
    age(svc, late, 31)
    age(svc, edge, 30)  # due today: not overdue yet
    iom = client_for(cases_app, svc, people["iom"])
    text = folder(iom, "overdue")
    assert late in text and fresh not in text and edge not in text
    assert "PLAN OVERDUE" in text
    # The holder agrees the plan: it leaves the folder, the page shows the day.
    page = f"/desk/returnees/{late}"
    post(iom, f"{page}/take", page)
    text = post(iom, f"{page}/plan", page)
    assert "Reintegration plan recorded as agreed today." in text
    assert f"Reintegration plan agreed on {dt.date.today().isoformat()}" in text
    assert "PLAN OVERDUE" not in text and 'id="plan-agreed-button"' not in text
    assert late not in folder(iom, "overdue")
    # One event through the state machine, one audit row; a second press changes nothing.
    assert "Nothing changed" in post(iom, f"{page}/plan", page)
    with svc.uow() as uow:
        events = uow.session.scalars(
            select(CaseEvent).where(CaseEvent.action == "plan_agreed")
        ).all()
        assert [(e.partner_code, e.channel) for e in events] == [("iom-lesotho", "desk")]
    assert len(audit_rows(svc, "case.plan_agreed")) == 1
    assert len(audit_rows(svc, "case.plan_agreed_not_now")) == 1
    assert "Reintegration plan agreed" in iom.get(page).get_data(as_text=True)  # timeline
    # A closed registration is never overdue.
    post(iom, f"{page}/close", page, outcome="assisted")
    age(svc, edge, 2)
    assert edge in folder(iom, "overdue")


def test_only_the_holder_records_a_plan_and_others_are_refused(
    cases_app: Flask,  # noqa: F811
    svc: Services,  # noqa: F811
    people: dict[str, Staff],
) -> None:
    ref = register(svc)
    page = f"/desk/returnees/{ref}"
    iom = client_for(cases_app, svc, people["iom"])
    skill = client_for(cases_app, svc, people["skill"])
    # Not taken yet: no plan (the table wants a registration someone has taken).
    text = post(iom, f"{page}/plan", page)
    assert "cannot do that" in text or "Nothing changed" in text
    post(skill, f"{page}/take", page)
    assert 'id="plan-agreed-button"' not in iom.get(page).get_data(as_text=True)
    assert "cannot do that" in post(iom, f"{page}/plan", page)
    with svc.uow() as uow:
        reg = uow.session.scalars(select(Registration).where(Registration.ref == ref)).one()
        assert reg.plan_agreed_on is None
        refused = uow.session.scalars(select(CaseEvent).where(CaseEvent.action == "refused")).all()
        assert {e.detail for e in refused} == {"plan_agreed"}
    # An admin (no case permissions) and a partner never told of it both get 404 (audited).
    admin = client_for(cases_app, svc, people["admin"])
    token = csrf_of(admin, "/desk/")
    assert admin.post(f"{page}/plan", data={"csrf_token": token}).status_code == 404
    police = client_for(cases_app, svc, enrol(svc, "officer", "lmps-atu-desk", "Thabo"))
    token = csrf_of(police, "/desk/")
    assert police.post(f"{page}/plan", data={"csrf_token": token}).status_code == 404
    assert audit_rows(svc, "access.refused")


def test_due_follow_ups_a_plan_due_soon_or_a_referral_without_news(
    cases_app: Flask,  # noqa: F811
    svc: Services,  # noqa: F811
    people: dict[str, Staff],
) -> None:
    soon, quiet, fresh = register(svc), other(svc, "+26658444611"), other(svc, "+26658444612")
    age(svc, soon, queries.PLAN_DAYS - queries.PLAN_DUE_SOON_DAYS)  # due in 7 days
    iom = client_for(cases_app, svc, people["iom"])
    # `quiet`: taken, plan agreed, clinic referred 15 days ago and nothing since.
    with svc.uow() as uow:
        reg = uow.session.scalars(select(Registration).where(Registration.ref == quiet)).one()
        reg.needs = ["clinic"]
        uow.commit()
    page = f"/desk/returnees/{quiet}"
    post(iom, f"{page}/take", page)
    post(iom, f"{page}/plan", page)
    post(iom, f"{page}/refer", page, need="clinic", status="referred", service="Clinic")
    text = folder(iom, "due")
    assert soon in text and quiet not in text and fresh not in text
    due_on = (dt.date.today() + dt.timedelta(days=queries.PLAN_DUE_SOON_DAYS)).isoformat()
    assert f"Plan due {due_on}" in text
    with svc.uow() as uow:
        for r in uow.session.scalars(select(Referral)):
            r.referred_at -= dt.timedelta(days=queries.REFERRAL_STALE_DAYS + 1)
        uow.commit()
    text = folder(iom, "due")
    assert quiet in text and "): no news for 15 days" in text
    # Delivered: nothing waits for news any more.
    post(iom, f"{page}/refer", page, need="clinic", status="delivered")
    assert quiet not in folder(iom, "due")
    # A closed registration is never due; one registered long ago and overdue is in
    # "Overdue plans", not here.
    age(svc, soon, queries.PLAN_DUE_SOON_DAYS + 1)
    assert soon not in folder(iom, "due") and soon in folder(iom, "overdue")


def test_a_due_check_in_puts_a_call_chooser_in_due_follow_ups_until_it_is_recorded(
    cases_app: Flask,  # noqa: F811
    svc: Services,  # noqa: F811
    people: dict[str, Staff],
) -> None:
    """90 days after registering, a person who chose a call is due for the check-in on the
    desk (an SMS chooser is asked by SMS instead); recording it takes them out of the folder."""
    call, sms = register(svc), other(svc, "+26658444799")
    with svc.uow() as uow:
        for ref, way in ((call, "call"), (sms, "sms")):
            reg = uow.session.scalars(select(Registration).where(Registration.ref == ref)).one()
            reg.contact_by, reg.sms_opt_in = way, way == "sms"
            reg.plan_agreed_on = dt.date.today()  # only the check-in can make these due
        uow.commit()
    iom = client_for(cases_app, svc, people["iom"])
    age(svc, call, 89)
    age(svc, sms, 91)
    assert call not in folder(iom, "due") and sms not in folder(iom, "due")
    age(svc, call, 2)
    page = folder(iom, "due")
    assert call in page and "90-day check-in due" in page and sms not in page
    with svc.uow() as uow:
        reg = uow.session.scalars(select(Registration).where(Registration.ref == call)).one()
        checkins.record_answers(
            uow.session, reg, ["yes", None, "no", "yes"], answered_by=checkins.CheckInChannel.DESK
        )
        uow.commit()
    assert call not in folder(iom, "due")


def test_the_folder_words_match_the_folder_conditions(
    svc: Services,  # noqa: F811
) -> None:
    """Each day around the limits: the SQL folder and the Python words agree."""
    refs = [other(svc, f"+266584447{n:02d}") for n in range(8)]
    for n, ref in enumerate(refs):
        age(svc, ref, 20 + 2 * n)  # 20..34 days old
    now = queries.utcnow()
    with svc.uow() as uow:
        regs = uow.session.scalars(select(Registration)).all()
        due = set(uow.session.scalars(select(Registration.ref).where(queries.due_condition(now))))
        late = set(
            uow.session.scalars(select(Registration.ref).where(queries._overdue_condition(now)))
        )
        for reg in regs:
            assert (reg.ref in late) == queries.plan_overdue(reg, now), reg.created_at
            assert (reg.ref in due) == bool(queries.due_reasons(reg, [], now)), reg.created_at
    assert due and late and not due & late


def test_the_holder_records_staying_or_visiting_from_a_call_and_the_statistics_count_it(
    cases_app: Flask,  # noqa: F811
    svc: Services,  # noqa: F811
    people: dict[str, Staff],
) -> None:
    """The USSD registration no longer asks it (a screen fewer): the case worker asks on the
    call and records it on the registration; the "Staying or visiting" figure counts it."""
    ref = register(svc, stay_intent=None)
    page = f"/desk/returnees/{ref}"
    iom = client_for(cases_app, svc, people["iom"])
    skill = client_for(cases_app, svc, people["skill"])
    assert 'id="stay-form"' not in iom.get(page).get_data(as_text=True)  # not taken yet
    post(iom, f"{page}/take", page)
    text = iom.get(page).get_data(as_text=True)
    assert 'id="stay-form"' in text and "ask on your call" in text
    assert 'id="stay-form"' not in skill.get(page).get_data(as_text=True)  # not the holder

    text = post(iom, f"{page}/stay", page, stay_intent="visiting")
    assert "Staying or visiting recorded." in text
    assert '<option value="visiting" selected>' in text
    assert "Staying or visiting recorded from a call" in text  # the timeline
    assert "Nothing changed" in post(iom, f"{page}/stay", page, stay_intent="visiting")
    assert "Choose staying" in post(iom, f"{page}/stay", page, stay_intent="forever")
    assert "cannot do that" in post(skill, f"{page}/stay", page, stay_intent="staying")
    with svc.uow() as uow:
        reg = uow.session.scalars(select(Registration).where(Registration.ref == ref)).one()
        assert reg.stay_intent == "visiting"
        events = uow.session.scalars(
            select(CaseEvent).where(CaseEvent.action == "stay_recorded")
        ).all()
        assert [(e.partner_code, e.detail) for e in events] == [("iom-lesotho", "visiting")]
    assert len(audit_rows(svc, "case.stay_recorded")) == 1

    period = figures.Period.last_days(7, dt.datetime.now(dt.UTC))
    raw = figures.SPECS["registrations-staying"].build
    assert raw is not None
    rows, _, counts = raw(svc, period)
    assert counts[rows.index("Visiting")] == [1] and counts[rows.index("Back to stay")] == [0]
    table = figures.build(svc, "registrations-staying", period).table
    assert table.cells[table.row_labels.index("Visiting")] == (None,)  # one person: "<5"
