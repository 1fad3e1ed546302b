"""Routing after the commit: stage a report's alerts (a registration's notices) in a job.

The caller's last hop commits the report or registration alone, the least work that makes it
durable (DESIGN decision 7 still holds: it is never lost, only its alerts are staged a moment
later). Its `routed_at` stays NULL until this module has staged the alerts, and is set in the
SAME transaction as the staged rows, so "routed" and "alerts exist" commit together or not at
all. After the intake commits it enqueues `runtime.jobs.route_subject`; if that enqueue is lost
(Redis down, the process killed between the commit and the enqueue) the sweeper
(`ussd-app alerts sweep`, `runtime.maintenance`) finds the row still NULL and routes it itself.

Safe to run twice, or concurrently: the row is locked and re-read with `routed_at IS NULL`
(PostgreSQL re-checks the condition after waiting for a lock), and every staged message has
its own idempotency key, so a second run stages nothing.
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
import time
from collections.abc import Callable
from typing import Literal, TypeVar

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError

from ussd_app.container import Services
from ussd_app.db import UnitOfWork, utcnow
from ussd_app.reports.models import TraffickingReport
from ussd_app.returnees.models import Registration

log = logging.getLogger(__name__)

Subject = Literal["report", "registration"]
SUBJECTS: tuple[Subject, ...] = ("report", "registration")
# Rows younger than this are left to their job; the sweeper routes only what is overdue.
SWEEP_GRACE_S = 5.0
SWEEP_BATCH = 500
_Routable = TypeVar("_Routable", TraffickingReport, Registration)


def route(services: Services, subject: str, subject_id: int, *, others: int = 0) -> bool:
    """Stage what `subject` #`subject_id` sends, once; True when this call staged it.

    With `others` > 0 (the routing job), up to that many other rows still waiting are routed in
    the same transaction (see `_route`)."""
    if subject == "report":
        return route_report(services, subject_id, others=others)
    if subject == "registration":
        return route_registration(services, subject_id, others=others)
    raise ValueError(f"unknown subject {subject!r}")


def route_report(services: Services, report_id: int, *, others: int = 0) -> bool:
    """Stage the report's alerts and mark it routed, in one transaction; False if already done."""

    def stage(uow: UnitOfWork, report: TraffickingReport) -> None:
        staged = services.alerts.stage_report_alerts(services, uow, report)
        log.info("report %s routed: %s alert(s) staged", report.ref, staged)

    return _route(services, TraffickingReport, report_id, stage, others)


def route_registration(services: Services, registration_id: int, *, others: int = 0) -> bool:
    """Stage the registration's confirmation and partner notices and mark it routed."""

    def stage(uow: UnitOfWork, reg: Registration) -> None:
        phone = services.cipher.decrypt(reg.phone_enc)
        services.alerts.stage_registration_notices(services, uow, reg, phone)
        log.info("registration %s routed", reg.ref)

    return _route(services, Registration, registration_id, stage, others)


def _route(
    services: Services,
    model: type[_Routable],
    row_id: int,
    stage: Callable[[UnitOfWork, _Routable], None],
    others: int,
) -> bool:
    """Route row `row_id` and up to `others` other unrouted rows; True if `row_id` was routed here.

    Why several: under a burst (a taxi rank's drivers all reporting one bus), one transaction,
    one directory read and one send phase per batch instead of per row is what lets two workers
    keep up (measured in `scripts/bench_alerts.py`). Its own row is waited for; another row
    that another transaction holds is skipped (most likely a worker routing it). When the batch
    fails, each of its rows is retried alone, so one bad row never holds back the others and the
    caller still hears of its own row's failure. A row that failed alone is left out of batches
    for a minute (`_RecentFailures`).
    """
    if others <= 0:
        return bool(_route_batch(services, model, row_id, stage, 0))
    if row_id in _failing.ids(model.__tablename__):
        return _route_alone(services, model, row_id, stage)  # it failed a moment ago
    locked: list[int] = []
    try:
        return row_id in _route_batch(services, model, row_id, stage, others, locked)
    except Exception:
        log.exception("routing %s %s together failed; one by one", len(locked), model.__tablename__)
    # Nothing was committed. Their own jobs may have run already (and skipped them as locked),
    # so each is routed here, alone: the others' failures are logged, the caller's is raised.
    for other in (i for i in locked if i != row_id):
        try:
            _route_alone(services, model, other, stage)
        except Exception:
            log.exception(
                "routing %s id=%s failed; the sweeper retries", model.__tablename__, other
            )
    return _route_alone(services, model, row_id, stage)


def _route_alone(
    services: Services,
    model: type[_Routable],
    row_id: int,
    stage: Callable[[UnitOfWork, _Routable], None],
) -> bool:
    """Route the row in a transaction of its own; a failure is noted (see `_RecentFailures`)
    and raised."""
    try:
        return bool(_route_batch(services, model, row_id, stage, 0))
    except Exception:
        _failing.note(model.__tablename__, row_id)
        raise


