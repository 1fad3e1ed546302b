"""Reference codes: shape, randomness source, widening, and reading what callers type."""

from __future__ import annotations

import re
import secrets

import pytest

from ussd_app import references as refs


def test_report_ref_is_t_and_four_digits() -> None:
    for _ in range(200):
        assert re.fullmatch(r"T-\d{4}", refs.new_report_ref())


def test_registration_ref_is_r_and_six_digits() -> None:
    for _ in range(200):
        assert re.fullmatch(r"R-\d{6}", refs.new_registration_ref())


def test_report_ref_can_be_widened() -> None:
    assert re.fullmatch(r"T-\d{7}", refs.new_report_ref(7))


def test_refs_use_secrets(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(secrets, "randbelow", lambda n: 42)
    assert refs.new_report_ref() == "T-0042"
    assert refs.new_registration_ref() == "R-000042"


def test_refs_vary() -> None:
    assert len({refs.new_registration_ref() for _ in range(50)}) > 40


@pytest.mark.parametrize("digits", [0, 11])
def test_digits_out_of_range_are_refused(digits: int) -> None:
    with pytest.raises(ValueError, match="digits"):
        refs.new_report_ref(digits)


def test_widening_schedule() -> None:
    assert [refs.report_ref_digits(a) for a in range(9)] == [4, 4, 4, 5, 5, 5, 6, 6, 6]
    assert refs.report_ref_digits(1000) == refs.MAX_DIGITS


@pytest.mark.parametrize(
    ("typed", "expected"),
    [
        ("T-5307", "T-5307"),
        ("t5307", "T-5307"),
        ("  T 5307 ", "T-5307"),
        ("T*5307", "T-5307"),
        ("r-482913", "R-482913"),
        ("T-53071", "T-53071"),
    ],
)
def test_normalise_reference_accepts_typing_variants(typed: str, expected: str) -> None:
    assert refs.normalise_reference(typed) == expected


@pytest.mark.parametrize("typed", ["", None, "5307", "X-5307", "T-53", "T-5307x", "T-12345678901"])
def test_normalise_reference_rejects_non_references(typed: str | None) -> None:
    assert refs.normalise_reference(typed) is None


def test_candidates_for_bare_digits() -> None:
    assert refs.reference_candidates("5307") == ("T-5307",)
    assert refs.reference_candidates("482913") == ("T-482913", "R-482913")
    assert refs.reference_candidates(" T5307 ") == ("T-5307",)
    assert refs.reference_candidates("12") == ()
    assert refs.reference_candidates("hello") == ()
