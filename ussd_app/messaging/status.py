"""The outbound SMS state machine: one table of allowed moves, one function that applies them.

Every change of `OutboundSms.status` goes through `transition` (or, for the two bulk moves that must
be atomic compare-and-set UPDATEs - a worker's claim and the sweeper freeing a dead worker's claim -
through a WHERE built from this same table by `sources_of`). A refused move raises
`InvalidSmsTransition`: a second copy of the rules elsewhere is a bug.

    pending --claim--> sending --accepted--> sent --delivery report--> delivered
    pending --not needed--> cancelled        sent --delivery report: failed--> failed
    sending --transient / account problem / worker lost--> pending (at next_attempt_at)
    sending --permanent--> failed            sending --not needed--> cancelled

One retry clock: `next_attempt_at` on the row. A worker may claim a row only once that time has
come, the queue is fed for that time, and the sweeper re-enqueues whatever is due.
"""

from __future__ import annotations

import datetime as dt
import enum
from dataclasses import dataclass

from ussd_app.messaging.models import OutboundSms, SmsStatus


class SmsActor(enum.StrEnum):
    """Who causes a move (for the table and for tests; rows do not store it)."""

    WORKER = "worker"  # the job sending the message
    GATEWAY = "gateway"  # a delivery report
    SWEEPER = "sweeper"  # periodic maintenance


@dataclass(frozen=True)
class SmsRule:
    source: SmsStatus
    target: SmsStatus
    by: frozenset[SmsActor]
    why: str


_W, _G, _S = SmsActor.WORKER, SmsActor.GATEWAY, SmsActor.SWEEPER
P, SE, ST, D, F, C = (
    SmsStatus.PENDING,
    SmsStatus.SENDING,
    SmsStatus.SENT,
    SmsStatus.DELIVERED,
    SmsStatus.FAILED,
    SmsStatus.CANCELLED,
)

RULES: tuple[SmsRule, ...] = (
    SmsRule(P, SE, frozenset({_W}), "a worker claims a due row"),
    SmsRule(P, C, frozenset({_W, _S}), "no longer needed before sending"),
    SmsRule(SE, ST, frozenset({_W}), "the gateway accepted it"),
    SmsRule(SE, P, frozenset({_W, _S}), "transient or account failure, or the worker was lost"),
    SmsRule(SE, F, frozenset({_W}), "the gateway refused this number for good"),
    SmsRule(SE, C, frozenset({_W}), "no longer needed (e.g. the case was taken)"),
    SmsRule(ST, D, frozenset({_G}), "the handset received it"),
    SmsRule(ST, F, frozenset({_G}), "delivery failed for good"),
)
TRANSITIONS: dict[tuple[SmsStatus, SmsStatus], SmsRule] = {(r.source, r.target): r for r in RULES}
FINAL = frozenset({D, F, C})


class InvalidSmsTransition(ValueError):
    """A move the table does not allow (a bug in the caller, never the gateway's fault)."""


def allowed(source: SmsStatus | str, target: SmsStatus | str, by: SmsActor) -> bool:
    rule = TRANSITIONS.get((SmsStatus(source), SmsStatus(target)))
    return rule is not None and by in rule.by


def sources_of(target: SmsStatus, by: SmsActor) -> list[str]:
    """The statuses `by` may move to `target` from (for conditional bulk UPDATEs)."""
    return [r.source.value for r in RULES if r.target is target and by in r.by]


def transition(
    row: OutboundSms,
    target: SmsStatus,
    by: SmsActor,
    *,
    now: dt.datetime,
    error: str | None = None,
    next_attempt_at: dt.datetime | None = None,
) -> None:
    """Move `row` to `target`, stamping the time the move stands for; raises if not allowed."""
    source = SmsStatus(row.status)
    if not allowed(source, target, by):
        raise InvalidSmsTransition(f"sms id={row.id}: {source} -> {target} by {by} not allowed")
    row.status = target.value
    if error is not None:
        row.last_error = error[:255]
    if target is SmsStatus.SENDING:
        row.claimed_at = now
        row.attempts = (row.attempts or 0) + 1
    elif target is SmsStatus.SENT:
        row.sent_at = now
        row.last_error = None
    elif target is SmsStatus.DELIVERED:
        row.delivered_at = now
    elif target is SmsStatus.PENDING:
        row.next_attempt_at = next_attempt_at or now
    elif target is SmsStatus.FAILED:
        row.failed_at = now
