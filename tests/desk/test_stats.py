"""Programme statistics on seeded data: every figure shows the numbers the database holds, with
cells under k hidden and complements so totals give nothing away; the analyst sees statistics,
downloads are audited, and case URLs answer 404 to an analyst."""

from __future__ import annotations

import csv
import dataclasses
import io
import statistics
import xml.etree.ElementTree as ET
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis
from flask import Flask
from sqlalchemy import Engine, select

from tests.desk.conftest import Staff, enrol, sign_in
from ussd_app import create_app
from ussd_app.bootstrap import Container, bootstrap
from ussd_app.cases import labels
from ussd_app.cases.models import CaseEvent
from ussd_app.codes import DISTRICTS
from ussd_app.config import Settings
from ussd_app.container import Services
from ussd_app.db import utcnow
from ussd_app.partners.importer import import_partners
from ussd_app.reports.models import TraffickingReport
from ussd_app.returnees.models import Registration
from ussd_app.returnees.referrals import Referral
from ussd_app.staff.models import AuditEvent
from ussd_app.stats import charts, figures
from ussd_app.stats.demo import seed

PARTNERS_FILE = Path(__file__).resolve().parents[2] / "partners.example.yaml"


@pytest.fixture
def stats_container(
    desk_settings: Settings, clean_db: Engine, redis_conn: redis.Redis
) -> Iterator[Container]:
    built = bootstrap(desk_settings)
    import_partners(built.services.session_factory, PARTNERS_FILE)
    seed(built.services, registrations=150, reports=100, weeks=20, seed=7)
    yield built
    built.close()  # held Redis writes go out first (write-behind)


@pytest.fixture
def svc(stats_container: Container) -> Services:
    return stats_container.services


def period() -> figures.Period:
    return figures.Period.last_days(365, utcnow())


def test_seeding_made_the_records(svc: Services) -> None:
    with svc.uow() as uow:
        assert len(uow.session.scalars(select(Registration.id)).all()) == 150
        assert len(uow.session.scalars(select(TraffickingReport.id)).all()) == 100


def test_reports_by_month_match_the_database_and_hide_small_cells(svc: Services) -> None:
    fig = figures.build(svc, "reports-by-month", period())
    table = fig.table
    assert table.k == 11
    with svc.uow() as uow:
        rows = uow.session.execute(
            select(TraffickingReport.district, TraffickingReport.created_at)
        ).all()
    truth = Counter(DISTRICTS.get(d or "", "Not given") for d, _ in rows)
    assert table.total == 100  # the grand total is large: shown
    for label, total in zip(table.row_labels, table.row_totals, strict=True):
        if total is not None:
            assert total == truth[label]
        else:
            assert 0 < truth[label] < 11 or truth[label] >= 11  # hidden: small, or a complement
    for row in table.cells:
        for value in row:
            assert value is None or value == 0 or value >= 11
    # Small periods are merged: every shown column total is zero or at least k.
    assert all(v is None or v == 0 or v >= 11 for v in table.col_totals)


def test_registration_figures_use_k_5_and_add_up(svc: Services) -> None:
    with svc.uow() as uow:
        regs = list(uow.session.scalars(select(Registration)))
        uow.session.expunge_all()
    for key in (
        "registrations-came-from",
        "registrations-staying",
        "registrations-border-post",
        "registrations-documents",
        "registrations-by-week",
    ):
        fig = figures.build(svc, key, period())
        assert fig.k == 5
        assert fig.table.total == 150, key
    needs = figures.build(svc, "registrations-needs", period()).table
    expected = Counter(n for r in regs for n in r.needs)
    shown = dict(zip(needs.row_labels, (row[0] for row in needs.cells), strict=True))
    for code, words in labels.NEED_SHORT.items():
        assert shown[words] is None or shown[words] == expected[code]
    # The needs figure is the referral table's row totals as that table protected them: a need
    # hidden on one page is hidden on the other, so neither page's total gives it away.
    referrals = figures.build(svc, "registrations-referrals", period()).table
    assert needs.row_labels == referrals.row_labels
    assert [row[0] for row in needs.cells] == list(referrals.row_totals)
    assert needs.total == referrals.total and needs.col_totals == (referrals.total,)


