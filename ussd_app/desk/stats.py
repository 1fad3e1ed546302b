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
from ussd_app.stats.disclosure import K_TRAFFICKING

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


def _figure(key: str) -> tuple[str, figures.Figure]:
    if key not in figures.SPECS:
        abort(404)
    days, period = _period()
    return days, figures.build(services(), key, period)


@bp.get("/stats")
@permission_required(Permission.STATS_READ)
def stats_index() -> str:
    days, period = _period()
    audit_event("stats.list", record_type="stats", detail=f"days={days}")
    return render_template(
        "desk/stats_index.html",
        specs=figures.SPECS,
        days=days,
        periods=PERIODS,
        period_labels=_period_labels(),
        ack=figures.acknowledgement_times(services(), period),
        k_ack=K_TRAFFICKING,
        check_ins=figures.check_in_figures(services(), period),
    )


def _dropoff() -> tuple[str, bytes | str]:
    """The drop-off map for the period: (days, the protected counts drawn as SVG)."""
    from ussd_app.stats import dropoff

    days, period = _period()
    menu = current_app.extensions["ussd"].menu
    counts = dropoff.drop_off_counts(services(), period.since, period.until)
    subtitle = t("stats.dropoff_subtitle", days=PERIODS[days])
    return days, dropoff.render_svg(dropoff.build_graph(menu), counts, subtitle=subtitle)


@bp.get("/stats/dropoff")
@permission_required(Permission.STATS_READ)
def stats_dropoff() -> str:
    """Which USSD screen loses people: the menu as a map, coloured by sessions that ended there."""
    days, _ = _period()
    audit_event("stats.view", record_type="stats", record_ref="dropoff", detail=f"days={days}")
    return render_template(
        "desk/stats_dropoff.html", days=days, periods=PERIODS, period_labels=_period_labels()
    )


@bp.get("/stats/dropoff.svg")
@permission_required(Permission.STATS_READ)
def stats_dropoff_svg() -> Response:
    days, svg_text = _dropoff()
    response = Response(svg_text, mimetype="image/svg+xml")
    if request.args.get("download"):
        audit_event("stats.export", record_type="stats", record_ref="dropoff", detail="format=svg")
        response.headers["Content-Disposition"] = f'attachment; filename="dropoff-{days}d.svg"'
    return response


@bp.get("/stats/<key>")
@permission_required(Permission.STATS_READ)
def stats_figure(key: str) -> str:
    days, fig = _figure(key)
    audit_event("stats.view", record_type="stats", record_ref=key, detail=f"days={days}")
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

    response = Response(charts.svg(fig), mimetype="image/svg+xml")
    if request.args.get("download"):
        response.headers["Content-Disposition"] = f'attachment; filename="{key}-{days}d.svg"'
    return response


@bp.get("/stats/<key>.png")
@permission_required(Permission.STATS_READ)
def stats_png(key: str) -> Response:
    days, fig = _figure(key)
    audit_event("stats.export", record_type="stats", record_ref=key, detail="format=png")
    from ussd_app.stats import charts

    response = Response(charts.png(fig), mimetype="image/png")
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
    writer.writerow([fig.row_title or "", *table.col_labels, t("stats.total")])
    for label, row, total in zip(table.row_labels, table.cells, table.row_totals, strict=True):
        writer.writerow([label, *(table.text(v) for v in row), table.text(total)])
    writer.writerow(
        [t("stats.total"), *(table.text(v) for v in table.col_totals), table.text(table.total)]
    )
    response = Response(out.getvalue(), mimetype="text/csv")
    response.headers["Content-Disposition"] = f'attachment; filename="{key}-{days}d.csv"'
    return response


@bp.get("/stats/export/htcds.csv")
@permission_required(Permission.STATS_READ)
def stats_htcds_csv() -> Response:
    """Trafficking reports one per row, de-identified, in HTCDS field names (`stats.htcds`):
    every quasi-identifier combination occurs at least k = 11 times. The headers say how many
    reports were generalised and how many dropped."""
    days, period = _period()
    export = htcds.build(htcds.load_rows(services(), period.since, period.until))
    audit_event("stats.export", record_type="stats", record_ref="htcds", detail="format=htcds")
    response = Response(htcds.to_csv(export), mimetype="text/csv")
    response.headers["Content-Disposition"] = f'attachment; filename="htcds-{days}d.csv"'
    response.headers["X-Records-Generalised"] = str(export.generalised)
    response.headers["X-Records-Dropped"] = str(export.dropped)
    return response
