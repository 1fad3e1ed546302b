"""The SMS outbox: stage messages inside a transaction, deliver one by id, sweep what is stuck.

Staging writes a row in the caller's transaction and asks for an enqueue after commit, so a job
never runs before its row exists and a crash before commit sends nothing. Delivery claims the row
with a conditional UPDATE (only one worker can win it), sends, and records the outcome; running
it twice sends nothing twice once the first outcome is recorded. The sweeper re-enqueues rows left
pending (Redis was down, a worker died) and frees rows whose worker vanished mid-send.
"""

from __future__ import annotations

import datetime as dt
import enum
import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from ussd_app.container import Services
from ussd_app.db import UnitOfWork, utcnow
from ussd_app.messaging.backends.base import (
    AccountSmsError,
    Outcome,
    RecipientResult,
    SmsError,
    SmsSender,
    TransientSmsError,
)
from ussd_app.messaging.delivery_reports import apply_stored_reports
from ussd_app.messaging.models import OutboundSms, SmsPurpose, SmsStatus
from ussd_app.messaging.status import SmsActor, sources_of, transition

log = logging.getLogger(__name__)

# How long after staging the sweeper leaves a pending row to the normal after-commit enqueue.
ENQUEUE_GRACE = dt.timedelta(seconds=20)
# A job may run this much before its row is due (clocks of web and worker hosts differ a little).
CLAIM_EARLY = dt.timedelta(seconds=5)
# A row claimed longer ago than this belongs to a worker that died mid-send.
CLAIM_LEASE = dt.timedelta(minutes=2)
# Waiting after an account problem (no balance, bad sender id) before trying again.
ACCOUNT_BACKOFF = dt.timedelta(minutes=10)


class DeliveryResult(enum.StrEnum):
    SKIPPED = "skipped"  # someone else has it, or it is already done
    SENT = "sent"
    FAILED = "failed"  # permanent for this number
    RETRY = "retry"  # transient; try again with backoff
    ACCOUNT = "account"  # account problem; administrators alerted, retried later
    DEFERRED = "deferred"  # not tried: the caller's time was up; queued as a send of its own


def stage(
    uow: UnitOfWork,
    services: Services,
    *,
    to: str,
    body: str,
    purpose: SmsPurpose,
    key: str,
    report_id: int | None = None,
    partner_code: str | None = None,
    contact_id: int | None = None,
    detail: str | None = None,
    registration_id: int | None = None,
    staged_keys: frozenset[str] | None = None,
) -> OutboundSms | None:
    """Add a message to the outbox in `uow`'s transaction; None if `key` was staged before.

    `staged_keys`: the keys already staged that could equal `key` (read by the caller in one
    query for a whole batch, e.g. every key of one report), instead of a SELECT per message."""
    session = uow.session
    if staged_keys is None:
        query = select(OutboundSms.id).where(OutboundSms.idempotency_key == key)
        already = session.scalar(query) is not None
    else:
        already = key in staged_keys
    if already:
        return None
    row = OutboundSms(
        purpose=purpose.value,
        report_id=report_id,
        registration_id=registration_id,
        partner_code=partner_code,
        contact_id=contact_id,
        detail=detail,
        to_enc=services.cipher.encrypt(to),
        to_hash=services.hash_phone(to),
        body=body,
        status=SmsStatus.PENDING.value,
        idempotency_key=key,
        next_attempt_at=utcnow(),
    )
    # Not flushed here: a report's alerts go to the database together at the commit (or at the
    # next query's autoflush), and the id is read once the commit has given it.
    session.add(row)

    def enqueue() -> None:
        services.enqueuer.enqueue(row.id, purpose.value)

    uow.after_commit(enqueue)
    return row


def claim(session: Session, outbound_ids: Sequence[int], now: dt.datetime) -> list[OutboundSms]:
    """Take the rows for sending; the rows won, by id (not those another worker has, those done,
    or those not due), read back by the UPDATE itself.

    An atomic compare-and-set UPDATE (only one worker can win a row), with its WHERE built from
    the state machine's table; `next_attempt_at` is the one retry clock, so a job that runs early
    (a duplicate, a sweeper's re-enqueue) finds nothing to do.
    """
    if not outbound_ids:
        return []
    won = session.scalars(
        update(OutboundSms)
        .where(
            OutboundSms.id.in_(list(outbound_ids)),
            OutboundSms.status.in_(sources_of(SmsStatus.SENDING, SmsActor.WORKER)),
            OutboundSms.next_attempt_at <= now + CLAIM_EARLY,
        )
        .values(
            status=SmsStatus.SENDING.value,
            claimed_at=now,
            attempts=OutboundSms.attempts + 1,
        )
        .returning(OutboundSms)
        .execution_options(synchronize_session=False)
    ).all()
    return sorted(won, key=lambda row: row.id)