def test_incomplete_reports_and_reports_by_post_agree_on_reports_per_priority(
    svc: Services,
) -> None:
    """Every report is at a post or "not at a border post": the by-post figure's totals per
    priority are the incomplete figure's row totals, shown on both pages or hidden on both."""
    by_post = figures.build(svc, "reports-by-post", period()).table
    incomplete = figures.build(svc, "reports-incomplete", period()).table
    assert incomplete.row_labels == by_post.col_labels == ("P1", "P2", "P3")
    assert incomplete.row_totals == by_post.col_totals
    assert incomplete.total == by_post.total == 100
    for row in incomplete.cells:
        assert all(v is None or v == 0 or v >= 11 for v in row)


def test_k_is_configurable_for_reports_and_for_registrations(svc: Services) -> None:
    """STATS_K_REPORTS and STATS_K_REGISTRATIONS decide every figure's k, the map's and the
    HTCDS export's (defaults 11 and 5)."""
    from ussd_app.stats import htcds

    stricter = dataclasses.replace(
        svc, settings=dataclasses.replace(svc.settings, stats_k_reports=20, stats_k_registrations=8)
    )
    for key, spec in figures.SPECS.items():
        table = figures.build(stricter, key, period()).table
        assert table.k == (20 if spec.k == figures.K_TRAFFICKING else 8), key
        values = [v for row in table.cells for v in row] + [*table.row_totals, table.total]
        assert all(v is None or v == 0 or v >= table.k for v in values), key
    assert figures.build_times(stricter, "reports-ack-times", period()).table.k == 20
    assert figures.build(svc, "reports-by-month", period()).k == 11  # the defaults
    rows = htcds.load_rows(stricter, period().since, period().until)
    export = htcds.build(rows, stricter.settings.stats_k_reports)
    combos = Counter(tuple(r[f] for f in htcds.QUASI_IDENTIFIERS) for r in export.rows)
    assert all(n >= 20 for n in combos.values())


def test_every_figure_builds_and_charts_stay_small(svc: Services) -> None:
    built: list[figures.Figure | figures.TimesFigure] = [
        *(figures.build(svc, key, period()) for key in figures.SPECS),
        *(figures.build_times(svc, key, period()) for key in figures.TIME_SPECS),
    ]
    for fig in built:
        for narrow in (False, True):
            svg = charts.svg(fig, narrow=narrow)
            ET.fromstring(svg)  # well-formed
            assert len(svg) < 100_000, (fig.key, len(svg))
        assert charts.png(fig).startswith(b"\x89PNG")


# -- the desk pages ----------------------------------------------------------------------------


@pytest.fixture
def stats_app(stats_container: Container) -> Flask:
    return create_app(container=stats_container)


@pytest.fixture
def analyst(svc: Services) -> Staff:
    return enrol(svc, "analyst", "lmps-atu-desk", "Ana Analyst")


def test_the_analyst_sees_statistics_and_downloads_are_audited(
    stats_app: Flask, svc: Services, analyst: Staff
) -> None:
    client = stats_app.test_client()
    assert sign_in(client, svc, analyst) == 303
    home = client.get("/desk/", follow_redirects=True).get_data(as_text=True)
    assert 'id="nav-stats"' in home and 'id="nav-cases"' not in home
    index = client.get("/desk/stats").get_data(as_text=True)
    for spec in figures.SPECS.values():
        assert spec.title in index
    page = client.get("/desk/stats/reports-by-post?days=365")
    assert page.status_code == 200
    body = page.get_data(as_text=True)
    assert "Maseru Bridge" in body and 'id="chart"' in body
    assert len(page.data) < 100_000
    res = client.get("/desk/stats/reports-by-post.csv?days=365")
    rows = list(csv.reader(io.StringIO(res.get_data(as_text=True))))
    assert rows[0][:4] == ["Border post", "P1", "P2", "P3"]
    assert rows[-1][0] == "Total" and rows[-1][-1] == "100"
    for row in rows[1:]:
        for cell in row[1:]:
            assert cell == "<11" or int(cell) == 0 or int(cell) >= 11
    assert client.get("/desk/stats/reports-by-post.svg?days=365").mimetype == "image/svg+xml"
    with svc.uow() as uow:
        exports = uow.session.scalars(
            select(AuditEvent.detail).where(AuditEvent.action == "stats.export")
        ).all()
    assert exports == ["format=csv"]


