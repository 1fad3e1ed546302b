"""Programme statistics: each figure is a count table built from the database and protected by
`ussd_app.stats.disclosure` before anything leaves this module (DESIGN decision 14).

A figure is (rows x columns) counts for a period. Periods with too few records to show (a month
with 3 reports) are merged with their neighbours rather than shown empty, then every cell below k
is hidden with its complements. Nothing here returns a record; analysts see only these tables.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace

from sqlalchemy import select

from ussd_app.cases import labels
from ussd_app.cases.models import CaseEvent
from ussd_app.codes import (
    BORDER_POSTS,
    CAME_FROM,
    DISTRICTS,
    NEEDS,
    STAY_INTENT,
    TRAVEL_DOCUMENT,
)
from ussd_app.container import Services
from ussd_app.messaging.models import OutboundSms
from ussd_app.reports.models import TraffickingReport
from ussd_app.returnees.models import Registration
from ussd_app.returnees.referrals import Referral
from ussd_app.stats.disclosure import (
    K_REGISTRATIONS,
    K_TRAFFICKING,
    Durations,
    ProtectedTable,
    durations,
    protect,
)
from ussd_app.stats.dropoff import ABANDONED_ALL, screen_for_label
from ussd_app.ussd.models import UssdSessionEvent

NOT_GIVEN = "Not given"


@dataclass(frozen=True)
class Period:
    since: dt.datetime
    until: dt.datetime

    @classmethod
    def last_days(cls, days: int, now: dt.datetime) -> Period:
        return cls(now - dt.timedelta(days=days), now)


@dataclass(frozen=True)
class Figure:
    key: str
    title: str
    about: str  # "trafficking reports" / "registrations" / ...
    row_title: str
    col_title: str
    table: ProtectedTable

    @property
    def k(self) -> int:
        return self.table.k


@dataclass(frozen=True)
class Spec:
    title: str
    about: str
    k: int
    row_title: str
    col_title: str
    build: Callable[[Services, Period], tuple[list[str], list[str], list[list[int]]]] | None
    merge_columns: bool = False  # columns are periods: merge small ones
    # A figure whose table is protected together with another page's (the sessions table and
    # the drop-off map): it builds its protected table itself, given k.
    protected: Callable[[Services, Period, int], ProtectedTable] | None = None


def _months(period: Period) -> list[str]:
    out, cur = [], dt.date(period.since.year, period.since.month, 1)
    end = period.until.date()
    while cur <= end:
        out.append(cur.strftime("%Y-%m"))
        cur = dt.date(cur.year + (cur.month == 12), cur.month % 12 + 1, 1)
    return out


def _weeks(period: Period) -> list[str]:
    out: list[str] = []
    day = period.since.date()
    while day <= period.until.date():
        year, week, _ = day.isocalendar()
        label = f"{year}-W{week:02d}"
        if label not in out:
            out.append(label)
        day += dt.timedelta(days=1)
    return out


def _week_of(when: dt.datetime) -> str:
    year, week, _ = when.isocalendar()
    return f"{year}-W{week:02d}"


def _reports(services: Services, period: Period) -> list[TraffickingReport]:
    with services.uow() as uow:
        rows = list(
            uow.session.scalars(
                select(TraffickingReport).where(
                    TraffickingReport.created_at >= period.since,
                    TraffickingReport.created_at < period.until,
                )
            )
        )
        uow.session.expunge_all()
        return rows


def _registrations(services: Services, period: Period) -> list[Registration]:
    with services.uow() as uow:
        rows = list(
            uow.session.scalars(
                select(Registration).where(
                    Registration.created_at >= period.since,
                    Registration.created_at < period.until,
                )
            )
        )
        uow.session.expunge_all()
        return rows


def _district_name(code: str | None) -> str:
    return DISTRICTS.get(code or "", NOT_GIVEN)


def _crosstab(
    pairs: Sequence[tuple[str, str]], rows: list[str], cols: list[str]
) -> list[list[int]]:
    counts = Counter(pairs)
    return [[counts[(r, c)] for c in cols] for r in rows]


def reports_by_month(
    services: Services, period: Period
) -> tuple[list[str], list[str], list[list[int]]]:
    reports = _reports(services, period)
    rows = [*sorted(DISTRICTS.values()), NOT_GIVEN]
    cols = _months(period)
    pairs = [(_district_name(r.district), r.created_at.strftime("%Y-%m")) for r in reports]
    return rows, cols, _crosstab(pairs, rows, cols)


def reports_by_post(
    services: Services, period: Period
) -> tuple[list[str], list[str], list[list[int]]]:
    reports = _reports(services, period)
    rows = [p.name for p in BORDER_POSTS.values()] + ["Not at a border post"]
    cols = ["P1", "P2", "P3"]

    def where(r: TraffickingReport) -> str:
        post = BORDER_POSTS.get(r.place or "")
        return post.name if post else "Not at a border post"

    return rows, cols, _crosstab([(where(r), r.priority) for r in reports], rows, cols)


def _one_way(
    values: Sequence[str], order: Sequence[str]
) -> tuple[list[str], list[str], list[list[int]]]:
    counts = Counter(values)
    rows = list(order) + sorted(set(counts) - set(order))
    return rows, ["Count"], [[counts[r]] for r in rows]


def reports_child(
    services: Services, period: Period
) -> tuple[list[str], list[str], list[list[int]]]:
    values = [labels.word(labels.CHILD_WORDS, r.child_involved) for r in _reports(services, period)]
    return _one_way(values, [*labels.CHILD_WORDS.values(), "Not answered"])


def reports_flags(
    services: Services, period: Period
) -> tuple[list[str], list[str], list[list[int]]]:
    values = [
        labels.RED_FLAG_WORDS.get(f, f) for r in _reports(services, period) for f in r.flags or []
    ]
    return _one_way(values, list(labels.RED_FLAG_WORDS.values()))


def reports_incomplete(
    services: Services, period: Period
) -> tuple[list[str], list[str], list[list[int]]]:
    reports = _reports(services, period)
    rows = ["P1", "P2", "P3"]
    cols = ["Completed", "Incomplete (abandoned)"]
    pairs = [(r.priority, cols[1] if r.incomplete else cols[0]) for r in reports]
    return rows, cols, _crosstab(pairs, rows, cols)


def incomplete_table(services: Services, period: Period, k: int) -> ProtectedTable:
    """The incomplete reports per priority, protected consistently with the reports-by-post
    figure: each priority's row total is that figure's column total for the priority (every
    report is at a post or "not at a border post"), and the grand totals are the same. Shown
    there: never hidden here (the complements come from this table's cells); hidden there:
    hidden here.
    """
    rows, cols, counts = reports_incomplete(services, period)
    by_post = build(services, "reports-by-post", period).table
    elsewhere = {
        (r, len(cols)): by_post.col_totals[by_post.col_labels.index(label)]
        for r, label in enumerate(rows)
    }
    elsewhere[(len(rows), len(cols))] = by_post.total
    return protect(counts, k, rows, cols, elsewhere=elsewhere)


def reports_escalations(
    services: Services, period: Period
) -> tuple[list[str], list[str], list[list[int]]]:
    """Reports made in the period that escalated (no partner took them within P1_ACK_MINUTES or
    P2_ACK_MINUTES, so supervisors and the duty desk were told again), by priority and whether
    a partner has taken them since."""
    with services.uow() as uow:
        escalated = select(CaseEvent.report_id).where(
            CaseEvent.action == "escalated", CaseEvent.report_id.is_not(None)
        )
        found = uow.session.execute(
            select(TraffickingReport.priority, TraffickingReport.acknowledged_at).where(
                TraffickingReport.created_at >= period.since,
                TraffickingReport.created_at < period.until,
                TraffickingReport.id.in_(escalated),
            )
        ).all()
    rows = ["P1", "P2"]
    cols = ["Taken since", "Not taken yet"]
    pairs = [(str(p), cols[0] if acked is not None else cols[1]) for p, acked in found]
    return rows, cols, _crosstab(pairs, rows, cols)


def registrations_by_week(
    services: Services, period: Period
) -> tuple[list[str], list[str], list[list[int]]]:
    regs = _registrations(services, period)
    rows = [*sorted(DISTRICTS.values()), NOT_GIVEN]
    cols = _weeks(period)
    pairs = [(_district_name(r.home_district), _week_of(r.created_at)) for r in regs]
    return rows, cols, _crosstab(pairs, rows, cols)


def _reg_field(
    field: str, words: dict[str, str], codes: Sequence[str]
) -> Callable[[Services, Period], tuple[list[str], list[str], list[list[int]]]]:
    def build(services: Services, period: Period) -> tuple[list[str], list[str], list[list[int]]]:
        values = [
            labels.word(words, getattr(r, field), NOT_GIVEN)
            for r in _registrations(services, period)
        ]
        return _one_way(values, [words[c] for c in codes] + [NOT_GIVEN])

    return build


def registrations_entry(
    services: Services, period: Period
) -> tuple[list[str], list[str], list[list[int]]]:
    def post(code: str | None) -> str:
        found = BORDER_POSTS.get(code or "")
        return found.name if found else NOT_GIVEN

    values = [post(r.entry_point) for r in _registrations(services, period)]
    return _one_way(values, [p.name for p in BORDER_POSTS.values()] + [NOT_GIVEN])


def registrations_needs(services: Services, period: Period, k: int) -> ProtectedTable:
    """Needs of the returnees who registered in the period: the row totals of the referral
    outcomes table, as it was protected (`referrals_table`). Its rows add up to the same
    counts, so a needs figure protected by itself would let one page's shown total give away
    the need the other hides. A need counts once per registration, named on USSD or referred by
    a case worker."""
    table = referrals_table(services, period, k)
    return replace(
        table,
        col_labels=("Count",),
        cells=tuple((total,) for total in table.row_totals),
        col_totals=(table.total,),
    )


def sms_by_day(services: Services, period: Period) -> tuple[list[str], list[str], list[list[int]]]:
    cols = ["Sent", "Delivered", "Failed", "Rerouted"]
    with services.uow() as uow:
        rows_db = uow.session.execute(
            select(
                OutboundSms.created_at,
                OutboundSms.status,
                OutboundSms.report_id,
                OutboundSms.partner_code,
                OutboundSms.id,
            )
            .where(
                OutboundSms.purpose == "alert",
                OutboundSms.created_at >= period.since,
                OutboundSms.created_at < period.until,
            )
            .order_by(OutboundSms.id)
        ).all()
    seen: set[tuple[int | None, str | None]] = set()
    pairs: list[tuple[str, str]] = []
    for created, status, report_id, partner, _ in rows_db:
        day = created.strftime("%Y-%m-%d")
        if status in ("sent", "delivered"):
            pairs.append((day, "Sent"))
        if status == "delivered":
            pairs.append((day, "Delivered"))
        if status == "failed":
            pairs.append((day, "Failed"))
        if (report_id, partner) in seen:
            pairs.append((day, "Rerouted"))
        seen.add((report_id, partner))
    days = sorted({d for d, _ in pairs})
    return days, cols, _crosstab(pairs, days, cols)


FLOWS = ("Registration", "Report", "Check a reference", "Menus and other")
SESSION_COLUMNS = ["Completed", "Abandoned"]
# The menu's languages, in the menu's order, by name; a session with none recorded is either
# older than the column or ended before the caller chose a language.
LANGUAGE_NAMES = {"st": "Sesotho", "en": "English"}
NO_LANGUAGE = "Not chosen"  # under the heading "Language"


def _flow(screen: str | None) -> str:
    """The flow a session ended in, from its last screen's id (the flows' prefixes)."""
    screen = screen or ""
    if screen.startswith("reg"):
        return "Registration"
    if screen.startswith("report"):
        return "Report"
    if screen.startswith("check"):
        return "Check a reference"
    return "Menus and other"


def _session_rows(services: Services, period: Period) -> list[tuple[str, str | None, str | None]]:
    """(status, last screen, language) of every session that ended in the period."""
    with services.uow() as uow:
        return [
            (status, screen, lang)
            for status, screen, lang in uow.session.execute(
                select(
                    UssdSessionEvent.status,
                    UssdSessionEvent.last_screen,
                    UssdSessionEvent.language,
                ).where(
                    UssdSessionEvent.received_at >= period.since,
                    UssdSessionEvent.received_at < period.until,
                )
            ).all()
        ]


def _ending(status: str) -> str:
    return "Completed" if status.lower() == "success" else "Abandoned"


def language_name(code: str | None) -> str:
    if code is None:
        return NO_LANGUAGE
    return LANGUAGE_NAMES.get(code, code)


def _language_columns(sessions: Sequence[tuple[str, str | None, str | None]]) -> list[str]:
    cols = [*LANGUAGE_NAMES.values()]
    cols += sorted({language_name(lang) for *_, lang in sessions} - {*cols, NO_LANGUAGE})
    cols.append(NO_LANGUAGE)
    return cols


def sessions_table(services: Services, period: Period, k: int) -> ProtectedTable:
    """Every USSD session that ended in the period, in the one protected table that both the
    sessions figure and the drop-off map show.

    Rows: per flow, its completed sessions, then one row per screen its sessions ended on
    without completing; columns: languages. Each flow's screen rows are a group, whose subtotal
    is the figure's "Flow: abandoned" row, and all screen rows another (`ABANDONED_ALL`, the
    map's total). Protected as one system, no screen the map hides can be worked out from the
    figure's subtotals, nor a subtotal the figure hides from the map's screens, nor one
    language's map from another's and the all-languages map.
    """
    sessions = _session_rows(services, period)
    cols = _language_columns(sessions)
    ended: list[tuple[str, str]] = []  # (row label, column)
    screens: dict[str, set[str]] = {flow: set() for flow in FLOWS}
    for status, label, lang in sessions:
        screen = screen_for_label(label)
        flow = _flow(screen)
        if _ending(status) == "Completed":
            ended.append((f"{flow}: completed", language_name(lang)))
        else:
            screens[flow].add(screen)
            ended.append((screen, language_name(lang)))
    rows: list[str] = []
    groups: list[tuple[str, list[int]]] = []
    for flow in FLOWS:
        rows.append(f"{flow}: completed")
        first = len(rows)
        rows += sorted(screens[flow])
        groups.append((f"{flow}: abandoned", list(range(first, len(rows)))))
    groups.append((ABANDONED_ALL, [r for _, members in groups for r in members]))
    return protect(_crosstab(ended, rows, cols), k, rows, cols, groups)


def sessions_by_flow(services: Services, period: Period, k: int) -> ProtectedTable:
    """Completed and abandoned sessions per flow (rows "Report: abandoned", ...) and language
    (columns), as `sessions_table` protected them: its completed rows and its flows' subtotals,
    with the same column and grand totals."""
    table = sessions_table(services, period, k)
    labels: list[str] = []
    cells: list[tuple[int | None, ...]] = []
    totals: list[int | None] = []
    for flow in FLOWS:
        r = table.row_labels.index(f"{flow}: completed")
        group_cells, group_total = table.group(f"{flow}: abandoned")
        labels += [f"{flow}: completed", f"{flow}: abandoned"]
        cells += [table.cells[r], group_cells]
        totals += [table.row_totals[r], group_total]
    return replace(
        table,
        row_labels=tuple(labels),
        cells=tuple(cells),
        row_totals=tuple(totals),
        group_labels=(),
        group_rows=(),
        group_cells=(),
        group_totals=(),
    )


# A referral's status as the statistics name it; "none" is a need named but not referred yet.
REFERRAL_WORDS = {
    "none": "Not referred yet",
    "referred": "Referred, no answer yet",
    "accepted": "Accepted",
    "delivered": "Service delivered",
    "declined": "Declined",
    "unreachable": "Could not reach",
}


def referrals_table(services: Services, period: Period, k: int) -> ProtectedTable:
    """The referral outcomes per need, protected once for both pages that show them (this
    figure and, through its row totals, the needs figure)."""
    rows, cols, counts = registrations_referrals(services, period)
    return protect(counts, k, rows, cols)


def registrations_referrals(
    services: Services, period: Period
) -> tuple[list[str], list[str], list[list[int]]]:
    """Every need named by a returnee who registered in the period, by where its referral has
    got to now (`returnees.referrals`: referred, accepted, delivered, declined, unreachable),
    or "not referred yet"."""
    with services.uow() as uow:
        regs = uow.session.execute(
            select(Registration.id, Registration.needs).where(
                Registration.created_at >= period.since,
                Registration.created_at < period.until,
            )
        ).all()
        status = {
            (reg_id, need): st
            for reg_id, need, st in uow.session.execute(
                select(Referral.registration_id, Referral.need, Referral.status)
                .join(Registration, Registration.id == Referral.registration_id)
                .where(
                    Registration.created_at >= period.since,
                    Registration.created_at < period.until,
                )
            ).all()
        }
    pairs = []
    for reg_id, needs in regs:
        named = set(needs or []) | {need for (rid, need) in status if rid == reg_id}
        for need in sorted(named):
            word = REFERRAL_WORDS[status.get((reg_id, need), "none")]
            pairs.append((labels.NEED_SHORT.get(need, need), word))
    rows = [labels.NEED_SHORT[n] for n in NEEDS]
    rows += sorted({r for r, _ in pairs} - set(rows))
    cols = list(REFERRAL_WORDS.values())
    return rows, cols, _crosstab(pairs, rows, cols)


SPECS: dict[str, Spec] = {
    "reports-by-month": Spec(
        "Trafficking reports per month, by district",
        "trafficking reports",
        K_TRAFFICKING,
        "District",
        "Month",
        reports_by_month,
        merge_columns=True,
    ),
    "reports-by-post": Spec(
        "Trafficking reports by border post and priority",
        "trafficking reports",
        K_TRAFFICKING,
        "Border post",
        "Priority",
        reports_by_post,
    ),
    "reports-child": Spec(
        "Reports where a child was involved",
        "trafficking reports",
        K_TRAFFICKING,
        "Child involved",
        "",
        reports_child,
    ),
    "reports-flags": Spec(
        "Red flags seen (a report may name several)",
        "trafficking reports",
        K_TRAFFICKING,
        "Red flag",
        "",
        reports_flags,
    ),
    "reports-incomplete": Spec(
        "Urgent reports left incomplete (abandoned sessions), by priority",
        "trafficking reports",
        K_TRAFFICKING,
        "Priority",
        "",
        None,
        protected=incomplete_table,
    ),
    "reports-escalations": Spec(
        "Escalations: urgent reports not taken in time, by priority and what happened since",
        "trafficking reports",
        K_TRAFFICKING,
        "Priority",
        "Since the escalation",
        reports_escalations,
    ),
    "registrations-by-week": Spec(
        "Registrations per week, by home district",
        "registrations",
        K_REGISTRATIONS,
        "Home district",
        "Week",
        registrations_by_week,
        merge_columns=True,
    ),
    "registrations-came-from": Spec(
        "Where returnees came from",
        "registrations",
        K_REGISTRATIONS,
        "Came from",
        "",
        _reg_field("came_from", labels.CAME_FROM_WORDS, CAME_FROM),
    ),
    "registrations-staying": Spec(
        "Staying or visiting",
        "registrations",
        K_REGISTRATIONS,
        "Intention",
        "",
        _reg_field("stay_intent", labels.STAY_WORDS, STAY_INTENT),
    ),
    "registrations-border-post": Spec(
        "Border post crossed",
        "registrations",
        K_REGISTRATIONS,
        "Border post",
        "",
        registrations_entry,
    ),
    "registrations-documents": Spec(
        "Travel document status",
        "registrations",
        K_REGISTRATIONS,
        "Document",
        "",
        _reg_field("travel_document", labels.DOCUMENT_WORDS, TRAVEL_DOCUMENT),
    ),
    "registrations-needs": Spec(
        "Needs (a returnee may name several)",
        "registrations",
        K_REGISTRATIONS,
        "Need",
        "",
        None,
        protected=registrations_needs,
    ),
    "registrations-referrals": Spec(
        "Referral outcomes per need (where each referral has got to)",
        "needs of registrations",
        K_REGISTRATIONS,
        "Need",
        "Outcome",
        None,
        protected=referrals_table,
    ),
    "sms-alerts": Spec(
        "SMS alerts per day: sent, delivered, failed, rerouted",
        "alerts about trafficking reports",
        K_TRAFFICKING,
        "Day",
        "",
        sms_by_day,
    ),
    "ussd-sessions": Spec(
        "USSD sessions completed and abandoned, by flow and language",
        "USSD sessions",
        K_REGISTRATIONS,
        "Flow: how it ended",
        "Language",
        None,
        protected=sessions_by_flow,
    ),
}


def merge_small_columns(
    cols: list[str], counts: list[list[int]], k: int
) -> tuple[list[str], list[list[int]]]:
    """Merge neighbouring period columns until each holds at least k records (or none).

    An empty period stays as it is (0 tells nothing); a period with 1..k-1 records is joined to
    the next one (the last to the previous), named by its first and last period.
    """
    groups: list[list[int]] = []  # column indexes
    current: list[int] = []
    for i in range(len(cols)):
        current.append(i)
        total = sum(row[j] for row in counts for j in current)
        if total == 0 or total >= k:
            groups.append(current)
            current = []
    if current:
        if groups and sum(row[j] for row in counts for j in current) > 0:
            groups[-1].extend(current)
        else:
            groups.append(current)
    names = [cols[g[0]] if len(g) == 1 else f"{cols[g[0]]} to {cols[g[-1]]}" for g in groups]
    merged = [[sum(row[j] for j in g) for g in groups] for row in counts]
    return names, merged


def k_for(services: Services, declared: int) -> int:
    """The k a figure is protected with: a figure declares its kind by the default k of it
    (`K_TRAFFICKING` for anything derived from trafficking reports, `K_REGISTRATIONS` for
    registrations and sessions), and the settings decide the value (STATS_K_REPORTS,
    STATS_K_REGISTRATIONS; README "Configuration")."""
    if declared == K_TRAFFICKING:
        return services.settings.stats_k_reports
    if declared == K_REGISTRATIONS:
        return services.settings.stats_k_registrations
    return declared


def build(services: Services, key: str, period: Period) -> Figure:
    """The protected figure `key` for `period` (KeyError for an unknown key)."""
    spec = SPECS[key]
    k = k_for(services, spec.k)
    if spec.protected is not None:
        table = spec.protected(services, period, k)
        return Figure(key, spec.title, spec.about, spec.row_title, spec.col_title, table)
    if spec.build is None:
        raise ValueError(f"figure {key!r} has neither a table nor a protected table")
    rows, cols, counts = spec.build(services, period)
    if spec.merge_columns and cols:
        cols, counts = merge_small_columns(cols, counts, k)
    if not rows or not cols:
        rows, cols, counts = ["No data"], cols or ["Count"], [[0] * max(1, len(cols))]
    table = protect(counts, k, rows, cols)
    return Figure(key, spec.title, spec.about, spec.row_title, spec.col_title, table)


# -- times: how long something took, per group -------------------------------------------------


@dataclass(frozen=True)
class TimesFigure:
    """Median and 90th percentile of a duration per group, with the groups' sizes.

    `table` holds the sizes (and, where it means something, those not there yet), protected
    like any count table; a group's times are given only when `table` shows its size.
    """

    key: str
    title: str
    about: str
    row_title: str
    note: str  # what is measured, from when to when, in plain words
    table: ProtectedTable
    times: tuple[Durations, ...]  # one per row of `table`; hours

    @property
    def k(self) -> int:
        return self.table.k


@dataclass(frozen=True)
class TimesSpec:
    title: str
    about: str
    k: int
    row_title: str
    note: str
    count_cols: tuple[str, ...]  # the first column is the group whose times are measured
    build: Callable[[Services, Period], list[tuple[str, list[float], list[int]]]]


def _hours(start: dt.datetime, end: dt.datetime) -> float:
    return max(0.0, (end - start).total_seconds() / 3600)


def registration_times(
    services: Services, period: Period
) -> list[tuple[str, list[float], list[int]]]:
    """Returnees who registered in the period: hours to first contact and to the first service
    delivered, with how many have not got there yet.

    First contact is the first time a partner took the registration (the case event
    `acknowledged`, which moves it from "new" to "contacted": the partner is in touch). Service
    delivered is the first referral of any of the person's needs marked delivered
    (`Referral.ended_at`)."""
    with services.uow() as uow:
        created = dict(
            uow.session.execute(
                select(Registration.id, Registration.created_at).where(
                    Registration.created_at >= period.since,
                    Registration.created_at < period.until,
                )
            ).all()
        )
        contact: dict[int, dt.datetime] = {}
        for reg_id, at in uow.session.execute(
            select(CaseEvent.registration_id, CaseEvent.created_at)
            .join(Registration, Registration.id == CaseEvent.registration_id)
            .where(
                CaseEvent.action == "acknowledged",
                Registration.created_at >= period.since,
                Registration.created_at < period.until,
            )
        ).all():
            if reg_id is not None and (reg_id not in contact or at < contact[reg_id]):
                contact[reg_id] = at
        delivered: dict[int, dt.datetime] = {}
        for reg_id, ended in uow.session.execute(
            select(Referral.registration_id, Referral.ended_at)
            .join(Registration, Registration.id == Referral.registration_id)
            .where(
                Referral.status == "delivered",
                Registration.created_at >= period.since,
                Registration.created_at < period.until,
            )
        ).all():
            if ended is not None and (reg_id not in delivered or ended < delivered[reg_id]):
                delivered[reg_id] = ended
    out = []
    for label, reached in (("First contact", contact), ("First service delivered", delivered)):
        hours = [_hours(created[i], at) for i, at in reached.items() if i in created]
        out.append((label, hours, [len(hours), len(created) - len(hours)]))
    return out


def acknowledgement_times(
    services: Services, period: Period
) -> list[tuple[str, list[float], list[int]]]:
    """Reports made in the period and taken: hours from the report to its acknowledgement,
    per partner that holds it and priority."""
    from ussd_app.partners.models import Partner

    with services.uow() as uow:
        rows_db = uow.session.execute(
            select(
                TraffickingReport.holder_partner_code,
                TraffickingReport.priority,
                TraffickingReport.created_at,
                TraffickingReport.acknowledged_at,
            ).where(
                TraffickingReport.created_at >= period.since,
                TraffickingReport.created_at < period.until,
                TraffickingReport.acknowledged_at.is_not(None),
            )
        ).all()
        names = dict(uow.session.execute(select(Partner.code, Partner.name)).all())
    groups: dict[str, list[float]] = {}
    for code, priority, created, acked in rows_db:
        if acked is None:
            continue
        label = f"{names.get(code or '', 'Unknown')}, {priority}"
        groups.setdefault(label, []).append(_hours(created, acked))
    return [(label, hours, [len(hours)]) for label, hours in sorted(groups.items())]


TIME_SPECS: dict[str, TimesSpec] = {
    "registrations-times": TimesSpec(
        "Time from registration to first contact and to service delivered",
        "registrations",
        K_REGISTRATIONS,
        "Step",
        "For returnees who registered in the period. First contact: the first time a partner "
        "took the registration (it moves from new to contacted: the partner is in touch). "
        "Service delivered: the first of the person's referrals marked service delivered. "
        "Not yet: registered in the period but not at that step today.",
        ("Reached", "Not yet"),
        registration_times,
    ),
    "reports-ack-times": TimesSpec(
        "Time to acknowledgement per partner and priority",
        "trafficking reports",
        K_TRAFFICKING,
        "Partner, priority",
        "For reports made in the period that a partner has taken: from the report to the "
        "partner's acknowledgement (by SMS or on the desk).",
        ("Acknowledged",),
        acknowledgement_times,
    ),
}


def build_times(services: Services, key: str, period: Period) -> TimesFigure:
    """The protected times figure `key` for `period` (KeyError for an unknown key)."""
    spec = TIME_SPECS[key]
    k = k_for(services, spec.k)
    groups = spec.build(services, period)
    if not groups:
        groups = [("No data", [], [0] * len(spec.count_cols))]
    labels_ = [label for label, _, _ in groups]
    if len(spec.count_cols) == 1:
        # The groups split one set (reports taken): protected together, as one column.
        table = protect([counts for _, _, counts in groups], k, labels_, spec.count_cols)
    else:
        # Each row splits the same cohort (reached, not yet): a one-way table of its own, so
        # no meaningless column total ("reached contact + reached service") hides more.
        table = _rowwise(groups, spec, k)
    times = tuple(durations(hours, table.cells[r][0]) for r, (_, hours, _) in enumerate(groups))
    return TimesFigure(key, spec.title, spec.about, spec.row_title, spec.note, table, times)


def _rowwise(
    groups: list[tuple[str, list[float], list[int]]], spec: TimesSpec, k: int
) -> ProtectedTable:
    """Protect each row as its own one-way table and put them side by side (no column totals:
    the page shows none)."""
    cells, totals = [], []
    for _, _, counts in groups:
        one = protect([[v] for v in counts], k, None, ["count"])
        cells.append(tuple(row[0] for row in one.cells))
        totals.append(one.total)
    return ProtectedTable(
        row_labels=tuple(label for label, _, _ in groups),
        col_labels=spec.count_cols,
        cells=tuple(cells),
        row_totals=tuple(totals),
        col_totals=tuple(None for _ in spec.count_cols),
        total=None,
        k=k,
    )


def format_hours(hours: float | None) -> str:
    """A duration as staff read it: minutes under an hour, hours under two days, else days."""
    if hours is None:
        return ""
    if hours < 1:
        return f"{round(hours * 60)} min"
    if hours < 48:
        return f"{hours:.1f} hours"
    return f"{hours / 24:.1f} days"


# -- the 90-day follow-up check-in (issue 10, item 6) -------------------------------------------


def _check_in_rows(services: Services, period: Period) -> list[tuple[object, ...]]:
    """(channel, status, one answer per question) of every check-in made in the period."""
    from ussd_app.returnees import checkins

    with services.uow() as uow:
        return [
            tuple(row)
            for row in uow.session.execute(
                select(
                    checkins.CheckIn.channel,
                    checkins.CheckIn.status,
                    *(getattr(checkins.CheckIn, q) for q in checkins.QUESTIONS),
                ).where(
                    checkins.CheckIn.created_at >= period.since,
                    checkins.CheckIn.created_at < period.until,
                )
            ).all()
        ]


CHECK_IN_HOW = {"sms": "Asked by SMS", "desk": "Asked on a call (desk)"}


def registrations_check_ins(
    services: Services, period: Period
) -> tuple[list[str], list[str], list[list[int]]]:
    """The 90-day check-ins made in the period, by how they were asked and how they went."""
    from ussd_app.returnees import checkins

    cols = ["Answered", "No reply yet", "Stopped (STOP)"]
    status_of = dict(
        zip(checkins.STATUSES, ["No reply yet", "Answered", "Stopped (STOP)"], strict=True)
    )
    rows = list(CHECK_IN_HOW.values())
    pairs = [
        (CHECK_IN_HOW[str(r[0])], status_of[str(r[1])])
        for r in _check_in_rows(services, period)
        if r[0] in CHECK_IN_HOW
    ]
    return rows, cols, _crosstab(pairs, rows, cols)


def registrations_check_in_answers(
    services: Services, period: Period
) -> tuple[list[str], list[str], list[list[int]]]:
    """Of the check-ins answered, each question's answers (one row per question)."""
    from ussd_app.returnees import checkins

    cols = [checkins.ANSWER_WORDS[a] for a in (*checkins.ANSWERS, None)]
    rows = [checkins.QUESTION_WORDS[q] for q in checkins.QUESTIONS]
    pairs = [
        (checkins.QUESTION_WORDS[q], checkins.ANSWER_WORDS[r[2 + i]])  # type: ignore[index]
        for r in _check_in_rows(services, period)
        if r[1] == checkins.CheckInStatus.ANSWERED.value
        for i, q in enumerate(checkins.QUESTIONS)
    ]
    return rows, cols, _crosstab(pairs, rows, cols)