@dataclass(frozen=True)
class _Claimed:
    """A claimed row as the gateway call needs it, read before the claim's commit."""

    id: int
    to: str
    body: str
    attempts: int


# Most recipients in one gateway request (Africa's Talking takes many more; a smaller request
# fails smaller).
MAX_RECIPIENTS_PER_CALL = 50
_Answer = tuple[RecipientResult | None, SmsError | None]


def deliver(
    services: Services,
    sender: SmsSender,
    outbound_id: int,
    *,
    retry_delays: Sequence[int] = (10, 30, 120, 600, 1800),
    now: dt.datetime | None = None,
) -> DeliveryResult:
    """Send one outbox row, at most once per known outcome, and record what happened."""
    return deliver_many(services, sender, [outbound_id], retry_delays=retry_delays, now=now)[
        outbound_id
    ]


def deliver_many(
    services: Services,
    sender: SmsSender,
    outbound_ids: Sequence[int],
    *,
    retry_delays: Sequence[int] = (10, 30, 120, 600, 1800),
    now: dt.datetime | None = None,
    deadline: float | None = None,
) -> dict[int, DeliveryResult]:
    """Send several outbox rows (one report's alerts) as `deliver` sends one: one claim and one
    record for all of them, and one gateway request per distinct text.

    Measured: per row, the claim, the record and the HTTP request were three quarters of the
    alert path's worker time. A crash between the sends and the record leaves the rows
    'sending' for the sweeper, as it would one row. No request is started once `deadline` (a
    `time.monotonic()` value) has passed: the rows not tried are put back, due now, and queued
    as sends of their own (DEFERRED), so a slow gateway never runs a job into its timeout.
    """
    now = now or utcnow()
    results = dict.fromkeys(outbound_ids, DeliveryResult.SKIPPED)
    with services.uow() as uow:
        won = claim(uow.session, outbound_ids, now)
        if not won:
            return results
        claimed: list[_Claimed] = []
        for row in won:
            if services.sms_events.still_needed(services, uow, row):
                to = services.cipher.decrypt(row.to_enc)
                claimed.append(_Claimed(row.id, to, row.body, row.attempts))
            else:
                transition(row, SmsStatus.CANCELLED, SmsActor.WORKER, now=now, error="not needed")
        # Commit the claim before talking to the gateway: a crash mid-send leaves 'sending'
        # rows the sweeper frees after the lease, never a row two workers both send.
        uow.commit()
    if not claimed:
        return results

    answers: dict[int, _Answer] = {}
    deferred: set[int] = set()
    for batch in _requests(claimed):
        if deadline is not None and time.monotonic() >= deadline:
            deferred.update(c.id for c in batch)
            continue
        answers.update(_send(sender, batch))

    attempts = {c.id: c.attempts for c in claimed}
    with services.uow() as uow:
        retries: list[tuple[int, str, dt.datetime]] = []
        sent: list[OutboundSms] = []
        rows = list(
            uow.session.scalars(
                select(OutboundSms)
                .where(OutboundSms.id.in_([*answers, *deferred]))
                .order_by(OutboundSms.id)
            )
        )
        services.sms_events.before_record(services, uow, rows)
        for row in rows:
            if row.id in deferred:
                # Not tried: back to pending, due now, its claim not counted as an attempt.
                transition(row, SmsStatus.PENDING, SmsActor.WORKER, now=now, next_attempt_at=now)
                row.attempts = max(0, row.attempts - 1)
                results[row.id] = DeliveryResult.DEFERRED
                retries.append((row.id, row.purpose, now))
                continue
            result, error = answers[row.id]
            outcome = _record(
                uow, services, row, result, error, attempts[row.id], retry_delays, now
            )
            results[row.id] = outcome
            if outcome is DeliveryResult.SENT:
                sent.append(row)
            elif outcome in (DeliveryResult.RETRY, DeliveryResult.ACCOUNT):
                retries.append((row.id, row.purpose, row.next_attempt_at))
        apply_stored_reports(uow, services, sent)
        # The row's next_attempt_at is the only retry clock: feed the queue for that time.
        uow.after_commit(lambda: _enqueue_retries(services, retries))
        uow.commit()
    return results


def _requests(claimed: Sequence[_Claimed]) -> list[list[_Claimed]]:
    """Group rows into gateway requests: one text each, a number at most once per request."""
    batches: list[list[_Claimed]] = []
    open_by_body: dict[str, list[_Claimed]] = {}
    for row in claimed:
        batch = open_by_body.get(row.body)
        if (
            batch is None
            or len(batch) >= MAX_RECIPIENTS_PER_CALL
            or any(c.to == row.to for c in batch)
        ):
            batch = []
            batches.append(batch)
            open_by_body[row.body] = batch
        batch.append(row)
    return batches


