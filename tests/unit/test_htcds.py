"""The HTCDS case-level export (`ussd_app.stats.htcds`): for random report sets every
quasi-identifier combination in the output occurs at least k = 11 times (or nothing is
released); no column can hold a reference, phone number, free text or vehicle; generalisation
goes month -> quarter -> year, post -> district -> Lesotho, priority -> urgency, in that order."""

from __future__ import annotations

import dataclasses
import datetime as dt
import random
from collections import Counter

from hypothesis import given, settings
from hypothesis import strategies as st

from ussd_app.codes import BORDER_POSTS, CHILD_INVOLVED, DISTRICTS, PERSONS_COUNT, RED_FLAGS
from ussd_app.reports.models import TraffickingReport
from ussd_app.stats import htcds
from ussd_app.stats.htcds import QUASI_IDENTIFIERS, ReportRow

K = 11
UTC = dt.UTC
PLACES = [*BORDER_POSTS, *DISTRICTS, "other", None]

report_rows = st.builds(
    ReportRow,
    created_at=st.datetimes(
        min_value=dt.datetime(2024, 1, 1),
        max_value=dt.datetime(2025, 12, 31),
        timezones=st.just(UTC),
    ),
    place=st.sampled_from(PLACES),
    district=st.sampled_from([*DISTRICTS, None]),
    priority=st.sampled_from(["P1", "P2", "P3"]),
    child_involved=st.sampled_from([*CHILD_INVOLVED, None]),
    flags=st.lists(st.sampled_from(list(RED_FLAGS)), max_size=4, unique=True).map(tuple),
    persons_count=st.sampled_from([*PERSONS_COUNT, None]),
    status=st.sampled_from(["received", "sent", "acknowledged", "closed"]),
)
# Skewed sets (few places, a short span) as well as spread ones, so both paths are exercised.
busy_rows = st.builds(
    ReportRow,
    created_at=st.datetimes(
        min_value=dt.datetime(2025, 1, 1),
        max_value=dt.datetime(2025, 6, 30),
        timezones=st.just(UTC),
    ),
    place=st.sampled_from(["maseru_bridge", "maputsoe_bridge", "LS-A", "LS-C"]),
    district=st.none(),
    priority=st.sampled_from(["P1", "P2", "P3"]),
    child_involved=st.sampled_from(["yes", "no"]),
)
report_sets = st.lists(report_rows, max_size=400) | st.lists(busy_rows, min_size=50, max_size=400)


def qi_counts(rows: list[dict[str, str]]) -> Counter[tuple[str, ...]]:
    return Counter(tuple(r[q] for q in QUASI_IDENTIFIERS) for r in rows)


@settings(max_examples=150, deadline=None)
@given(report_sets)
def test_every_quasi_identifier_combination_occurs_at_least_k_times(
    rows: list[ReportRow],
) -> None:
    export = htcds.build(rows, K, random.Random(1))
    counts = qi_counts(export.rows)
    assert export.rows == [] or min(counts.values()) >= K
    assert all(c >= K for c in counts.values())
    assert len(export.rows) + export.dropped == len(rows) == export.total
    assert 0 <= export.generalised <= len(rows)
    # Row numbers are 1..n, nothing else: no order or reference leaks through them.
    assert sorted(int(r["lso_ExportRowNumber"]) for r in export.rows) == list(
        range(1, len(export.rows) + 1)
    )
    assert [name for name, _ in export.steps] == list(htcds.STEP_NAMES)


@settings(max_examples=60, deadline=None)
@given(report_sets)
def test_the_csv_has_the_published_columns_and_only_codes(rows: list[ReportRow]) -> None:
    text = htcds.to_csv(htcds.build(rows, K))
    header = text.splitlines()[0].split(",")
    assert tuple(header) == htcds.COLUMNS
    assert "+266" not in text and "RPT-" not in text and "RET-" not in text


def test_no_column_can_hold_a_reference_phone_free_text_or_vehicle() -> None:
    lowered = [c.lower() for c in htcds.COLUMNS]
    for word in ("ref", "phone", "vehicle", "text", "sms", "language", "idempotency", "date"):
        assert not any(word in c for c in lowered), word
    # The only report columns read are codes; the rest of the row is never selected.
    read = {f.name for f in dataclasses.fields(ReportRow)}
    assert read <= set(TraffickingReport.__table__.columns.keys())
    assert not read & {"ref", "vehicle_enc", "sms_text_enc", "idempotency_key", "language"}
    # Every value in a released row comes from a closed list (or a number / period).
    export = htcds.build(
        [ReportRow(dt.datetime(2025, 3, 2, tzinfo=UTC), "maseru_bridge", None, "P1", "yes")] * 11,
        K,
    )
    row = export.rows[0]
    assert row["lso_Location"] == "Maseru Bridge" and row["hte_State"] == "Maseru"
    assert row["hte_Country"] == "LS" and row["lso_RegistrationPeriod"] == "2025-03"


