"""The 90-day check-in on the desk (issue 10, item 6): due for a call chooser's holder, recorded
from the call with the registration page's form (every answer optional), shown in words, only
the holder may record it; and the check-in tables in the statistics (k = 5)."""

from __future__ import annotations

import datetime as dt

import pytest
from flask import Flask
from sqlalchemy import select

from tests.desk.conftest import Staff, enrol
from tests.desk.test_cases_web import (  # noqa: F401  (fixtures)
    cases_app,
    cases_container,
    client_for,
    post,
    svc,
)
from tests.desk.test_registrations_web import register
from ussd_app.cases.models import CaseEvent
from ussd_app.container import Services
from ussd_app.db import utcnow
from ussd_app.returnees import checkins
from ussd_app.returnees.checkins import CheckIn
from ussd_app.returnees.models import Registration
from ussd_app.stats import figures


@pytest.fixture
def people(svc: Services) -> dict[str, Staff]:  # noqa: F811
    return {
        "skill": enrol(svc, "officer", "skillshare-lesotho", "Lineo Skillshare"),
        "iom": enrol(svc, "officer", "iom-lesotho", "Ina IOM"),
    }


def _age(svc: Services, ref: str, days: int) -> None:  # noqa: F811
    with svc.uow() as uow:
        row = uow.session.scalars(select(Registration).where(Registration.ref == ref)).one()
        row.created_at = row.created_at - dt.timedelta(days=days)
        uow.commit()


def test_the_holder_records_a_call_check_in_and_the_page_shows_it_in_words(
    cases_app: Flask,  # noqa: F811
    svc: Services,  # noqa: F811
    people: dict[str, Staff],
) -> None:
    ref = register(svc, contact_by="call")
    _age(svc, ref, 91)
    page = f"/desk/returnees/{ref}"
    skill = client_for(cases_app, svc, people["skill"])
    iom = client_for(cases_app, svc, people["iom"])
    post(skill, f"{page}/take", page)
    text = skill.get(page).get_data(as_text=True)
    assert "DUE: call the person and record the answers" in text
    assert 'id="check-in-form"' in text and "By a call from the holding case worker" in text
    # Another partner told of it sees the check-in but has no form, and is refused by URL.
    assert 'id="check-in-form"' not in iom.get(page).get_data(as_text=True)
    assert "cannot do that" in post(iom, f"{page}/check-in", page, earning="yes")
    text = post(skill, f"{page}/check-in", page, earning="yes", housing="no", health_care="")
    assert "Check-in saved." in text
    assert "DUE:" not in text and "Answered" in text and "on the desk, from a call" in text
    answers = text.split('id="check-in"')[1].split("</dl>")[0]
    assert "Earning an income</dt><dd" in answers and "Yes</dd>" in answers
    assert "A place to live</dt>" in answers and "No</dd>" in answers
    assert answers.count("Not answered") == 2  # health care left blank, more help not sent
    with svc.uow() as uow:
        row = uow.session.scalars(select(CheckIn)).one()
        assert row.answers() == {
            "earning": "yes",
            "housing": "no",
            "health_care": None,
            "more_help": None,
        }
        assert row.answered_by == "desk" and row.recorded_by_user_id == people["skill"].id
        events = uow.session.scalars(
            select(CaseEvent.action).where(CaseEvent.registration_id == row.registration_id)
        ).all()
        reg = uow.session.scalars(select(Registration).where(Registration.ref == ref)).one()
        assert not checkins.checkin_due(reg, utcnow(), row)
    assert "checked_in" in events
    assert "Check-in recorded from a call" in skill.get(page).get_data(as_text=True)


def test_an_sms_chooser_has_no_desk_form_and_a_young_registration_is_not_due(
    cases_app: Flask,  # noqa: F811
    svc: Services,  # noqa: F811
    people: dict[str, Staff],
) -> None:
    ref = register(svc, contact_by="sms")
    page = f"/desk/returnees/{ref}"
    skill = client_for(cases_app, svc, people["skill"])
    post(skill, f"{page}/take", page)
    text = skill.get(page).get_data(as_text=True)
    assert "By SMS (reply codes)" in text and 'id="check-in-form"' not in text
    assert "DUE:" not in text
    young = register(svc, contact_by="call", home_district="LS-A")  # same phone: an update
    assert young == ref


def test_the_check_in_tables_protect_small_counts(svc: Services) -> None:  # noqa: F811
    """Six answered check-ins: the answers table hides every cell under 5 and a complement for
    each from the answers; its totals (6 answered) agree with the check-ins figure's."""
    for n in range(6):
        phone = f"+2665844{n:04d}"
        from ussd_app.returnees.registrations import register_returnee

        ref = register_returnee(
            svc,
            phone=phone,
            language="en",
            answers={"consent": "yes", "home_district": "LS-C", "contact_by": "sms"},
        )
        with svc.uow() as uow:
            reg = uow.session.scalars(select(Registration).where(Registration.ref == ref)).one()
            checkins.record_answers(
                uow.session,
                reg,
                ["yes", "yes" if n else "no", None, "no"],
                answered_by=checkins.CheckInChannel.SMS,
            )
            uow.commit()
    period = figures.Period.last_days(30, utcnow())
    status = figures.build(svc, "registrations-check-ins", period)
    answers = figures.build(svc, "registrations-check-in-answers", period)
    assert status.k == answers.k == 5
    assert status.table.cells[0][0] == 6  # asked by SMS, answered
    truth = {
        "Earning an income": [6, 0, 0],
        "A place to live": [5, 1, 0],
        "Able to get health care": [0, 0, 6],
        "Wants more help": [0, 6, 0],
    }
    by_row = dict(zip(answers.table.row_labels, answers.table.cells, strict=True))
    assert by_row["A place to live"][1] is None  # the one "no" is hidden...
    assert by_row["A place to live"][0] is None  # ...and so is its complement in the row
    for label, cells in by_row.items():  # whatever is shown is the true count
        assert all(v is None or v == t for v, t in zip(cells, truth[label], strict=True))
    # Every question's total is the number answered, which the check-ins figure shows as its
    # "Answered" total: the two pages agree (shown on both, or hidden on both).
    answered = status.table.col_totals[status.table.col_labels.index("Answered")]
    assert answered == 6
    assert answers.table.row_totals == (answered,) * len(answers.table.row_labels)
    assert answers.table.total == answered * len(answers.table.row_labels)