def _send(sender: SmsSender, batch: Sequence[_Claimed]) -> dict[int, _Answer]:
    """One gateway request for `batch` (one text): each row's result, or the request's error."""
    try:
        results = sender.send(batch[0].body, [c.to for c in batch])
    except SmsError as exc:
        return {c.id: (None, exc) for c in batch}
    except Exception as exc:  # an SDK surprise is treated as transient, never lost
        log.exception("unexpected error sending sms id(s) %s", ", ".join(str(c.id) for c in batch))
        error = TransientSmsError(f"unexpected: {type(exc).__name__}")
        return {c.id: (None, error) for c in batch}
    # One result per recipient, in order (`SmsSender.send`); a missing one is "no result".
    return {c.id: (results[i] if i < len(results) else None, None) for i, c in enumerate(batch)}


def _enqueue_retries(services: Services, retries: Sequence[tuple[int, str, dt.datetime]]) -> None:
    for outbound_id, purpose, due in retries:
        _enqueue_retry(services, outbound_id, purpose, due)


def _enqueue_retry(services: Services, outbound_id: int, purpose: str, due: dt.datetime) -> None:
    services.enqueuer.enqueue(outbound_id, purpose, at=due)


def _record(
    uow: UnitOfWork,
    services: Services,
    row: OutboundSms,
    result: RecipientResult | None,
    error: SmsError | None,
    attempts: int,
    retry_delays: Sequence[int],
    now: dt.datetime,
) -> DeliveryResult:
    if isinstance(error, AccountSmsError) or (result and result.outcome is Outcome.ACCOUNT):
        reason = str(error) if error else f"{result.status if result else ''}"
        transition(
            row,
            SmsStatus.PENDING,
            SmsActor.WORKER,
            now=now,
            error=f"account: {reason}",
            next_attempt_at=now + ACCOUNT_BACKOFF,
        )
        # Loud on purpose: no alert leaves until an administrator tops up or fixes the sender id.
        log.critical(
            "SMS ACCOUNT PROBLEM (%s): alerts are held until it is fixed; sms id=%s",
            reason,
            row.id,
        )
        return DeliveryResult.ACCOUNT
    if error is not None or result is None or result.outcome is Outcome.TRANSIENT:
        reason = str(error) if error else (result.status if result else "no result")
        delay = retry_delays[min(attempts - 1, len(retry_delays) - 1)] if retry_delays else 60
        transition(
            row,
            SmsStatus.PENDING,
            SmsActor.WORKER,
            now=now,
            error=f"transient: {reason}",
            next_attempt_at=now + dt.timedelta(seconds=delay),
        )
        log.warning("sms id=%s: transient failure, retrying", row.id)
        return DeliveryResult.RETRY
    if result.outcome is Outcome.ACCEPTED:
        transition(row, SmsStatus.SENT, SmsActor.WORKER, now=now)
        row.message_id = result.message_id
        row.gateway_status = result.status
        services.sms_events.on_sent(services, uow, row)
        return DeliveryResult.SENT
    transition(row, SmsStatus.FAILED, SmsActor.WORKER, now=now, error=f"permanent: {result.status}")
    row.gateway_status = result.status
    log.warning("sms id=%s: permanent failure %s", row.id, result.status)
    services.sms_events.on_failed(services, uow, row)
    return DeliveryResult.FAILED


@dataclass(frozen=True)
class SweepResult:
    freed: int
    enqueued: int


def sweep(services: Services, now: dt.datetime | None = None, limit: int = 500) -> SweepResult:
    """Free rows whose worker died, and re-enqueue pending rows that are due."""
    now = now or utcnow()
    with services.uow() as uow:
        freed = uow.session.execute(
            update(OutboundSms)
            .where(
                OutboundSms.status.in_(sources_of(SmsStatus.PENDING, SmsActor.SWEEPER)),
                OutboundSms.claimed_at < now - CLAIM_LEASE,
            )
            .values(status=SmsStatus.PENDING.value, last_error="freed: worker lost mid-send")
            .execution_options(synchronize_session=False)
        )
        due = uow.session.execute(
            select(OutboundSms.id, OutboundSms.purpose)
            .where(
                OutboundSms.status == SmsStatus.PENDING.value,
                OutboundSms.next_attempt_at <= now,
                OutboundSms.updated_at <= now - ENQUEUE_GRACE,
            )
            .order_by(OutboundSms.id)
            .limit(limit)
        ).all()
        uow.commit()
    enqueued = 0
    for row_id, purpose in due:
        if services.enqueuer.enqueue(row_id, purpose, replace=True):
            enqueued += 1
    return SweepResult(freed=int(getattr(freed, "rowcount", 0) or 0), enqueued=enqueued)


def held_by_account_problem(services: Services) -> int:
    """How many messages wait for an SMS account problem to be fixed (and the DB answers)."""
    with services.uow() as uow:
        return int(
            uow.session.scalar(
                select(func.count(OutboundSms.id)).where(
                    OutboundSms.status == SmsStatus.PENDING.value,
                    OutboundSms.last_error.like("account:%"),
                )
            )
            or 0
        )
