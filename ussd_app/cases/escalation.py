"""Escalation: a P1 not acknowledged within P1_ACK_MINUTES (default 15), or a P2 within
P2_ACK_MINUTES (default 24 h), goes to each alerted partner's escalation contact and the national
duty desk. Each report escalates once; the sweeper may look as often as it likes.
"""

from __future__ import annotations

import datetime as dt
import logging

from sqlalchemy import select

from ussd_app.cases import machine
from ussd_app.cases.authority import SYSTEM
from ussd_app.cases.machine import CaseAction
from ussd_app.cases.texts import escalation_text
from ussd_app.container import Services
from ussd_app.db import utcnow
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
                # A possible flood told the duty desk once, as a batch (cases/floods.py): its
                # reports do not escalate one SMS each (they show as overdue on the desk).
                TraffickingReport.possible_flood.is_(False),
                TraffickingReport.created_at
                <= now - dt.timedelta(minutes=services.settings.p1_ack_minutes),
            )
            .order_by(TraffickingReport.id)
        ).all()
    for report_id in candidates:
        ref = _escalate_one(services, report_id, now)
        if ref:
            escalated.append(ref)
    return escalated


def _escalate_one(services: Services, report_id: int, now: dt.datetime) -> str | None:
    with services.uow() as uow:
        report = uow.session.get(TraffickingReport, report_id)
        if report is None or report.acknowledged_at is not None:
            return None
        window = ack_window(services, report.priority)
        if window is None or report.created_at > now - window:
            return None
        escalated = machine.apply(
            services, uow, report, CaseAction.ESCALATED, SYSTEM, level=1, now=now
        )
        if not escalated.done:
            return None  # escalated already, or taken meanwhile
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
