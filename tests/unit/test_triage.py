"""Triage rules (domain-lesotho.md 2.3), case by case and by property."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ussd_app import codes as reference
from ussd_app.reports.triage import compute_priority

PLACES = (*reference.BORDER_POSTS, *reference.DISTRICTS, reference.PLACE_OTHER)


def prio(
    danger: str | None = "no",
    child: str | None = "no",
    flags: tuple[str, ...] = (),
    when: str | None = "earlier",
    place: str | None = "other",
) -> str:
    return compute_priority(danger, child, flags, when, place)


# --- P1 -----------------------------------------------------------------------------------------


@pytest.mark.parametrize("when", [*reference.WHEN_SEEN, None])
def test_danger_now_is_p1_whatever_else(when: str | None) -> None:
    assert prio(danger="yes", when=when, place=None) == "P1"


@pytest.mark.parametrize("when", ["now", "today"])
def test_child_seen_now_or_today_is_p1(when: str) -> None:
    assert prio(child="yes", when=when) == "P1"


def test_hurt_flag_seen_now_is_p1() -> None:
    assert prio(flags=("F1", "F8"), when="now") == "P1"


@pytest.mark.parametrize("when", ["today", "this_week", "earlier"])
def test_hurt_flag_not_now_is_not_p1(when: str) -> None:
    assert prio(flags=("F8",), when=when, place="other") == "P3"


# --- P2 -----------------------------------------------------------------------------------------


@pytest.mark.parametrize("when", ["now", "today", "this_week"])
@pytest.mark.parametrize("place", ["maseru_bridge", "LS-A", "informal"])
def test_recent_with_a_place_is_p2(when: str, place: str) -> None:
    assert prio(when=when, place=place) == "P2"


@pytest.mark.parametrize("place", ["other", None, ""])
def test_recent_without_a_usable_place_is_p3(place: str | None) -> None:
    assert prio(when="today", place=place) == "P3"


def test_earlier_with_a_place_is_p3() -> None:
    assert prio(when="earlier", place="maseru_bridge") == "P3"


@pytest.mark.parametrize("when", [*reference.WHEN_SEEN, None])
def test_child_unsure_is_p2(when: str | None) -> None:
    assert prio(child="unsure", when=when) == "P2"


@pytest.mark.parametrize("when", ["this_week", "earlier", None])
def test_child_yes_not_recent_is_p2(when: str | None) -> None:
    assert prio(child="yes", when=when) == "P2"


# --- P3 -----------------------------------------------------------------------------------------


def test_past_general_suspicion_is_p3() -> None:
    assert prio(flags=("F5",), when="earlier", place="other") == "P3"


def test_nothing_answered_is_p3() -> None:
    assert compute_priority(None, None, [], None, None) == "P3"


# --- properties ---------------------------------------------------------------------------------

answers = st.fixed_dictionaries(
    {
        "danger_now": st.sampled_from([*reference.YES_NO, None]),
        "child_involved": st.sampled_from([*reference.CHILD_INVOLVED, None]),
        "flags": st.lists(st.sampled_from(sorted(reference.RED_FLAGS)), unique=True),
        "when_seen": st.sampled_from([*reference.WHEN_SEEN, None]),
        "place": st.sampled_from([*PLACES, None]),
    }
)
RANK = {"P1": 1, "P2": 2, "P3": 3}


@given(answers)
def test_priority_is_always_one_of_three(a: dict[str, object]) -> None:
    assert compute_priority(**a) in reference.PRIORITIES  # type: ignore[arg-type]


@given(answers)
def test_danger_now_yes_is_always_p1(a: dict[str, object]) -> None:
    a = {**a, "danger_now": "yes"}
    assert compute_priority(**a) == "P1"  # type: ignore[arg-type]


@given(answers, st.sampled_from(sorted(reference.RED_FLAGS)))
def test_adding_a_red_flag_never_lowers_priority(a: dict[str, object], flag: str) -> None:
    before = compute_priority(**a)  # type: ignore[arg-type]
    more = {**a, "flags": [*a["flags"], flag]}  # type: ignore[misc]
    assert RANK[compute_priority(**more)] <= RANK[before]  # type: ignore[arg-type]


def test_a_recent_sighting_with_only_a_vehicle_is_p2() -> None:
    assert compute_priority("no", "no", ["F4"], "today", "other", vehicle_given=True) == "P2"


def test_an_old_sighting_with_a_vehicle_stays_p3() -> None:
    assert compute_priority("no", "no", ["F4"], "earlier", "other", vehicle_given=True) == "P3"


def test_a_recent_sighting_somewhere_else_without_a_vehicle_is_p3() -> None:
    assert compute_priority("no", "no", ["F4"], "today", "other") == "P3"
