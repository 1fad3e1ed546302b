"""The alert path for cases: who is alerted to a report (routing + texts into the outbox), what a
registration sends, and what a message's progress means for its case.

`ReportAlerts` (an `AlertPort`) and `CaseSmsObserver` (an `SmsObserver`) are given to `Services`
by the composition root, so the web process, the worker and the CLI stage and react alike.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

from sqlalchemy import select

from ussd_app.cases import floods, machine
from ussd_app.cases.authority import SYSTEM
from ussd_app.cases.texts import (
    alert_text,
    registration_notice_text,
    returnee_confirmation_text,
)
from ussd_app.container import Services
from ussd_app.db import UnitOfWork
from ussd_app.messaging import outbox
from ussd_app.messaging.models import OutboundSms, SmsOptOut, SmsPurpose
from ussd_app.partners.routing import (
    Detail,
    facts_from_registration,
    facts_from_report,
    next_contact,
    route_registration,
    route_report,
)
from ussd_app.partners.snapshot import directory_for_routing, load_directory
from ussd_app.reports.models import ReportStatus, TraffickingReport
from ussd_app.returnees.models import Registration

log = logging.getLogger(__name__)

_ALERT = SmsPurpose.ALERT.value
_REPORTS_KEY = "cases.reports_being_recorded"  # session.info: id -> report, this transaction


class ReportAlerts:
    """The `AlertPort` the composition root gives every `Services`: stage alerts and notices."""

    def stage_report_alerts(self, services: Services, uow: UnitOfWork, report: Any) -> int:
        return stage_report_alerts(services, uow, report)

    def stage_registration_notices(
        self, services: Services, uow: UnitOfWork, registration: Any, phone: str
    ) -> None:
        stage_registration_sms(services, uow, registration, phone)
        stage_partner_notices(services, uow, registration)


class CaseSmsObserver:
    """The `SmsObserver`: what a message's progress means for its case."""

    def still_needed(self, services: Services, uow: UnitOfWork, row: OutboundSms) -> bool:
        """An escalation for a case someone has already taken need not go out; a possible
        flood's held alert never does (its batch alert speaks for it); nor an update or check-in
        to a returnee whose number sent STOP after it was staged."""
        if floods.is_held(row):
            return False
        if row.purpose == SmsPurpose.CONFIRMATION.value and row.registration_id is not None:
            stopped = uow.session.scalar(
                select(SmsOptOut.id).where(SmsOptOut.phone_hash == row.to_hash)
            )
            return stopped is None
        if row.purpose == SmsPurpose.ESCALATION.value and row.registration_id is not None:
            registration = uow.session.get(Registration, row.registration_id)
            return registration is not None and registration.status == "new"
        if row.purpose != SmsPurpose.ESCALATION.value or row.report_id is None:
            return True
        report = uow.session.get(TraffickingReport, row.report_id)
        return report is None or report.acknowledged_at is None

    def before_record(
        self, services: Services, uow: UnitOfWork, rows: Sequence[OutboundSms]
    ) -> None:
        """Read, in one query, the reports whose alerts are about to be recorded (a routing job
        sends several reports' alerts together), for `on_sent`."""
        ids = {r.report_id for r in rows if r.report_id is not None and r.purpose == _ALERT}
        if not ids:
            return
        known: dict[int, TraffickingReport | None] = dict.fromkeys(ids)  # None: gone (erased)
        known.update(
            (report.id, report)
            for report in uow.session.scalars(
                select(TraffickingReport).where(TraffickingReport.id.in_(sorted(ids)))
            )
        )
        uow.session.info[_REPORTS_KEY] = known

    def on_sent(self, services: Services, uow: UnitOfWork, row: OutboundSms) -> None:
        """The reporter's coarse status becomes "passed on" once an alert has left."""
        if row.report_id is None or row.purpose != _ALERT:
            return
        # A report's alerts are recorded together (`outbox.deliver_many`): each report is read
        # once per transaction (`before_record`), not once per alert.
        known: dict[int, TraffickingReport | None] = uow.session.info.setdefault(_REPORTS_KEY, {})
        if row.report_id not in known:
            known[row.report_id] = uow.session.get(TraffickingReport, row.report_id)
        report = known[row.report_id]
        if report is not None and report.status == ReportStatus.RECEIVED.value:
            machine.apply(services, uow, report, machine.CaseAction.ALERTED, SYSTEM)

    def on_failed(self, services: Services, uow: UnitOfWork, row: OutboundSms) -> None:
        reroute_failed(services, uow, row)


def stage_report_alerts(services: Services, uow: UnitOfWork, report: TraffickingReport) -> int:
    """Stage one alert per recipient, in the report's own transaction; returns how many.

    A report flagged as a possible flood at submit time alerts nobody one by one: the duty desk
    gets one batch alert for the flood (`ussd_app.cases.floods`)."""
    if report.possible_flood:
        return floods.stage_flood_alerts(services, uow, report)
    directory = directory_for_routing(uow.session)
    facts = facts_from_report(report)
    recipients = route_report(facts, directory)
    if report.incomplete:
        # An abandoned session's answers are partial: the duty desk judges them first.
        recipients = [r for r in recipients if r.role == "duty_desk"] or recipients[:1]
    if not recipients:
        log.critical("report %s has no recipients: the partners directory is empty", report.ref)
    # Every key below names this report, so one query finds any staged before (a resumed
    # report's first routing, a rerun): not a SELECT per alert.
    staged = frozenset(
        uow.session.scalars(
            select(OutboundSms.idempotency_key).where(OutboundSms.report_id == report.id)
        )
    )
    for r in recipients:
        outbox.stage(
            uow,
            services,
            to=r.phone,
            body=alert_text(facts, r.detail),
            purpose=SmsPurpose.ALERT,
            # An incomplete report completed on resume alerts again, with the full answers.
            key=f"alert:{report.id}:{'part' if report.incomplete else 'full'}:"
            f"{r.partner_code}:{r.contact_id}",
            report_id=report.id,
            partner_code=r.partner_code,
            contact_id=r.contact_id,
            detail=r.detail,
            staged_keys=staged,
        )
    return len(recipients)


