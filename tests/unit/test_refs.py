"""Reference codes: shape, a million unique, the check digit, old codes, what callers type."""

from __future__ import annotations

import itertools
import re
import time

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ussd_app import references as refs

MAKER = refs.ReferenceMaker("unit-test-key")


def test_new_refs_are_a_letter_and_8_digits() -> None:
    assert re.fullmatch(r"T-\d{8}", MAKER.report(1))
    assert re.fullmatch(r"R-\d{8}", MAKER.registration(1))


def test_a_million_references_are_unique_and_valid() -> None:
    started = time.monotonic()
    report = MAKER.report
    made = {report(i) for i in range(1, 1_000_001)}
    assert len(made) == 1_000_000
    assert time.monotonic() - started < 30  # a tight loop, no database, no retry
    sample = list(made)[:2000]
    assert all(refs.normalise_reference(r) == r for r in sample)


def test_the_space_never_runs_out() -> None:
    # Ten million per width, then one digit more: ids past 10**7 still get unique codes.
    edge = [MAKER.report(i) for i in (10**7 - 1, 10**7, 10**7 + 1, 10**8 + 10**7)]
    assert len(set(edge)) == 4
    assert [len(r) for r in edge] == [10, 11, 11, 12]
    assert all(refs.normalise_reference(r) == r for r in edge)


def test_refs_do_not_follow_the_id_and_depend_on_the_key() -> None:
    consecutive = [int(MAKER.report(i)[2:-1]) for i in range(1, 200)]
    steps = {b - a for a, b in itertools.pairwise(consecutive)}
    assert len(steps) > 190  # no stride to walk
    other = refs.ReferenceMaker("another deployment")
    assert sum(MAKER.report(i) == other.report(i) for i in range(1, 1000)) < 3


def test_reports_and_registrations_differ_by_letter_and_check() -> None:
    ref = MAKER.report(42)
    swapped = "R" + ref[1:]
    assert refs.normalise_reference(swapped) is None  # a wrong letter fails the check


@given(st.integers(min_value=0, max_value=10**9))
def test_any_single_wrong_digit_is_rejected(row_id: int) -> None:
    ref = MAKER.report(row_id)
    digits = ref[2:]
    for pos, ch in enumerate(digits):
        for other in "0123456789":
            if other != ch:
                typo = f"T-{digits[:pos]}{other}{digits[pos + 1 :]}"
                assert refs.normalise_reference(typo) is None, typo
                # Digits alone carry no letter: a typo may fit the other letter, never this one.
                assert typo not in refs.reference_candidates(typo[2:]), typo


@given(st.integers(min_value=0, max_value=10**9))
def test_any_swap_of_two_adjacent_digits_is_rejected(row_id: int) -> None:
    ref = MAKER.registration(row_id)
    digits = ref[2:]
    for pos in range(len(digits) - 1):
        a, b = digits[pos], digits[pos + 1]
        if a != b:
            swapped = f"R-{digits[:pos]}{b}{a}{digits[pos + 2 :]}"
            assert refs.normalise_reference(swapped) is None, swapped


def test_damm_rejects_every_single_error_and_adjacent_swap_exhaustively_on_a_sample() -> None:
    for row_id in range(0, 300):
        for ref in (MAKER.report(row_id), MAKER.registration(row_id)):
            prefix, digits = ref[0], ref[2:]
            assert refs.is_valid(prefix, digits)
            for pos in range(len(digits)):
                for other in "0123456789":
                    if other != digits[pos]:
                        bad = digits[:pos] + other + digits[pos + 1 :]
                        assert not refs.is_valid(prefix, bad)


@pytest.mark.parametrize(
    ("typed", "expected"),
    [
        ("T-5307", "T-5307"),  # old codes (before check digits) keep working
        ("t5307", "T-5307"),
        ("  T 5307 ", "T-5307"),
        ("T*5307", "T-5307"),
        ("r-482913", "R-482913"),
        ("T-53071", "T-53071"),
        ("T-5307123", "T-5307123"),
    ],
)
def test_normalise_reference_accepts_typing_variants(typed: str, expected: str) -> None:
    assert refs.normalise_reference(typed) == expected


def test_new_refs_may_be_typed_in_groups_or_lower_case() -> None:
    ref = MAKER.report(7)
    digits = ref[2:]
    for typed in (
        ref.lower(),
        f"T {digits[:4]} {digits[4:]}",
        f"t*{digits}",
        f"T-{digits[:4]}-{digits[4:]}",
    ):
        assert refs.normalise_reference(typed) == ref


@pytest.mark.parametrize(
    "typed", ["", None, "5307", "X-5307", "T-53", "T-5307x", "T-123456789012345"]
)
def test_normalise_reference_rejects_non_references(typed: str | None) -> None:
    assert refs.normalise_reference(typed) is None


def test_candidates_for_bare_digits() -> None:
    assert refs.reference_candidates("5307") == ("T-5307",)
    assert refs.reference_candidates("482913") == ("T-482913", "R-482913")
    assert refs.reference_candidates(" T5307 ") == ("T-5307",)
    assert refs.reference_candidates("12") == ()
    assert refs.reference_candidates("hello") == ()
    # A new code's digits name one letter only: the check digit covers the letter.
    report, registration = MAKER.report(9), MAKER.registration(9)
    assert refs.reference_candidates(report[2:]) == (report,)
    assert refs.reference_candidates(registration[2:]) == (registration,)


def test_a_placeholder_is_never_a_reference_and_fits_the_column() -> None:
    from ussd_app.columns import REF_LEN

    placeholder = refs.placeholder_ref()
    assert len(placeholder) <= REF_LEN and refs.normalise_reference(placeholder) is None
    assert len(MAKER.report(10**12)) <= REF_LEN


def test_a_reference_needs_a_key() -> None:
    with pytest.raises(ValueError, match="secret"):
        refs.ReferenceMaker("")
