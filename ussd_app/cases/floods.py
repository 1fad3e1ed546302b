"""What a possible flood alerts: one batch SMS to the duty desk, never one alert per report.

A report filed while its phone was over REPORT_LIMIT is stored like any other and flagged
`possible_flood` at submit time (`reports.intake.flood_flag`), with the random `flood_batch`
token that the reports of that flood share. `stage_report_alerts` hands such a report here,
so the decision rests on the stored row alone (it holds wherever staging runs, in the report's
transaction or in a job after it). For each flagged report:

- a *held* alert row to the duty desk: the desk is thereby alerted to the case, so its staff
  see it in the inbox and may act on it (authority follows the alert), but the worker cancels
  the row instead of sending it (`is_held`, asked by `CaseSmsObserver.still_needed`);
- the batch alert: the first flagged report of a batch stages "POSSIBLE FLOOD: 1 report over
  the limit ..."; later ones join it without a new SMS, except at the counts in UPDATE_AT, where
  the desk gets one update (at most len(UPDATE_AT) SMS per flood window and phone).

The batch SMS belongs to no report (report_id empty): it is about many.
"""

from __future__ import annotations

import logging

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from ussd_app.cases.texts import alert_text, flood_text
from ussd_app.container import Services
from ussd_app.db import UnitOfWork
from ussd_app.messaging import outbox
from ussd_app.messaging.models import OutboundSms, SmsPurpose
from ussd_app.partners.routing import (
    Recipient,
    duty_desk,
    facts_from_report,
    next_contact,
    route_report,
)
from ussd_app.partners.snapshot import load_directory
from ussd_app.reports.models import TraffickingReport

log = logging.getLogger(__name__)

# Flagged reports in one batch at which the duty desk is told: the first, then updates.
UPDATE_AT = (1, 10, 50)
HELD_PREFIX = "held:"  # outbox key of an alert kept for authority, never sent
BATCH_PREFIX = "flood:"  # outbox key of a batch alert: flood:<batch>:<update number>


def is_held(row: OutboundSms) -> bool:
    """A held alert (a flagged report's row for the duty desk): cancelled, never sent."""
    return row.idempotency_key.startswith(HELD_PREFIX)


def stage_flood_alerts(services: Services, uow: UnitOfWork, report: TraffickingReport) -> int:
    """The held alert for `report` and, when due, the batch alert; returns the SMS staged."""
    directory = load_directory(uow.session)
    desk = duty_desk(directory)
    if desk is None:  # no national desk in the directory (import refuses that): first in line
        routed = route_report(facts_from_report(report), directory)
        desk = routed[0] if routed else None
    if desk is None:
        log.critical("possible flood %s has no recipient: the directory is empty", report.ref)
        return 0
    outbox.stage(
        uow,
        services,
        to=desk.phone,
        body=alert_text(facts_from_report(report), "brief"),
        purpose=SmsPurpose.ALERT,
        key=f"{HELD_PREFIX}{report.id}:{desk.partner_code}:{desk.contact_id}",
        report_id=report.id,
        partner_code=desk.partner_code,
        contact_id=desk.contact_id,
        detail="brief",
    )
    return 1 if _stage_batch_alert(services, uow, report, desk) else 0


def _stage_batch_alert(
    services: Services, uow: UnitOfWork, report: TraffickingReport, desk: Recipient
) -> bool:
    refs = list(
        uow.session.scalars(
            select(TraffickingReport.ref)
            # The batch as it stood when this report joined it (ids up to its own): routing runs
            # after the commit, maybe after the whole flood, and each report's place in the
            # batch decides alone whether it sends the first alert or an update.
            .where(
                TraffickingReport.flood_batch == report.flood_batch,
                TraffickingReport.id <= report.id,
            )
            .order_by(TraffickingReport.id)
        )
    )
    count = len(refs) or 1
    level = max(i for i, at in enumerate(UPDATE_AT) if count >= at)
    if level > 0 and count != UPDATE_AT[level]:
        return False  # joins the batch: no new SMS
    body = flood_text(
        count,
        services.limits.describe("reports"),
        refs[0] if refs else report.ref,
        refs[-1] if refs else report.ref,
        update=level > 0,
    )
    try:
        # A savepoint: a report of the same flood committing at this moment may have staged
        # this very batch alert; losing that race must not roll the report back.
        with uow.session.begin_nested():
            row = outbox.stage(
                uow,
                services,
                to=desk.phone,
                body=body,
                purpose=SmsPurpose.ALERT,
                key=f"{BATCH_PREFIX}{report.flood_batch}:{level}",
                partner_code=desk.partner_code,
                contact_id=desk.contact_id,
                detail="brief",
            )
    except IntegrityError:
        return False
    if row is not None:
        log.warning("possible flood: batch alert %d to the duty desk (%d reports)", level, count)
    return row is not None


def reroute_batch_alert(services: Services, uow: UnitOfWork, row: OutboundSms) -> bool:
    """A batch alert that failed for good goes to the desk's next contact, same text.

    Returns False when `row` is not a batch alert."""
    if not row.idempotency_key.startswith(BATCH_PREFIX) or row.partner_code is None:
        return False
    if row.contact_id is None:
        return True
    contact = next_contact(row.partner_code, row.contact_id, load_directory(uow.session))
    if contact is None:
        log.critical("a possible-flood alert could not reach the duty desk")
        return True
    outbox.stage(
        uow,
        services,
        to=contact.phone,
        body=row.body,
        purpose=SmsPurpose.ALERT,
        key=f"{row.idempotency_key}:{contact.id}"[:160],
        partner_code=row.partner_code,
        contact_id=contact.id,
        detail="brief",
    )
    return True
