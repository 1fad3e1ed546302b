"""The returnee follow-up and session figures on hand-made rows with known answers: referral
outcomes per need, times to first contact and to service delivered, sessions per flow and
language; each protected (cells under k hidden, with complements, and no times for a hidden
group), and the language recorded with the end-of-session notification."""

from __future__ import annotations

import datetime as dt
import statistics

from sqlalchemy import select

from ussd_app.cases.models import CaseEvent
from ussd_app.container import Services
from ussd_app.db import utcnow
from ussd_app.returnees.models import Registration
from ussd_app.returnees.referrals import Referral
from ussd_app.returnees.registrations import register_returnee
from ussd_app.stats import figures
from ussd_app.ussd.models import UssdSessionEvent
from ussd_app.ussd.preferences import set_language
from ussd_app.ussd.session_events import record_session_end

NOW = utcnow()
START = NOW - dt.timedelta(days=30)


def period() -> figures.Period:
    return figures.Period(NOW - dt.timedelta(days=60), NOW + dt.timedelta(seconds=1))


def registration(services: Services, n: int, needs: list[str]) -> int:
    ref = register_returnee(
        services,
        phone=f"+2665{7_000_000 + n:07d}",
        language="en",
        answers={"consent": "yes", "home_district": "LS-A", "needs": needs},
    )
    with services.uow() as uow:
        reg = uow.session.scalars(select(Registration).where(Registration.ref == ref)).one()
        reg.created_at = START
        uow.commit()
        return reg.id


def take(services: Services, reg_id: int, hours: float) -> None:
    with services.uow() as uow:
        uow.session.add(
            CaseEvent(
                registration_id=reg_id,
                action="acknowledged",
                channel="sms",
                created_at=START + dt.timedelta(hours=hours),
            )
        )
        uow.commit()


def refer(services: Services, reg_id: int, need: str, status: str, days: float = 1.0) -> None:
    at = START + dt.timedelta(days=days)
    with services.uow() as uow:
        uow.session.add(
            Referral(
                registration_id=reg_id,
                need=need,
                status=status,
                referred_at=at,
                ended_at=at if status in ("delivered", "declined", "unreachable") else None,
            )
        )
        uow.commit()


def cell(table: figures.ProtectedTable, row: str, col: str) -> int | None:
    return table.cells[table.row_labels.index(row)][table.col_labels.index(col)]


def test_referral_outcomes_per_need_hide_small_cells_and_their_complements(
    services: Services,
) -> None:
    # Livelihood: 8 delivered, 2 declined, 6 not referred. Clinic: 7 accepted, 1 unreachable.
    regs = [registration(services, n, ["livelihood"]) for n in range(16)]
    for reg_id in regs[:8]:
        refer(services, reg_id, "livelihood", "delivered")
    for reg_id in regs[8:10]:
        refer(services, reg_id, "livelihood", "declined")
    clinic = [registration(services, 100 + n, ["clinic"]) for n in range(8)]
    for reg_id in clinic[:7]:
        refer(services, reg_id, "clinic", "accepted")
    refer(services, clinic[7], "clinic", "unreachable")

    fig = figures.build(services, "registrations-referrals", period())
    table = fig.table
    assert fig.k == 5
    assert table.col_labels == tuple(figures.REFERRAL_WORDS.values())
    assert cell(table, "Livelihood help", "Service delivered") == 8
    assert cell(table, "Livelihood help", "Declined") is None  # 2: under 5
    assert cell(table, "Clinic services", "Could not reach") is None  # 1: under 5
    # Complements: a row with its total shown never hides a single cell.
    for r, row in enumerate(table.cells):
        if table.row_totals[r] is not None:
            assert sum(v is None for v in row) != 1
    assert table.total == 24
    for row in table.cells:
        assert all(v is None or v == 0 or v >= 5 for v in row)


