"""Drop-off counts from seeded end-of-session rows on the real database, then the map."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import handlers
from ussd_app.container import Services
from ussd_app.menu.loader import load_menu
from ussd_app.stats.dropoff import (
    HOP_FAILED,
    NO_SCREEN,
    RESUMED,
    build_graph,
    drop_off_counts,
    protect,
    render_svg,
)
from ussd_app.ussd.models import UssdSessionEvent

MENUS = Path(__file__).resolve().parents[2] / "menus.yaml"
MARCH = dt.datetime(2026, 3, 1, tzinfo=dt.UTC)
APRIL = dt.datetime(2026, 4, 1, tzinfo=dt.UTC)


def _seed(
    services: Services,
    rows: list[tuple[str, str | None, dt.datetime]],
    language: str | None = None,
    first: int = 0,
) -> None:
    with services.uow() as uow:
        for i, (status, last_screen, at) in enumerate(rows, start=first):
            uow.session.add(
                UssdSessionEvent(
                    session_id=f"s{i}",
                    status=status,
                    last_screen=last_screen,
                    received_at=at,
                    language=language,
                )
            )
        uow.commit()


def test_counts_sessions_that_did_not_complete_by_last_screen(services: Services) -> None:
    day = MARCH + dt.timedelta(days=3)
    rows: list[tuple[str, str | None, dt.datetime]] = []
    rows += [("Incomplete", "report_where", day)] * 12
    rows += [("Failed", "report_where", day)] * 2
    rows += [("Incomplete", "reg_district", day + dt.timedelta(hours=5))] * 3
    rows += [("Success", "report_done", day)] * 20  # completed: not a drop-off
    rows += [("success", "reg_done", day)] * 4  # the status's case does not matter
    rows += [("Incomplete", "error", day)] * 6  # a hop failed inside
    rows += [("Incomplete", "_resume", day)] * 7
    rows += [("Incomplete", None, day)]  # no hop metadata
    rows += [("Incomplete", "report_where", MARCH - dt.timedelta(seconds=1))]  # before
    rows += [("Incomplete", "report_where", APRIL)]  # `until` is excluded
    rows += [("Incomplete", "main", MARCH)]  # `since` is included
    _seed(services, rows)

    counts = drop_off_counts(services, MARCH, APRIL)
    assert counts == {
        "report_where": 14,
        "reg_district": 3,
        HOP_FAILED: 6,
        RESUMED: 7,
        NO_SCREEN: 1,
        "main": 1,
    }
    # None of these had a language recorded: they count under "all languages" only.
    assert drop_off_counts(services, MARCH, APRIL, language="st") == {}
    _seed(services, [("Incomplete", "report_where", day)] * 4, language="st", first=1000)
    _seed(services, [("Incomplete", "reg_district", day)] * 2, language="en", first=2000)
    assert drop_off_counts(services, MARCH, APRIL, language="st") == {"report_where": 4}
    assert drop_off_counts(services, MARCH, APRIL, language="en") == {"reg_district": 2}
    assert drop_off_counts(services, MARCH, APRIL)["report_where"] == 18
    assert drop_off_counts(services, APRIL, APRIL + dt.timedelta(days=30)) == {"report_where": 1}


def test_the_map_of_seeded_counts_hides_the_small_ones(services: Services) -> None:
    day = MARCH + dt.timedelta(days=10)
    _seed(
        services,
        [("Incomplete", "report_where", day)] * 30
        + [("Incomplete", "report_when", day)] * 2
        + [("Incomplete", "reg_needs", day)] * 9,
    )
    counts = drop_off_counts(services, MARCH, APRIL)
    graph = build_graph(load_menu(MENUS, known_handlers=set(handlers.load_all())))
    shown = protect(graph, counts)
    assert shown.counts["report_where"] == 30
    assert shown.counts["report_when"] is None
    svg = render_svg(graph, counts, subtitle="March 2026")
    assert "ended here: 30" in svg
    assert "ended here: &lt;5" in svg
    assert "ended here: 2<" not in svg
