"""Escalation: a P1 not acknowledged within P1_ACK_MINUTES (default 15), or a P2 within
P2_ACK_MINUTES (default 24 h), goes to each alerted partner's escalation contact and the national
duty desk. Each report escalates once; the sweeper may look as often as it likes.

The reports of a possible flood (cases/floods.py) alerted the duty desk once, as a batch; they
escalate the same way: once per flood, one SMS to the desk's escalation contacts naming how many
of its urgent reports nobody has taken, while each overdue report still records its own
escalation (the state machine's once-per-level rule).
"""

from __future__ import annotations

import datetime as dt
import logging

from sqlalchemy import select

from ussd_app.cases import machine
from ussd_app.cases.authority import SYSTEM
from ussd_app.cases.machine import CaseAction
from ussd_app.cases.texts import escalation_text, flood_escalation_text
from ussd_app.container import Services
from ussd_app.db import UnitOfWork, utcnow
from ussd_app.messaging import outbox
from ussd_app.messaging.models import OutboundSms, SmsPurpose
from ussd_app.partners.routing import escalation_targets, facts_from_report
from ussd_app.partners.snapshot import load_directory
from ussd_app.reports.models import TraffickingReport

log = logging.getLogger(__name__)


def ack_window(services: Services, priority: str) -> dt.timedelta | None:
    settings = services.settings
    if priority == "P1":
        return dt.timedelta(minutes=settings.p1_ack_minutes)
    if priority == "P2":
        return dt.timedelta(minutes=settings.p2_ack_minutes)
    return None  # P3 is reviewed on the desk; no SMS escalation


def escalate_due(services: Services, now: dt.datetime | None = None) -> list[str]:
    """Escalate every unacknowledged report past its window; returns their references."""
    now = now or utcnow()
    escalated: list[str] = []
    with services.uow() as uow:
        candidates = uow.session.scalars(
            select(TraffickingReport.id)
            .where(
                TraffickingReport.acknowledged_at.is_(None),
                TraffickingReport.status != "closed",
                TraffickingReport.priority.in_(("P1", "P2")),
                TraffickingReport.created_at
                <= now - dt.timedelta(minutes=services.settings.p1_ack_minutes),
            )
            .order_by(TraffickingReport.id)
        ).all()
        flood = set(
            uow.session.scalars(
                select(TraffickingReport.id).where(
                    TraffickingReport.id.in_(candidates),
                    TraffickingReport.possible_flood.is_(True),
                )
            )
        )
    batches: set[str] = set()
    for report_id in candidates:
        if report_id in flood:
            found = _escalate_in_flood(services, report_id, now)
            if found is not None:
                batches.add(found[0])
                escalated.append(found[1])
            continue
        ref = _escalate_one(services, report_id, now)
        if ref:
            escalated.append(ref)
    for batch in sorted(batches):
        _tell_desk_of_flood(services, batch, now)
    return escalated


def _escalate_in_flood(
    services: Services, report_id: int, now: dt.datetime
) -> tuple[str, str] | None:
    """Record the escalation of an overdue report of a possible flood (no SMS of its own);
    (its flood batch, its reference) when this call escalated it."""
    with services.uow() as uow:
        found = _mark_escalated(services, uow, report_id, now)
        if found is None or found[0].flood_batch is None:
            return None
        batch, ref = found[0].flood_batch, found[0].ref
        uow.commit()
    return batch, ref


def _mark_escalated(
    services: Services, uow: UnitOfWork, report_id: int, now: dt.datetime
) -> tuple[TraffickingReport, dt.timedelta] | None:
    """Record, in `uow`, the escalation of the report if it is still not taken after its
    window (the state machine's once-per-level rule: None when it escalated already, or was
    taken meanwhile); the report and its window."""
    report = uow.session.get(TraffickingReport, report_id)
    if report is None or report.acknowledged_at is not None:
        return None
    window = ack_window(services, report.priority)
    if window is None or report.created_at > now - window:
        return None
    escalated = machine.apply(services, uow, report, CaseAction.ESCALATED, SYSTEM, level=1, now=now)
    return (report, window) if escalated.done else None


def _tell_desk_of_flood(services: Services, batch: str, now: dt.datetime) -> None:
    """One escalation SMS per flood to the duty desk's escalation contacts (staged once: its key
    names the batch), about the batch's urgent reports still not taken."""
    with services.uow() as uow:
        overdue = [
            (r, window)
            for r in uow.session.scalars(
                select(TraffickingReport)
                .where(
                    TraffickingReport.flood_batch == batch,
                    TraffickingReport.acknowledged_at.is_(None),
                    TraffickingReport.status != "closed",
                    TraffickingReport.priority.in_(("P1", "P2")),
                )
                .order_by(TraffickingReport.id)
            )
            if (window := ack_window(services, r.priority)) and r.created_at <= now - window
        ]
        if not overdue:
            return
        minutes = min(int(window.total_seconds() // 60) for _, window in overdue)
        body = flood_escalation_text(len(overdue), minutes, overdue[0][0].ref, overdue[-1][0].ref)
        # The desk had the batch alert: its escalation contact (supervisor) is told; a desk
        # without one, its first phone on duty again.
        directory = load_directory(uow.session)
        desk = directory.national_desk
        targets = escalation_targets(desk.code, directory) if desk is not None else []
        staged = 0
        for target in targets or escalation_targets("", directory):
            row = outbox.stage(
                uow,
                services,
                to=target.phone,
                body=body,
                purpose=SmsPurpose.ESCALATION,
                key=f"escalation:flood:{batch}:1:{target.partner_code}:{target.contact_id}",
                partner_code=target.partner_code,
                contact_id=target.contact_id,
                detail="brief",
            )
            staged += row is not None
        uow.commit()
    if staged:
        log.warning(
            "possible flood escalated to the duty desk: %s report(s) not taken", len(overdue)
        )


def _escalate_one(services: Services, report_id: int, now: dt.datetime) -> str | None:
    with services.uow() as uow:
        found = _mark_escalated(services, uow, report_id, now)
        if found is None:
            return None  # not due, escalated already, or taken meanwhile
        report, window = found
        directory = load_directory(uow.session)
        partners = sorted(
            {
                code
                for code in uow.session.scalars(
                    select(OutboundSms.partner_code).where(
                        OutboundSms.report_id == report.id,
                        OutboundSms.purpose == SmsPurpose.ALERT.value,
                    )
                ).all()
                if code
            }
        )
        facts = facts_from_report(report)
        minutes = int(window.total_seconds() // 60)
        body = escalation_text(facts, minutes)
        seen: set[str] = set()
        targets = [t for code in partners for t in escalation_targets(code, directory)]
        if not partners:  # nobody was alerted (empty directory then): the desk at least
            targets = escalation_targets("", directory)
        for target in targets:
            if target.phone in seen:
                continue
            seen.add(target.phone)
            outbox.stage(
                uow,
                services,
                to=target.phone,
                body=body,
                purpose=SmsPurpose.ESCALATION,
                key=f"escalation:{report.id}:1:{target.partner_code}:{target.contact_id}",
                report_id=report.id,
                partner_code=target.partner_code,
                contact_id=target.contact_id,
                detail="brief",
            )
        uow.commit()
    log.warning("report %s escalated: not acknowledged within %s minutes", facts.ref, minutes)
    return facts.ref