def test_times_to_first_contact_and_service_delivered(services: Services) -> None:
    regs = [registration(services, n, ["skills"]) for n in range(9)]
    contact_hours = [2.0, 4.0, 6.0, 8.0, 10.0, 30.0, 50.0]
    for reg_id, hours in zip(regs, contact_hours, strict=False):
        take(services, reg_id, hours)
    take(services, regs[0], 200.0)  # taken again after a reopen: the first one counts
    for reg_id in regs[:3]:
        refer(services, reg_id, "skills", "delivered", days=5)

    fig = figures.build_times(services, "registrations-times", period())
    assert fig.k == 5 and fig.table.col_labels == ("Reached", "Not yet")
    contact, delivered = fig.times
    assert fig.table.row_labels == ("First contact", "First service delivered")
    # 7 reached, 2 not yet: "not yet" is under 5, so the row hides both (a complement),
    # and no times are given for a group whose size is hidden.
    assert fig.table.cells[0] == (None, None)
    assert contact.median is None and contact.p90 is None
    # 3 delivered, 6 not yet: 3 is under 5; hidden with its complement; no times.
    assert fig.table.cells[1][0] is None and delivered.median is None

    # Four more registered and taken, and the last two taken: 13 of 13 reached, times shown.
    more = [registration(services, 50 + n, ["skills"]) for n in range(4)]
    for reg_id in more:
        take(services, reg_id, 12.0)
    for reg_id in regs[7:]:
        take(services, reg_id, 20.0)
    fig = figures.build_times(services, "registrations-times", period())
    contact = fig.times[0]
    all_hours = [*contact_hours, 12.0, 12.0, 12.0, 12.0, 20.0, 20.0]
    assert fig.table.cells[0] == (13, 0)
    assert contact.count == 13
    assert contact.median == statistics.median(all_hours) == 12.0
    assert contact.p90 == sorted(all_hours)[11]  # nearest rank: ceil(0.9 * 13) = 12th
    assert figures.format_hours(contact.median) == "12.0 hours"
    assert figures.format_hours(0.25) == "15 min"
    assert figures.format_hours(72.0) == "3.0 days"


def test_sessions_per_flow_and_language(services: Services) -> None:
    rows = (
        [("Success", "reg_done", "st")] * 12
        + [("Incomplete", "reg_needs", "st")] * 11
        + [("Success", "reg_done", "en")] * 3
        + [("Incomplete", "report_where", "en")] * 14
        + [("Incomplete", "language", None)] * 12
    )
    with services.uow() as uow:
        for i, (status, screen, lang) in enumerate(rows):
            uow.session.add(
                UssdSessionEvent(
                    session_id=f"s{i}",
                    status=status,
                    last_screen=screen,
                    language=lang,
                    received_at=NOW - dt.timedelta(days=1),
                )
            )
        uow.commit()
    fig = figures.build(services, "ussd-sessions", period())
    table = fig.table
    assert fig.k == 5
    assert table.col_labels == ("Sesotho", "English", "Not chosen")
    assert cell(table, "Registration: completed", "English") is None  # 3: under 5
    # Its complements: the Sesotho cell of its row (the row total, 15, is shown), then the
    # cells that would give those away by their columns' totals.
    assert cell(table, "Registration: completed", "Sesotho") is None
    assert cell(table, "Registration: abandoned", "Sesotho") is None
    assert cell(table, "Report: abandoned", "English") is None
    completed = table.row_labels.index("Registration: completed")
    assert table.row_totals[completed] == 15  # the sessions per flow: the old figure's cell
    # Sessions that ended on the language screen have no language: a column of their own.
    assert cell(table, "Menus and other: abandoned", "Not chosen") == 12
    assert table.col_totals == (23, 17, 12)
    assert table.total == len(rows)
    for r, row in enumerate(table.cells):
        assert all(v is None or v == 0 or v >= 5 for v in row)
        if table.row_totals[r] is not None:
            assert sum(v is None for v in row) != 1  # no hidden cell by subtraction
    for c in range(len(table.col_labels)):
        if table.col_totals[c] is not None:
            assert sum(row[c] is None for row in table.cells) != 1


def test_the_session_end_records_the_chosen_language_never_a_report_phone(
    services: Services,
) -> None:
    phone = "+26658111222"
    form = {
        "sessionId": "ATUid_lang1",
        "phoneNumber": phone,
        "status": "Incomplete",
        "hopsMetadata": "language|main|report_danger|report_where",
    }
    assert record_session_end(services, form) is True  # no language chosen yet
    set_language(services, phone, "st")
    assert record_session_end(services, {**form, "sessionId": "ATUid_lang2"}) is True
    reg_form = {**form, "sessionId": "ATUid_lang3", "hopsMetadata": "main|reg_consent"}
    assert record_session_end(services, reg_form) is True
    with services.uow() as uow:
        events = list(uow.session.scalars(select(UssdSessionEvent).order_by(UssdSessionEvent.id)))
        found = [(e.last_screen, e.language, e.phone_hash is not None) for e in events]
    assert found == [
        ("report_where", None, False),
        ("report_where", "st", False),  # a report session: the language, never the phone
        ("reg_consent", "st", True),  # registration: the phone hash, as before (issue 8)
    ]