def _rows(n: int, when: dt.datetime, place: str, priority: str = "P1") -> list[ReportRow]:
    return [ReportRow(when, place, None, priority, "no") for _ in range(n)]


JAN = dt.datetime(2025, 1, 10, tzinfo=UTC)
FEB = dt.datetime(2025, 2, 10, tzinfo=UTC)
JUL = dt.datetime(2025, 7, 10, tzinfo=UTC)


def test_large_groups_are_left_as_they_are() -> None:
    export = htcds.build(_rows(11, JAN, "maseru_bridge"), K)
    assert export.generalised == 0 and export.dropped == 0
    assert {r["lso_RegistrationPeriod"] for r in export.rows} == {"2025-01"}
    assert {r["lso_Location"] for r in export.rows} == {"Maseru Bridge"}
    assert {r["lso_Priority"] for r in export.rows} == {"P1"}


def test_the_month_goes_to_quarter_before_the_place_is_touched() -> None:
    export = htcds.build([*_rows(6, JAN, "maseru_bridge"), *_rows(6, FEB, "maseru_bridge")], K)
    assert export.generalised == 12 and export.dropped == 0
    assert {(r["lso_RegistrationPeriod"], r["lso_Location"]) for r in export.rows} == {
        ("2025-Q1", "Maseru Bridge")
    }
    assert export.steps[0] == ("month->quarter", 12)
    assert all(n == 0 for _, n in export.steps[1:])


def test_then_the_year_then_the_district_then_the_country_then_urgency() -> None:
    # Two quarters: the year is enough, the post stays.
    export = htcds.build([*_rows(6, JAN, "maseru_bridge"), *_rows(6, JUL, "maseru_bridge")], K)
    assert {(r["lso_RegistrationPeriod"], r["lso_Location"]) for r in export.rows} == {
        ("2025", "Maseru Bridge")
    }
    # A post and its district, each too small even for a year: the post becomes the district.
    export = htcds.build([*_rows(6, JAN, "airport"), *_rows(6, JUL, "LS-A")], K)
    assert {(r["lso_RegistrationPeriod"], r["lso_Location"]) for r in export.rows} == {
        ("2025", "Maseru")
    }
    # Two districts: only the country is left (and hte_State is empty then).
    export = htcds.build([*_rows(6, JAN, "LS-A"), *_rows(6, JUL, "LS-C")], K)
    assert {(r["lso_Location"], r["hte_State"], r["lso_Priority"]) for r in export.rows} == {
        ("Lesotho", "", "P1")
    }
    # P1 and P2 together are "urgent"; P3 stays apart and, alone and small, is dropped.
    export = htcds.build(
        [*_rows(6, JAN, "LS-A", "P1"), *_rows(6, JUL, "LS-C", "P2"), *_rows(3, JAN, "LS-A", "P3")],
        K,
    )
    assert {r["lso_Priority"] for r in export.rows} == {"urgent"}
    assert export.dropped == 3 and len(export.rows) == 12
    assert [n > 0 for _, n in export.steps] == [True, True, False, True, True]


def test_the_small_group_joins_its_larger_siblings() -> None:
    # 30 in January and 2 in February at one post: the whole quarter is recoded, not only
    # February's 2 (which would stay under k by themselves and be dropped).
    export = htcds.build([*_rows(30, JAN, "maseru_bridge"), *_rows(2, FEB, "maseru_bridge")], K)
    assert export.dropped == 0
    assert {r["lso_RegistrationPeriod"] for r in export.rows} == {"2025-Q1"}


def test_red_flags_map_to_htcds_indicators_or_our_own_column() -> None:
    row = ReportRow(JAN, "LS-A", None, "P1", "yes", flags=("F2", "F3", "F6", "F8"))
    out = htcds.build([row] * 11, K).rows[0]
    assert out["vic_MethodsOfControl"] == "WithholdsDocuments;PhysicalAbuse;PsychoactiveSubstances"
    assert out["vic_MethodOfRecruitment"] == (
        "Internet (social media, online advertisement);Intimate partner/marriage proposition"
    )
    assert out["lso_OtherRedFlags"] == "F3"
    mapped = set(htcds.METHODS_OF_CONTROL) | set(htcds.METHOD_OF_RECRUITMENT)
    assert mapped | set(htcds.UNMAPPED_FLAGS) == set(RED_FLAGS)
