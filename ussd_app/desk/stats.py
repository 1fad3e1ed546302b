"""Programme statistics on the desk (`/desk/stats`): for the analyst role, aggregates only.

Every figure, chart and download comes from `ussd_app.stats.figures`, which protects it with
`ussd_app.stats.disclosure` first; nothing here touches a record. Downloads (CSV, SVG, PNG) are
exports and audited as such; views are audited too.
"""

from __future__ import annotations

import csv
import datetime as dt
import io

from flask import Response, abort, current_app, render_template, request

from ussd_app.db import utcnow
from ussd_app.desk import bp
from ussd_app.desk.auth import audit_event, permission_required, services
from ussd_app.desk.strings import t
from ussd_app.staff.roles import Permission
from ussd_app.stats import figures, htcds

PERIODS = {"30": 30, "90": 90, "365": 365}


def _period_labels() -> dict[str, str]:
    return {"30": t("stats.days_30"), "90": t("stats.days_90"), "365": t("stats.days_365")}


DEFAULT_PERIOD = "365"


def _period() -> tuple[str, figures.Period]:
    key = request.args.get("days", DEFAULT_PERIOD)
    if key not in PERIODS:
        key = DEFAULT_PERIOD
    now = utcnow() + dt.timedelta(seconds=1)
    return key, figures.Period.last_days(PERIODS[key], now)


def _figure(key: str) -> tuple[str, figures.Figure | figures.TimesFigure]:
    """A count figure (`figures.SPECS`) or a times figure (`figures.TIME_SPECS`); 404 else."""
    days, period = _period()
    if key in figures.SPECS:
        return days, figures.build(services(), key, period)
    if key in figures.TIME_SPECS:
        return days, figures.build_times(services(), key, period)
    abort(404)


def _narrow() -> bool:
    """`?narrow=1`: the chart drawn for a phone's width (the page asks for it below 40rem)."""
    return request.args.get("narrow") == "1"


def _language() -> str | None:
    """`?lang=st`: one of the menu's languages, or None for all of them."""
    lang = request.args.get("lang") or None
    return lang if lang in current_app.extensions["ussd"].menu.languages else None


def _languages() -> dict[str, str]:
    """The menu's languages by name, for the drop-off map's filter."""
    menu = current_app.extensions["ussd"].menu
    return {code: figures.LANGUAGE_NAMES.get(code, code) for code in menu.languages}


def _sections(keys: list[str]) -> list[tuple[str, list[str]]]:
    """The index in the issue's three parts: returnees, reports, service health (in order)."""
    parts = [
        (t("stats.section_returnees"), "registrations-"),
        (t("stats.section_reports"), "reports-"),
        (t("stats.section_health"), ""),
    ]
    out: list[tuple[str, list[str]]] = [(name, []) for name, _ in parts]
    for key in keys:
        i = next(n for n, (_, prefix) in enumerate(parts) if key.startswith(prefix))
        out[i][1].append(key)
    return out


@bp.get("/stats")
@permission_required(Permission.STATS_READ)
def stats_index() -> str:
    days, _ = _period()
    specs: dict[str, figures.Spec | figures.TimesSpec] = {**figures.SPECS, **figures.TIME_SPECS}
    audit_event("stats.list", record_type="stats", detail=f"days={days}")
    return render_template(
        "desk/stats_index.html",
        specs=specs,
        sections=_sections(list(specs)),
        days=days,
        periods=PERIODS,
        period_labels=_period_labels(),
    )


def _dropoff() -> tuple[str, bytes | str]:
    """The drop-off map for the period: (days, the protected counts drawn as SVG). Its counts
    come from the sessions table it shares with the "USSD sessions" figure, protected once for
    both pages (`figures.sessions_table`)."""
    from ussd_app.stats import dropoff

    days, period = _period()
    lang = _language()
    menu = current_app.extensions["ussd"].menu
    graph = dropoff.build_graph(menu)
    k = figures.k_for(services(), figures.SPECS["ussd-sessions"].k)
    table = figures.sessions_table(services(), period, k)
    column = figures.language_name(lang) if lang else None
    shown = dropoff.shown_from_table(graph, table, column)
    which = _languages()[lang] if lang else t("stats.all_languages")
    subtitle = t("stats.dropoff_subtitle", days=PERIODS[days], language=which)
    return days, dropoff.render_svg(graph, shown, subtitle=subtitle)


@bp.get("/stats/dropoff")
@permission_required(Permission.STATS_READ)
def stats_dropoff() -> str:
    """Which USSD screen loses people: the menu as a map, coloured by sessions that ended there."""
    days, _ = _period()
    lang = _language()
    detail = f"days={days}" + (f":lang={lang}" if lang else "")
    audit_event("stats.view", record_type="stats", record_ref="dropoff", detail=detail)
    return render_template(
        "desk/stats_dropoff.html",
        days=days,
        periods=PERIODS,
        period_labels=_period_labels(),
        lang=lang or "",
        languages=_languages(),
        k=figures.k_for(services(), figures.SPECS["ussd-sessions"].k),
    )