def check_in_answers_table(services: Services, period: Period, k: int) -> ProtectedTable:
    """The answers table, protected consistently with the check-ins figure: each question's
    row total (and so the grand total) is the number of check-ins answered, which that figure
    shows as its "Answered" total: never hidden here when it shows it (the complements come
    from the answers), hidden here when it hides it."""
    rows, cols, counts = registrations_check_in_answers(services, period)
    check_ins = build(services, "registrations-check-ins", period).table
    answered = check_ins.col_totals[check_ins.col_labels.index("Answered")]
    elsewhere: dict[tuple[int, int], int | None] = {
        (r, len(cols)): answered for r in range(len(rows))
    }
    elsewhere[(len(rows), len(cols))] = None if answered is None else answered * len(rows)
    return protect(counts, k, rows, cols, elsewhere=elsewhere)


SPECS["registrations-check-ins"] = Spec(
    "90-day check-ins: how they were asked and how they went",
    "check-ins of registrations",
    K_REGISTRATIONS,
    "Asked",
    "How it went",
    registrations_check_ins,
)
SPECS["registrations-check-in-answers"] = Spec(
    "90-day check-ins answered: the answers",
    "check-ins of registrations",
    K_REGISTRATIONS,
    "Question",
    "Answer",
    None,
    protected=check_in_answers_table,
)
