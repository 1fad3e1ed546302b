"""The de-identified case-level export of trafficking reports, in Human Trafficking Case Data
Standard field names (HTCDS, IOM: github.com/UNMigration/HTCDS) where ours map (issue 11, item 6).

One row per report, and only codes: never the reference, a phone number, the vehicle, an SMS
report's words, the language or the exact date. Columns HTCDS has no field for carry our own
`lso_` prefix. The four quasi-identifiers (where, when, priority, child involved) are made
k-anonymous with k = 11 (`K_TRAFFICKING`): every combination in the output occurs at least 11
times. First generalised, in this order, only where a group is too small:

1. month -> quarter, 2. quarter -> year (the registration period);
3. border post -> its district, 4. district -> "Lesotho" (the location);
5. P1/P2/P3 -> "urgent" (P1, P2) / "not urgent" (P3).

A step recodes a whole parent group at once (every report of that place, priority and child
answer in the quarter, not only those of the small month), so a small group is merged with its
larger neighbours rather than left on its own. Then any report whose combination is still under
k is dropped.
Row numbers are local to one export, in a shuffled order: they cannot be joined to anything.

Everything but `load_rows` is a pure function over plain rows, for the property tests.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import random
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from sqlalchemy import select

from ussd_app.codes import BORDER_POSTS, DISTRICTS, PERSONS_COUNT, RED_FLAGS
from ussd_app.container import Services
from ussd_app.reports.models import TraffickingReport
from ussd_app.stats.disclosure import K_TRAFFICKING

COUNTRY = "Lesotho"
COUNTRY_ISO = "LS"  # HTCDS: "Use ISO 3166 country codes standard"

# Our red flags -> the nearest HTCDS picklist values (value names as the standard spells them).
# vic_MethodsOfControl: how exploiters control a person; vic_MethodOfRecruitment: how they were
# drawn in. F3, F4, F7 and F9 have no HTCDS counterpart: they go to lso_OtherRedFlags.
METHODS_OF_CONTROL: dict[str, tuple[str, ...]] = {
    "F1": ("RestrictsMovement",),  # scared, not let to speak: accompanied and monitored
    "F2": ("WithholdsDocuments",),  # someone else holds their ID or phone
    "F5": ("FalsePromises",),  # a job or school offer too good to be true, trip paid
    "F8": ("PhysicalAbuse", "PsychoactiveSubstances"),  # hurt, drugged or confused
}
METHOD_OF_RECRUITMENT: dict[str, tuple[str, ...]] = {
    "F5": ("Job offer/advertisement",),
    "F6": (
        "Internet (social media, online advertisement)",
        "Intimate partner/marriage proposition",
    ),
}
UNMAPPED_FLAGS = tuple(
    f for f in RED_FLAGS if f not in METHODS_OF_CONTROL and f not in METHOD_OF_RECRUITMENT
)

CHILD_WORDS = {"yes": "Yes", "no": "No", "unsure": "Unsure", None: "Not answered"}
PERSONS_WORDS = {"1": "1", "2_5": "2-5", "6p": "6+", "unsure": "Unsure", None: "Not answered"}
assert set(PERSONS_WORDS) - {None} == set(PERSONS_COUNT)
URGENCY = {"P1": "urgent", "P2": "urgent", "P3": "not urgent"}
CASE_STATUS = {"received": "Active", "sent": "Active", "acknowledged": "Active", "closed": "Closed"}

COLUMNS = (
    "lso_ExportRowNumber",  # random order, this export only: HTCDS has no case id field
    "lso_RegistrationYear",
    "lso_RegistrationPeriod",  # YYYY-MM, YYYY-Qn or YYYY after generalisation
    "hte_Type",  # trafficking event type: what a taxi driver or monitor sees is Transit
    "hte_Country",
    "hte_State",  # the district (state/province portion), empty when only the country is left
    "lso_Location",  # border post, district or "Lesotho": the location quasi-identifier
    "lso_ChildInvolved",
    "lso_PersonsCount",
    "lso_Priority",  # P1/P2/P3, or urgent/not urgent after generalisation
    "cas_Status",
    "vic_MethodsOfControl",  # multiselect, ";"-separated
    "vic_MethodOfRecruitment",
    "lso_OtherRedFlags",  # our codes F3, F4, F7, F9
)
QUASI_IDENTIFIERS = ("lso_Location", "lso_RegistrationPeriod", "lso_Priority", "lso_ChildInvolved")

# The generalisation steps, in the order they are tried: (dimension, level it raises to).
PERIOD, PLACE, PRIORITY = "period", "place", "priority"
STEPS: tuple[tuple[str, int], ...] = (
    (PERIOD, 1),  # month -> quarter
    (PERIOD, 2),  # quarter -> year
    (PLACE, 1),  # border post -> district
    (PLACE, 2),  # district -> Lesotho
    (PRIORITY, 1),  # P1/P2/P3 -> urgent / not urgent
)
STEP_NAMES = (
    "month->quarter",
    "quarter->year",
    "post->district",
    "district->Lesotho",
    "priority->urgency",
)


@dataclass(frozen=True)
class ReportRow:
    """The only report columns the export reads."""

    created_at: dt.datetime
    place: str | None
    district: str | None
    priority: str
    child_involved: str | None
    flags: tuple[str, ...] = ()
    persons_count: str | None = None
    status: str = "received"


@dataclass
class Export:
    rows: list[dict[str, str]]
    total: int  # reports read
    generalised: int  # reports whose quasi-identifiers were coarsened by at least one step
    dropped: int  # reports still in a group under k after every step, left out
    k: int
    steps: list[tuple[str, int]] = field(default_factory=list)  # (step name, reports recoded)


def period_value(when: dt.datetime, level: int) -> str:
    if level == 0:
        return f"{when.year}-{when.month:02d}"
    if level == 1:
        return f"{when.year}-Q{(when.month - 1) // 3 + 1}"
    return str(when.year)


def _district(row: ReportRow) -> str | None:
    if row.place in DISTRICTS:
        return row.place
    post = BORDER_POSTS.get(row.place or "")
    if post is not None:
        return post.district
    return row.district if row.district in DISTRICTS else None


def place_value(row: ReportRow, level: int) -> str:
    post = BORDER_POSTS.get(row.place or "")
    if level == 0 and post is not None:
        return post.name
    district = _district(row)
    if level <= 1 and district is not None:
        return DISTRICTS[district]
    return COUNTRY


def priority_value(priority: str, level: int) -> str:
    return priority if level == 0 else URGENCY.get(priority, "not urgent")


Key = tuple[str, str, str, str]


def _key(row: ReportRow, levels: dict[str, int]) -> Key:
    return (
        place_value(row, levels[PLACE]),
        period_value(row.created_at, levels[PERIOD]),
        priority_value(row.priority, levels[PRIORITY]),
        CHILD_WORDS.get(row.child_involved, "Not answered"),
    )


def generalise(
    rows: Sequence[ReportRow], k: int = K_TRAFFICKING
) -> tuple[list[dict[str, int]], list[tuple[str, int]]]:
    """Each row's generalisation levels after the steps, and how many rows each step recoded.

    At each step the groups under k are found; every row whose combination, with this step
    applied, falls in the same parent group as a small group's rows is recoded to it."""
    levels = [{PERIOD: 0, PLACE: 0, PRIORITY: 0} for _ in rows]
    trace: list[tuple[str, int]] = []
    for (dim, level), name in zip(STEPS, STEP_NAMES, strict=True):
        counts = Counter(_key(r, lv) for r, lv in zip(rows, levels, strict=True))
        # (row, its key now, its key with this step) for the rows the step would change
        moves = [
            (lv, now, after)
            for r, lv in zip(rows, levels, strict=True)
            if lv[dim] < level and (now := _key(r, lv)) != (after := _key(r, {**lv, dim: level}))
        ]
        targets = {after for _, now, after in moves if counts[now] < k}
        recoded = 0
        for lv, _, after in moves:
            if after in targets:
                lv[dim] = level
                recoded += 1
        trace.append((name, recoded))
    return levels, trace