@bp.get("/stats/dropoff.svg")
@permission_required(Permission.STATS_READ)
def stats_dropoff_svg() -> Response:
    days, svg_text = _dropoff()
    response = Response(svg_text, mimetype="image/svg+xml")
    if request.args.get("download"):
        audit_event("stats.export", record_type="stats", record_ref="dropoff", detail="format=svg")
        name = f"dropoff-{days}d" + (f"-{_language()}" if _language() else "")
        response.headers["Content-Disposition"] = f'attachment; filename="{name}.svg"'
    return response


@bp.get("/stats/<key>")
@permission_required(Permission.STATS_READ)
def stats_figure(key: str) -> str:
    days, fig = _figure(key)
    audit_event("stats.view", record_type="stats", record_ref=key, detail=f"days={days}")
    if isinstance(fig, figures.TimesFigure):
        return render_template(
            "desk/stats_times.html",
            fig=fig,
            days=days,
            periods=PERIODS,
            period_labels=_period_labels(),
            duration=figures.format_hours,
        )
    return render_template(
        "desk/stats_figure.html",
        fig=fig,
        days=days,
        periods=PERIODS,
        period_labels=_period_labels(),
    )


@bp.get("/stats/<key>.svg")
@permission_required(Permission.STATS_READ)
def stats_svg(key: str) -> Response:
    days, fig = _figure(key)
    if request.args.get("download"):
        audit_event("stats.export", record_type="stats", record_ref=key, detail="format=svg")
    from ussd_app.stats import charts  # matplotlib: loaded on the first chart, not at start

    response = Response(charts.svg(fig, narrow=_narrow()), mimetype="image/svg+xml")
    if request.args.get("download"):
        response.headers["Content-Disposition"] = f'attachment; filename="{key}-{days}d.svg"'
    return response


@bp.get("/stats/<key>.png")
@permission_required(Permission.STATS_READ)
def stats_png(key: str) -> Response:
    days, fig = _figure(key)
    audit_event("stats.export", record_type="stats", record_ref=key, detail="format=png")
    from ussd_app.stats import charts

    response = Response(charts.png(fig, narrow=_narrow()), mimetype="image/png")
    response.headers["Content-Disposition"] = f'attachment; filename="{key}-{days}d.png"'
    return response


@bp.get("/stats/<key>.csv")
@permission_required(Permission.STATS_READ)
def stats_csv(key: str) -> Response:
    """The table exactly as shown: hidden cells as "<k", with totals."""
    days, fig = _figure(key)
    audit_event("stats.export", record_type="stats", record_ref=key, detail="format=csv")
    out = io.StringIO()
    writer = csv.writer(out)
    table = fig.table
    if isinstance(fig, figures.TimesFigure):
        writer.writerow([fig.row_title, t("stats.median"), t("stats.p90"), *table.col_labels])
        for label, row, times in zip(table.row_labels, table.cells, fig.times, strict=True):
            writer.writerow(
                [
                    label,
                    figures.format_hours(times.median),
                    figures.format_hours(times.p90),
                    *(table.text(v) for v in row),
                ]
            )
        return _csv_response(out.getvalue(), key, days)
    writer.writerow([fig.row_title or "", *table.col_labels, t("stats.total")])
    for label, row, total in zip(table.row_labels, table.cells, table.row_totals, strict=True):
        writer.writerow([label, *(table.text(v) for v in row), table.text(total)])
    writer.writerow(
        [t("stats.total"), *(table.text(v) for v in table.col_totals), table.text(table.total)]
    )
    return _csv_response(out.getvalue(), key, days)


def _csv_response(text: str, key: str, days: str) -> Response:
    response = Response(text, mimetype="text/csv")
    response.headers["Content-Disposition"] = f'attachment; filename="{key}-{days}d.csv"'
    return response


@bp.get("/stats/export/htcds.csv")
@permission_required(Permission.STATS_READ)
def stats_htcds_csv() -> Response:
    """Trafficking reports one per row, de-identified, in HTCDS field names (`stats.htcds`):
    every quasi-identifier combination occurs at least k times (STATS_K_REPORTS, 11). The
    headers say how many reports were generalised and how many dropped."""
    days, period = _period()
    rows = htcds.load_rows(services(), period.since, period.until)
    export = htcds.build(rows, services().settings.stats_k_reports)
    audit_event("stats.export", record_type="stats", record_ref="htcds", detail="format=htcds")
    response = Response(htcds.to_csv(export), mimetype="text/csv")
    response.headers["Content-Disposition"] = f'attachment; filename="htcds-{days}d.csv"'
    response.headers["X-Records-Generalised"] = str(export.generalised)
    response.headers["X-Records-Dropped"] = str(export.dropped)
    return response