def stage_registration_sms(services: Services, uow: UnitOfWork, reg: Any, phone: str) -> None:
    """A returnee who opted in gets their reference and next steps; nobody else gets an SMS."""
    if not reg.sms_opt_in:
        return
    if uow.session.scalar(select(SmsOptOut.id).where(SmsOptOut.phone_hash == reg.phone_hash)):
        return
    outbox.stage(
        uow,
        services,
        to=phone,
        body=returnee_confirmation_text(reg.ref, reg.language, needs=reg.needs or ()),
        purpose=SmsPurpose.CONFIRMATION,
        # One confirmation per registration version (an update re-confirms).
        key=f"reg:{reg.ref}:{reg.updated_at.isoformat() if reg.updated_at else 'new'}",
    )


def stage_partner_notices(services: Services, uow: UnitOfWork, reg: Registration) -> int:
    """Tell each partner the directory chooses of a registration, once per partner (an update
    that adds a need reaches a partner taking it; the others are not told twice).

    Only codes go out: reference, home district, needs. Without consent to share, only the
    programme partner hears of it. Returns how many notices were staged now.
    """
    facts = facts_from_registration(reg)
    recipients = route_registration(facts, directory_for_routing(uow.session))
    if not recipients:
        log.warning("registration %s: no partner takes it (no programme partner?)", reg.ref)
    staged = 0
    for r in recipients:
        row = outbox.stage(
            uow,
            services,
            to=r.phone,
            body=registration_notice_text(reg.ref, facts.district, r.needs),
            purpose=SmsPurpose.ALERT,
            key=f"regnotice:{reg.id}:{r.partner_code}",
            registration_id=reg.id,
            partner_code=r.partner_code,
            contact_id=r.contact_id,
            detail="brief",
        )
        staged += row is not None
    return staged


def reroute_failed(services: Services, uow: UnitOfWork, row: OutboundSms) -> None:
    """A permanently failed alert moves to the partner's next contact (never the same twice)."""
    if row.purpose not in (SmsPurpose.ALERT.value, SmsPurpose.ESCALATION.value):
        return
    if floods.reroute_batch_alert(services, uow, row):
        return
    if row.partner_code is None or row.contact_id is None:
        return
    if row.registration_id is not None:
        _reroute_registration_notice(services, uow, row)
        return
    if row.report_id is None:
        return
    report = uow.session.get(TraffickingReport, row.report_id)
    if report is None:
        return
    directory = load_directory(uow.session)
    tried_ids = {
        int(c)
        for c in uow.session.scalars(
            select(OutboundSms.contact_id).where(
                OutboundSms.report_id == row.report_id,
                OutboundSms.partner_code == row.partner_code,
            )
        )
        if c is not None
    }
    contact = next_contact(row.partner_code, row.contact_id, directory, exclude=tried_ids)
    if contact is None:
        log.critical(
            "report %s: no contact of partner %s could be reached", report.ref, row.partner_code
        )
        return
    facts = facts_from_report(report)
    detail: Detail = "full" if row.detail == "full" else "brief"
    body = alert_text(facts, detail) if row.purpose == SmsPurpose.ALERT.value else row.body
    outbox.stage(
        uow,
        services,
        to=contact.phone,
        body=body,
        purpose=SmsPurpose(row.purpose),
        key=f"{row.purpose}:{report.id}:{row.partner_code}:{contact.id}",
        report_id=report.id,
        partner_code=row.partner_code,
        contact_id=contact.id,
        detail=detail,
    )


def _reroute_registration_notice(services: Services, uow: UnitOfWork, row: OutboundSms) -> None:
    """A registration notice (or reminder) that failed for good goes to the partner's next
    contact, with the same text (codes only); each contact is tried once."""
    if row.partner_code is None or row.contact_id is None:
        return
    tried = {
        int(c)
        for c in uow.session.scalars(
            select(OutboundSms.contact_id).where(
                OutboundSms.registration_id == row.registration_id,
                OutboundSms.partner_code == row.partner_code,
            )
        )
        if c is not None
    }
    directory = load_directory(uow.session)
    contact = next_contact(row.partner_code, row.contact_id, directory, exclude=tried)
    if contact is None:
        log.critical(
            "registration %s: no contact of partner %s could be reached",
            row.registration_id,
            row.partner_code,
        )
        return
    outbox.stage(
        uow,
        services,
        to=contact.phone,
        body=row.body,
        purpose=SmsPurpose(row.purpose),
        key=f"{row.purpose}:reg{row.registration_id}:{row.partner_code}:{contact.id}",
        registration_id=row.registration_id,
        partner_code=row.partner_code,
        contact_id=contact.id,
        detail=row.detail,
    )