def test_the_drop_off_map_page(stats_app: Flask, svc: Services, analyst: Staff) -> None:
    client = stats_app.test_client()
    assert sign_in(client, svc, analyst) == 303
    page = client.get("/desk/stats/dropoff").get_data(as_text=True)
    assert 'id="dropoff-map"' in page
    svg = client.get("/desk/stats/dropoff.svg")
    assert svg.mimetype == "image/svg+xml" and len(svg.data) < 100_000
    root = ET.fromstring(svg.data)
    assert "reg_district" in ET.tostring(root, encoding="unicode")


def test_the_analyst_gets_404_on_any_case_url(
    stats_app: Flask, svc: Services, analyst: Staff
) -> None:
    with svc.uow() as uow:
        ref = uow.session.scalars(select(TraffickingReport.ref)).first()
    client = stats_app.test_client()
    assert sign_in(client, svc, analyst) == 303
    assert client.get(f"/desk/cases/{ref}").status_code == 404
    assert client.get(f"/desk/cases/{ref}/access").status_code == 404
    assert client.get("/desk/cases").status_code == 403  # not a record: a page it lacks


def test_officers_do_not_see_statistics(stats_app: Flask, svc: Services) -> None:
    officer = enrol(svc, "officer", "bds-maputsoe", "Bontle BDS")
    client = stats_app.test_client()
    assert sign_in(client, svc, officer) == 303
    assert client.get("/desk/stats").status_code == 403


def test_the_htcds_export_meets_k_11_on_seeded_data(
    stats_app: Flask, svc: Services, analyst: Staff
) -> None:
    client = stats_app.test_client()
    assert sign_in(client, svc, analyst) == 303
    assert 'id="stat-htcds"' in client.get("/desk/stats").get_data(as_text=True)
    res = client.get("/desk/stats/export/htcds.csv?days=365")
    assert res.status_code == 200 and res.mimetype == "text/csv"
    rows = list(csv.DictReader(io.StringIO(res.get_data(as_text=True))))
    quasi = ("lso_Location", "lso_RegistrationPeriod", "lso_Priority", "lso_ChildInvolved")
    combos = Counter(tuple(r[q] for q in quasi) for r in rows)
    assert rows and min(combos.values()) >= 11
    dropped = int(res.headers["X-Records-Dropped"])
    assert len(rows) + dropped == 100 and int(res.headers["X-Records-Generalised"]) > 0
    with svc.uow() as uow:
        refs = uow.session.scalars(select(TraffickingReport.ref)).all()
        exports = uow.session.scalars(
            select(AuditEvent.detail).where(AuditEvent.action == "stats.export")
        ).all()
    body = res.get_data(as_text=True)
    assert not any(ref in body for ref in refs) and "+266" not in body
    assert exports == ["format=htcds"]
    officer = enrol(svc, "officer", "bds-maputsoe", "Bontle BDS")
    other = stats_app.test_client()
    assert sign_in(other, svc, officer) == 303
    assert other.get("/desk/stats/export/htcds.csv").status_code == 403


# -- returnee follow-up, times and sessions per language (seeded follow-up) --------------------


