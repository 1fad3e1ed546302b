"""The referral state machine, table-driven: every move from every status is applied exactly as
`REFERRAL_MOVES` says, with its date, or changes nothing."""

from __future__ import annotations

import datetime as dt
import itertools

import pytest

from ussd_app.returnees.referrals import (
    FINAL,
    REFERRAL_MOVES,
    REFERRAL_STATUSES,
    Referral,
    advance,
    allowed,
    new_referral,
)

NOW = dt.datetime(2026, 12, 2, 9, 0, tzinfo=dt.UTC)
EARLIER = NOW - dt.timedelta(days=3)


def referral(status: str) -> Referral:
    row = new_referral(1, "clinic", "Clinic", EARLIER)
    row.status = status
    row.accepted_at = EARLIER if status in ("accepted", "delivered") else None
    row.ended_at = EARLIER if status in ("delivered", "declined", "unreachable") else None
    return row


# The table as the README describes it: from -> the statuses it may become.
EXPECTED: dict[str | None, set[str]] = {
    None: {"referred"},
    "referred": {"accepted", "delivered", "declined", "unreachable"},
    "accepted": {"delivered", "declined", "unreachable"},
    "delivered": set(),
    "declined": set(),
    "unreachable": {"referred", "accepted", "declined"},
}


def test_the_table_is_the_documented_one() -> None:
    for source, targets in EXPECTED.items():
        assert {t for t in REFERRAL_STATUSES if allowed(source, t)} == targets, source
    assert {s for s in REFERRAL_STATUSES if not EXPECTED[s]} == set(FINAL)
    assert set(REFERRAL_MOVES) == set(REFERRAL_STATUSES)


@pytest.mark.parametrize(
    ("source", "target"), list(itertools.product(REFERRAL_STATUSES, REFERRAL_STATUSES))
)
def test_every_move_is_applied_as_the_table_says(source: str, target: str) -> None:
    row = referral(source)
    before = (row.status, row.referred_at, row.accepted_at, row.ended_at)
    moved = advance(row, target, NOW)
    assert moved is allowed(source, target)
    if not moved:
        assert (row.status, row.referred_at, row.accepted_at, row.ended_at) == before
        return
    assert row.status == target
    if target == "referred":
        assert row.referred_at == NOW and row.accepted_at is None and row.ended_at is None
    elif target == "accepted":
        assert row.accepted_at == NOW and row.ended_at is None
    else:
        assert row.ended_at == NOW


def test_a_new_referral_starts_referred() -> None:
    row = new_referral(7, "skills", None, NOW)
    assert (row.status, row.referred_at, row.registration_id) == ("referred", NOW, 7)
