"""The SMS state machine, table-driven: every allowed move works, every other is refused."""

from __future__ import annotations

import datetime as dt
import itertools

import pytest

from ussd_app.messaging.models import OutboundSms, SmsStatus
from ussd_app.messaging.status import (
    FINAL,
    RULES,
    InvalidSmsTransition,
    SmsActor,
    allowed,
    sources_of,
    transition,
)

NOW = dt.datetime(2026, 12, 2, 10, 0, tzinfo=dt.UTC)
ALLOWED = {(r.source, r.target, by) for r in RULES for by in r.by}
EVERY = list(itertools.product(SmsStatus, SmsStatus, SmsActor))


def row(status: SmsStatus) -> OutboundSms:
    return OutboundSms(id=1, status=status.value, attempts=0)


@pytest.mark.parametrize(("source", "target", "by"), sorted(ALLOWED))
def test_every_allowed_move_applies(source: SmsStatus, target: SmsStatus, by: SmsActor) -> None:
    r = row(source)
    transition(r, target, by, now=NOW, error="why", next_attempt_at=NOW)
    assert r.status == target.value


@pytest.mark.parametrize(
    ("source", "target", "by"), [m for m in EVERY if m not in ALLOWED], ids=str
)
def test_every_other_move_is_refused(source: SmsStatus, target: SmsStatus, by: SmsActor) -> None:
    r = row(source)
    assert not allowed(source, target, by)
    with pytest.raises(InvalidSmsTransition):
        transition(r, target, by, now=NOW)
    assert r.status == source.value  # unchanged


def test_final_states_have_no_way_out() -> None:
    assert {r.source for r in RULES} & FINAL == set()


def test_moves_stamp_their_times() -> None:
    r = row(SmsStatus.PENDING)
    transition(r, SmsStatus.SENDING, SmsActor.WORKER, now=NOW)
    assert r.claimed_at == NOW and r.attempts == 1
    later = NOW + dt.timedelta(seconds=30)
    transition(r, SmsStatus.PENDING, SmsActor.WORKER, now=NOW, next_attempt_at=later, error="x")
    assert r.next_attempt_at == later and r.last_error == "x"
    transition(r, SmsStatus.SENDING, SmsActor.WORKER, now=later)
    transition(r, SmsStatus.SENT, SmsActor.WORKER, now=later)
    assert r.sent_at == later and r.last_error is None and r.attempts == 2
    transition(r, SmsStatus.FAILED, SmsActor.GATEWAY, now=later)
    assert r.failed_at == later


def test_bulk_updates_use_the_same_table() -> None:
    assert sources_of(SmsStatus.SENDING, SmsActor.WORKER) == ["pending"]
    assert sources_of(SmsStatus.PENDING, SmsActor.SWEEPER) == ["sending"]
