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


def route(services: Services, subject: str, subject_id: int) -> bool:
    """Stage what `subject` #`subject_id` sends, once; True when this call staged it."""
    if subject == "report":
        return route_report(services, subject_id)
    if subject == "registration":
        return route_registration(services, subject_id)
    raise ValueError(f"unknown subject {subject!r}")


def route_report(services: Services, report_id: int) -> bool:
    """Stage the report's alerts and mark it routed, in one transaction; False if already done."""
    staged: list[int] = []

    def stage(uow: UnitOfWork, report: TraffickingReport) -> None:
        staged.append(services.alerts.stage_report_alerts(services, uow, report))

    ref = _route(services, TraffickingReport, report_id, stage)
    if ref is None:
        return False
    log.info("report %s routed: %s alert(s) staged", ref, staged[0])
    return True


def route_registration(services: Services, registration_id: int) -> bool:
    """Stage the registration's confirmation and partner notices and mark it routed."""

    def stage(uow: UnitOfWork, reg: Registration) -> None:
        phone = services.cipher.decrypt(reg.phone_enc)
        services.alerts.stage_registration_notices(services, uow, reg, phone)

    ref = _route(services, Registration, registration_id, stage)
    if ref is None:
        return False
    log.info("registration %s routed", ref)
    return True


def _route(
    services: Services,
    model: type[_Routable],
    row_id: int,
    stage: Callable[[UnitOfWork, _Routable], None],
) -> str | None:
    """Lock the row while it is unrouted, `stage` what it sends and set `routed_at`, in ONE
    transaction; its reference, or None when it was already routed (now or concurrently)."""
    try:
        with services.uow() as uow:
            row = uow.session.scalars(
                select(model).where(model.id == row_id, model.routed_at.is_(None)).with_for_update()
            ).first()
            if row is None:
                return None
            stage(uow, row)
            uow.session.execute(
                update(model)
                .where(model.id == row_id)
                # Keep updated_at: routing is not a change the desk should see as one.
                .values(routed_at=utcnow(), updated_at=model.updated_at)
            )
            ref = row.ref
            uow.commit()
    except IntegrityError:
        # A concurrent run staged the same keys first (SQLite has no row lock): it won.
        log.info("%s id=%s was routed by a concurrent run", model.__tablename__, row_id)
        return None
    return ref


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