def test_referral_outcomes_and_times_match_the_database(svc: Services) -> None:
    with svc.uow() as uow:
        regs = {r.id: r for r in uow.session.scalars(select(Registration))}
        refs = list(uow.session.scalars(select(Referral)))
        taken = uow.session.execute(
            select(CaseEvent.registration_id, CaseEvent.created_at).where(
                CaseEvent.action == "acknowledged", CaseEvent.registration_id.is_not(None)
            )
        ).all()
        uow.session.expunge_all()
    assert refs and taken  # the seed made follow-up
    status = {(r.registration_id, r.need): r.status for r in refs}
    truth = Counter(
        (labels.NEED_SHORT[need], figures.REFERRAL_WORDS[status.get((rid, need), "none")])
        for rid, reg in regs.items()
        for need in reg.needs
    )
    table = figures.build(svc, "registrations-referrals", period()).table
    assert table.k == 5 and table.total == sum(truth.values())
    shown = 0
    for r, row in enumerate(table.cells):
        for c, value in enumerate(row):
            expected = truth[(table.row_labels[r], table.col_labels[c])]
            assert value is None or value == expected
            assert value is None or value == 0 or value >= 5
            shown += value is not None and value > 0
    assert shown >= 5  # most of it can be shown

    times = figures.build_times(svc, "registrations-times", period())
    contact = times.times[0]
    hours = sorted(
        (at - regs[rid].created_at).total_seconds() / 3600 for rid, at in taken if rid in regs
    )
    assert times.table.cells[0] == (len(hours), len(regs) - len(hours))
    assert contact.median is not None and abs(contact.median - statistics.median(hours)) < 1e-6
    assert contact.p90 is not None and contact.median <= contact.p90 <= hours[-1]


def test_the_new_pages_csv_and_narrow_charts(
    stats_app: Flask, svc: Services, analyst: Staff
) -> None:
    client = stats_app.test_client()
    assert sign_in(client, svc, analyst) == 303
    index = client.get("/desk/stats").get_data(as_text=True)
    for heading in ("Returnees", "Trafficking reports", "Service health"):
        assert f"<h2>{heading}</h2>" in index
    for key in ("registrations-referrals", "registrations-times", "reports-ack-times"):
        assert f'id="stat-{key}"' in index
    assert 'id="stat-ussd-sessions"' in index

    page = client.get("/desk/stats/registrations-times?days=365").get_data(as_text=True)
    assert "First contact" in page and 'id="times-note"' in page and "Median" in page
    assert "narrow=1" in page  # the phone-width chart is offered
    res = client.get("/desk/stats/registrations-times.csv?days=365")
    rows = list(csv.reader(io.StringIO(res.get_data(as_text=True))))
    assert rows[0] == ["Step", "Median", "90th percentile", "Reached", "Not yet"]
    assert [r[0] for r in rows[1:]] == ["First contact", "First service delivered"]
    assert rows[1][1].endswith(("hours", "days", "min"))

    ack = list(csv.reader(io.StringIO(client.get("/desk/stats/reports-ack-times.csv").text)))
    assert ack[0] == ["Partner, priority", "Median", "90th percentile", "Acknowledged"]
    for row in ack[1:]:
        assert row[3] == "<11" or int(row[3]) == 0 or int(row[3]) >= 11
        assert (row[3] == "<11") == (row[1] == "")  # no times for a hidden group

    lang = client.get("/desk/stats/ussd-sessions.csv?days=365").text
    lang_rows = list(csv.reader(io.StringIO(lang)))
    assert lang_rows[0] == ["Flow: how it ended", "Sesotho", "English", "Not chosen", "Total"]
    assert [r[0] for r in lang_rows[1:3]] == ["Registration: completed", "Registration: abandoned"]
    assert lang_rows[-1][0] == "Total"

    wide = ET.fromstring(client.get("/desk/stats/registrations-referrals.svg").data)
    narrow = ET.fromstring(client.get("/desk/stats/registrations-referrals.svg?narrow=1").data)
    assert float(narrow.get("width", "0").rstrip("pt")) < float(wide.get("width", "0").rstrip("pt"))

    english = client.get("/desk/stats/dropoff.svg?lang=en").get_data(as_text=True)
    assert "English" in english
    assert 'id="lang"' in client.get("/desk/stats/dropoff?lang=st").get_data(as_text=True)
    with svc.uow() as uow:
        exports = uow.session.scalars(
            select(AuditEvent.detail).where(AuditEvent.action == "stats.export")
        ).all()
    assert sorted(exports) == ["format=csv"] * 3
