"""The returnee follow-up and session figures on hand-made rows with known answers: referral
outcomes per need, times to first contact and to service delivered, sessions per flow and
language; each protected (cells under k hidden, with complements, and no times for a hidden
group), and the language recorded with the end-of-session notification."""

from __future__ import annotations

import datetime as dt
import statistics
from pathlib import Path

from sqlalchemy import select

import handlers
from ussd_app.cases.models import CaseEvent
from ussd_app.container import Services
from ussd_app.db import utcnow
from ussd_app.menu.loader import load_menu
from ussd_app.returnees.models import Registration
from ussd_app.returnees.referrals import Referral
from ussd_app.returnees.registrations import register_returnee
from ussd_app.stats import dropoff, figures
from ussd_app.ussd.models import UssdSessionEvent
from ussd_app.ussd.preferences import set_language
from ussd_app.ussd.session_events import record_session_end

NOW = utcnow()
MENUS = Path(__file__).resolve().parents[2] / "menus.yaml"
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


def _seed_sessions(services: Services, rows: list[tuple[str, str, str | None]]) -> None:
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


def test_sessions_per_flow_and_language(services: Services) -> None:
    rows = (
        [("Success", "reg_done", "st")] * 12
        + [("Incomplete", "reg_needs", "st")] * 11
        + [("Success", "reg_done", "en")] * 3
        + [("Incomplete", "report_where", "en")] * 14
        + [("Incomplete", "language", None)] * 12
    )
    _seed_sessions(services, rows)
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
    # Sessions that ended on the language screen have no language: a column of their own. Its
    # 12 is hidden here as a complement: the figure is protected together with the drop-off
    # map's screens (`figures.sessions_table`), whose rows hold a single non-zero cell each.
    assert cell(table, "Menus and other: abandoned", "Not chosen") in (None, 12)
    assert table.col_totals[0] == 23
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


def test_the_drop_off_map_and_the_sessions_figure_hide_together(services: Services) -> None:
    """A screen the map hides cannot be worked out from the sessions figure's "Report:
    abandoned" (nor from another language's map and the all-languages map). Protected each by
    itself, they gave it away: the check below finds that leak in the old way first."""
    _seed_sessions(
        services,
        [("Incomplete", "report_when", "en")] * 3  # small: hidden
        + [("Incomplete", "reg_district", "en")] * 8  # the map's own complement, in another flow
        + [("Incomplete", "report_where", "en")] * 30
        + [("Incomplete", "report_danger", "en")] * 40
        + [("Success", "report_done", "en")] * 50
        + [("Incomplete", "report_where", "st")] * 20
        + [("Incomplete", "report_danger", "st")] * 25
        + [("Success", "report_done", "st")] * 30,
    )
    graph = dropoff.build_graph(load_menu(MENUS, known_handlers=set(handlers.load_all())))
    report_screens = [s for s in graph.boxes if s.startswith("report")]

    def leaks(maps: dict[str | None, dropoff.Shown], fig: figures.Figure) -> list[str]:
        """Hidden screens one subtraction gives away, from what the pages show."""
        found = []
        table = fig.table
        r = table.row_labels.index("Report: abandoned")
        for lang, shown in maps.items():
            if lang is None:
                flow_total = table.row_totals[r]
            else:
                flow_total = table.cells[r][table.col_labels.index(figures.language_name(lang))]
            hidden = [s for s in report_screens if shown.counts.get(s, 0) is None]
            if flow_total is not None and len(hidden) == 1:
                found.append(f"{hidden[0]} ({lang or 'all'}) from the figure")
        for sid in graph.boxes:  # one language's map from the others and all languages
            values = [maps[lang].counts.get(sid, 0) for lang in maps]
            if sum(v is None for v in values) == 1:
                found.append(f"{sid} from the other maps")
        return found

    fig = figures.build(services, "ussd-sessions", period())
    since, until = period().since, period().until
    alone = {
        lang: dropoff.protect(graph, dropoff.drop_off_counts(services, since, until, lang), 5)
        for lang in (None, "en", "st")
    }
    assert alone["en"].counts["report_when"] is None
    assert leaks(alone, fig), "protected each by itself, the pages give the screen away"

    table = figures.sessions_table(services, period(), fig.k)
    together = {
        lang: dropoff.shown_from_table(graph, table, figures.language_name(lang) if lang else None)
        for lang in (None, "en", "st")
    }
    assert together["en"].counts["report_when"] is None
    assert leaks(together, fig) == []
    # What the map shows is the table's own cells, and its total the table's subtotal.
    where = table.row_labels.index("report_where")
    english = table.col_labels.index("English")
    assert together["en"].counts["report_where"] == table.cells[where][english]
    assert together[None].total == table.group(dropoff.ABANDONED_ALL)[1]
    for shown in together.values():
        assert all(v is None or v == 0 or v >= 5 for v in shown.counts.values())


def test_escalations_count_urgent_reports_not_taken_in_time_and_what_happened_since(
    services: Services,
) -> None:
    """25 P1 reports nobody took in time and 11 P2 ones; 13 of the P1s taken since."""
    from ussd_app.cases.escalation import escalate_due
    from ussd_app.reports.intake import submit_report
    from ussd_app.reports.models import TraffickingReport

    urgent = {"danger_now": "yes", "child_involved": "no", "place": "maseru_bridge"}
    later = {
        "danger_now": "no",
        "child_involved": "no",
        "place": "maseru_bridge",
        "when_seen": "today",
    }
    refs = [
        submit_report(services, phone=f"+26658{i:06d}", language="en", answers=urgent)[0]
        for i in range(25)
    ]
    refs += [
        submit_report(services, phone=f"+26657{i:06d}", language="en", answers=later)[0]
        for i in range(11)
    ]
    submit_report(services, phone="+26656000001", language="en", answers=urgent)  # taken in time
    with services.uow() as uow:
        last = uow.session.scalars(
            select(TraffickingReport).order_by(TraffickingReport.id.desc())
        ).first()
        assert last is not None
        last.acknowledged_at = utcnow()
        uow.commit()
    escalated = escalate_due(services, now=utcnow() + dt.timedelta(days=2))
    assert sorted(escalated) == sorted(refs)
    with services.uow() as uow:
        for report in uow.session.scalars(
            select(TraffickingReport).where(TraffickingReport.ref.in_(refs[:13]))
        ):
            report.acknowledged_at = utcnow()
        uow.commit()

    end = figures.Period(NOW - dt.timedelta(days=1), utcnow() + dt.timedelta(minutes=1))
    table = figures.build(services, "reports-escalations", end).table
    assert table.k == 11
    assert table.row_labels == ("P1", "P2")
    assert table.col_labels == ("Taken since", "Not taken yet")
    assert table.cells == ((13, 12), (0, 11))  # every count at least 11 (or 0): all shown
    assert table.row_totals == (25, 11) and table.total == 36
    # Reports made before the period are not counted.
    after = figures.Period(utcnow() + dt.timedelta(seconds=1), utcnow() + dt.timedelta(days=1))
    assert figures.build(services, "reports-escalations", after).table.total == 0