def _join(values: Iterable[str]) -> str:
    return ";".join(dict.fromkeys(values))


def _row(row: ReportRow, levels: dict[str, int]) -> dict[str, str]:
    place, period, priority, child = _key(row, levels)
    district = _district(row)
    flags = sorted(set(row.flags))
    return {
        "lso_ExportRowNumber": "",
        "lso_RegistrationYear": str(row.created_at.year),
        "lso_RegistrationPeriod": period,
        "hte_Type": "Transit",
        "hte_Country": COUNTRY_ISO,
        "hte_State": DISTRICTS[district] if district and place != COUNTRY else "",
        "lso_Location": place,
        "lso_ChildInvolved": child,
        "lso_PersonsCount": PERSONS_WORDS.get(row.persons_count, "Not answered"),
        "lso_Priority": priority,
        "cas_Status": CASE_STATUS.get(row.status, "Active"),
        "vic_MethodsOfControl": _join(v for f in flags for v in METHODS_OF_CONTROL.get(f, ())),
        "vic_MethodOfRecruitment": _join(
            v for f in flags for v in METHOD_OF_RECRUITMENT.get(f, ())
        ),
        "lso_OtherRedFlags": _join(f for f in flags if f in UNMAPPED_FLAGS),
    }


def build(
    rows: Sequence[ReportRow], k: int = K_TRAFFICKING, rng: random.Random | None = None
) -> Export:
    """The export: generalised, then suppressed, then shuffled and numbered."""
    levels, trace = generalise(rows, k)
    keys = [_key(r, lv) for r, lv in zip(rows, levels, strict=True)]
    counts = Counter(keys)
    kept = [_row(r, lv) for r, lv, key in zip(rows, levels, keys, strict=True) if counts[key] >= k]
    (rng or random.SystemRandom()).shuffle(kept)
    for number, out in enumerate(kept, start=1):
        out["lso_ExportRowNumber"] = str(number)
    finest = {PERIOD: 0, PLACE: 0, PRIORITY: 0}
    generalised = sum(_key(r, lv) != _key(r, finest) for r, lv in zip(rows, levels, strict=True))
    return Export(
        rows=kept,
        total=len(rows),
        generalised=generalised,
        dropped=len(rows) - len(kept),
        k=k,
        steps=trace,
    )


def to_csv(export: Export) -> str:
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=COLUMNS, lineterminator="\r\n")
    writer.writeheader()
    writer.writerows(export.rows)
    return out.getvalue()


def load_rows(services: Services, since: dt.datetime, until: dt.datetime) -> list[ReportRow]:
    """The reports created in [since, until), reading only the columns the export uses."""
    r = TraffickingReport
    with services.uow() as uow:
        result = uow.session.execute(
            select(
                r.created_at,
                r.place,
                r.district,
                r.priority,
                r.child_involved,
                r.flags,
                r.persons_count,
                r.status,
            ).where(r.created_at >= since, r.created_at < until)
        ).all()
    return [
        ReportRow(
            created_at=row.created_at,
            place=row.place,
            district=row.district,
            priority=row.priority,
            child_involved=row.child_involved,
            flags=tuple(row.flags or ()),
            persons_count=row.persons_count,
            status=row.status,
        )
        for row in result
    ]
