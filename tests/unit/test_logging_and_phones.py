"""Phone numbers are normalised to E.164, hashed with a key, and never logged in full."""

from __future__ import annotations

import pytest

from ussd_app.logging_setup import scrub
from ussd_app.phones import InvalidPhoneNumber, mask, normalise, phone_hash


@pytest.mark.parametrize(
    ("raw", "e164"),
    [
        ("+26658123456", "+26658123456"),
        ("58123456", "+26658123456"),
        ("0026662123456", "+26662123456"),
        ("+27 82 123 4567", "+27821234567"),
    ],
)
def test_numbers_are_normalised_to_e164(raw: str, e164: str) -> None:
    assert normalise(raw) == e164


@pytest.mark.parametrize("raw", ["", "hello", "+2", "1" * 30])
def test_non_numbers_are_refused(raw: str) -> None:
    with pytest.raises(InvalidPhoneNumber):
        normalise(raw)


def test_hash_is_keyed_and_stable() -> None:
    assert phone_hash("+26658123456", "a") == phone_hash("+26658123456", "a")
    assert phone_hash("+26658123456", "a") != phone_hash("+26658123456", "b")


def test_mask_keeps_only_the_country_code_and_a_keyed_tag() -> None:
    assert mask("+26658123456").startswith("+266********#")
    assert "5812" not in mask("+26658123456") and "3456" not in mask("+26658123456")


def test_the_log_scrubber_masks_numbers_that_slip_through() -> None:
    line = scrub("failed for +26658123456")
    assert "+26658123456" not in line and "3456" not in line
    assert line == "failed for " + mask("+26658123456")
