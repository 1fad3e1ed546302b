"""Phone numbers are normalised to E.164, hashed with a key, and never logged in full."""

from __future__ import annotations

import logging

import pytest

from ussd_app.logging_setup import MaskPhonesFilter
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


def test_mask_keeps_only_the_ends() -> None:
    assert mask("+26658123456") == "+266****3456"
    assert "5812" not in mask("+26658123456")


def test_the_log_filter_masks_numbers_that_slip_through() -> None:
    record = logging.LogRecord(
        "x", logging.INFO, __file__, 1, "failed for %s", ("+26658123456",), None
    )
    MaskPhonesFilter().filter(record)
    assert "+26658123456" not in record.getMessage()
    assert record.getMessage().endswith("3456")