class _RecentFailures:
    """Rows whose routing failed alone a moment ago, left out of other jobs' batches for a while
    (each process its own): one row that cannot be staged would otherwise fail every batch it
    is the oldest of, and every job would pay for a batch and then each row alone. Its own job
    and the sweeper still try it (alone), so nothing is given up."""

    def __init__(self, hold_s: float, most: int) -> None:
        self._hold_s, self._most = hold_s, most
        self._until: dict[tuple[str, int], float] = {}
        self._lock = threading.Lock()

    def note(self, table: str, row_id: int) -> None:
        with self._lock:
            if len(self._until) >= self._most:
                self._until.pop(next(iter(self._until)))
            self._until[(table, row_id)] = time.monotonic() + self._hold_s

    def clear(self) -> None:
        with self._lock:
            self._until.clear()

    def ids(self, table: str) -> list[int]:
        now = time.monotonic()
        with self._lock:
            for key in [k for k, until in self._until.items() if until <= now]:
                del self._until[key]
            return sorted(i for t, i in self._until if t == table)


_failing = _RecentFailures(hold_s=SWEEP_GRACE_S * 12, most=100)


def forget_failures() -> None:
    """Forget the rows left out of batches (a test's fresh database reuses ids)."""
    _failing.clear()


def _route_batch(
    services: Services,
    model: type[_Routable],
    row_id: int,
    stage: Callable[[UnitOfWork, _Routable], None],
    others: int,
    locked: list[int] | None = None,
) -> list[int]:
    """Lock the unrouted rows (`row_id`, then the oldest others waiting), `stage` what each sends
    and set their `routed_at`, in ONE transaction; the ids routed (none when `row_id` and the
    others were already routed, now or concurrently). `locked` is filled with the ids taken
    before anything is staged, for the caller's retry if staging fails."""
    try:
        with services.uow() as uow:
            # Its own row is waited for (whoever holds it may be a replayed hop or the desk,
            # not a router); PostgreSQL re-checks `routed_at IS NULL` once the lock is free.
            rows = list(
                uow.session.scalars(
                    select(model)
                    .where(model.id == row_id, model.routed_at.is_(None))
                    .with_for_update()
                )
            )
            if others > 0:
                query = select(model).where(model.routed_at.is_(None), model.id != row_id)
                if failing := _failing.ids(model.__tablename__):
                    query = query.where(model.id.not_in(failing))
                # The others: one that another transaction holds is skipped, not waited for
                # (most likely another worker routing it; else its own job waits for it).
                query = query.order_by(model.id).limit(others).with_for_update(skip_locked=True)
                rows += uow.session.scalars(query)
            if not rows:
                return []
            ids = [row.id for row in rows]
            if locked is not None:
                locked.extend(ids)
            for row in rows:
                stage(uow, row)
            uow.session.execute(
                update(model)
                .where(model.id.in_(ids))
                # Keep updated_at: routing is not a change the desk should see as one.
                .values(routed_at=utcnow(), updated_at=model.updated_at)
                .execution_options(synchronize_session=False)
            )
            uow.commit()
    except IntegrityError:
        if others > 0:
            raise  # one by one, above
        # A concurrent run staged the same keys first (SQLite has no row lock): it won.
        log.info("%s id=%s was routed by a concurrent run", model.__tablename__, row_id)
        return []
    return ids


def unrouted(
    services: Services, older_than_s: float = SWEEP_GRACE_S, now: dt.datetime | None = None
) -> list[tuple[Subject, int]]:
    """Reports and registrations committed more than `older_than_s` ago and still unrouted."""
    cutoff = (now or utcnow()) - dt.timedelta(seconds=older_than_s)
    with services.uow() as uow:
        reports = uow.session.scalars(
            select(TraffickingReport.id)
            .where(TraffickingReport.routed_at.is_(None), TraffickingReport.updated_at <= cutoff)
            .order_by(TraffickingReport.id)
            .limit(SWEEP_BATCH)
        ).all()
        regs = uow.session.scalars(
            select(Registration.id)
            .where(Registration.routed_at.is_(None), Registration.updated_at <= cutoff)
            .order_by(Registration.id)
            .limit(SWEEP_BATCH)
        ).all()
    found: list[tuple[Subject, int]] = [("report", int(i)) for i in reports]
    found += [("registration", int(i)) for i in regs]
    return found


def sweep_unrouted(
    services: Services, older_than_s: float = SWEEP_GRACE_S, now: dt.datetime | None = None
) -> list[tuple[Subject, int]]:
    """Route, here and now (Redis may be down), every overdue unrouted row; returns those routed.
    Each row is its own transaction, so one failing does not hold back the others."""
    done: list[tuple[Subject, int]] = []
    for subject, subject_id in unrouted(services, older_than_s, now):
        try:
            if route(services, subject, subject_id):
                done.append((subject, subject_id))
        except Exception:
            log.exception("routing %s id=%s failed; the next sweep retries", subject, subject_id)
    if done:
        log.warning("sweeper routed %s row(s) whose routing job had not run", len(done))
    return done
