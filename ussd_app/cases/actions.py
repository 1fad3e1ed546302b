"""What staff do with a case, as one service call per action, shared by SMS commands and the desk.

Each function works inside the caller's unit of work (the caller commits), applies the action
through the state machine (`ussd_app.cases.machine.apply`, which checks authority and records the
event) and then does what follows from it: tell the others alerted who took the case, alert the
partner a case is transferred to, schedule the reporter's number for erasure on close. An action
taken on the desk and the same action by SMS have the same effect and the same event.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from sqlalchemy import select

from ussd_app import metrics
from ussd_app.cases import machine
from ussd_app.cases.authority import Actor, Case
from ussd_app.cases.machine import CaseAction, Result
from ussd_app.cases.texts import alert_text, returnee_arranged_text, returnee_taken_text
from ussd_app.codes import STAY_INTENT
from ussd_app.container import Services
from ussd_app.db import UnitOfWork, utcnow
from ussd_app.messaging import outbox
from ussd_app.messaging.models import OutboundSms, SmsOptOut, SmsPurpose
from ussd_app.partners.models import Partner
from ussd_app.partners.routing import facts_from_report, first_contact
from ussd_app.partners.snapshot import load_directory
from ussd_app.reports import retention
from ussd_app.reports.models import TraffickingReport
from ussd_app.returnees import checkins, referrals
from ussd_app.returnees.models import Registration
from ussd_app.staff import audit

log = logging.getLogger(__name__)

TAKEN_NOTICE = "Case {ref} has been taken by {partner}. No action needed from you."
# An urgent (P1) case is never called off by whoever takes it: an NGO following it up does not
# stand the police down from someone in danger now.
URGENT_TAKEN_NOTICE = (
    "Case {ref} is now followed up by {partner}. It is urgent: if you are responding, carry on."
)


def _audit(
    services: Services, uow: UnitOfWork, case: Case, actor: Actor, result: Result, action: str
) -> None:
    """The same audit row for an action by SMS and on the desk (DESIGN decision 13)."""
    if actor.is_system:
        return
    partner_id = uow.session.scalar(select(Partner.id).where(Partner.code == actor.partner_code))
    name = "refused" if result.outcome is machine.Outcome.REFUSED else action
    if result.outcome is machine.Outcome.NOT_NOW:
        name = f"{action}_not_now"
    audit.record(
        services,
        action=f"case.{name}",
        actor_id=actor.user_id,
        partner_id=partner_id,
        record_type="case",
        record_ref=case.ref,
        detail=f"channel={actor.channel}"
        + (f":contact={actor.contact_id}" if actor.contact_id else ""),
        uow=uow,
    )


def _done(
    services: Services, uow: UnitOfWork, case: Case, actor: Actor, result: Result, action: str
) -> Result:
    _audit(services, uow, case, actor, result, action)
    return result


def partner_name(uow: UnitOfWork, code: str | None) -> str:
    """A partner's display name for staff messages ("another partner" if unknown)."""
    if not code:
        return "another partner"
    name = uow.session.scalar(select(Partner.name).where(Partner.code == code))
    return name or "another partner"


def acknowledge(services: Services, uow: UnitOfWork, case: Case, actor: Actor) -> Result:
    """Take the case; the others alerted are told who took it (once per number)."""
    result = machine.apply(services, uow, case, CaseAction.ACKNOWLEDGED, actor)
    if result.done and isinstance(case, TraffickingReport):
        _notify_others(services, uow, case, actor)
    if result.done and isinstance(case, Registration):
        tell_returnee(services, uow, case, "taken")
    if result.done:
        _observe_time_to_ack(uow, case)
    return _done(services, uow, case, actor, result, "acknowledged")


def _observe_time_to_ack(uow: UnitOfWork, case: Case) -> None:
    """The time-to-acknowledge histogram, observed once the acknowledgement is committed."""
    filed, taken = getattr(case, "created_at", None), getattr(case, "acknowledged_at", None)
    if filed is None or taken is None:
        return
    if (filed.tzinfo is None) != (taken.tzinfo is None):
        filed, taken = filed.replace(tzinfo=None), taken.replace(tzinfo=None)
    seconds = max((taken - filed).total_seconds(), 0.0)
    kind = "report" if isinstance(case, TraffickingReport) else "registration"
    priority = str(getattr(case, "priority", "") or "-")
    uow.after_commit(
        lambda: metrics.TIME_TO_ACKNOWLEDGE.labels(kind=kind, priority=priority).observe(seconds)
    )


def close(
    services: Services,
    uow: UnitOfWork,
    case: Case,
    actor: Actor,
    *,
    outcome: str | None = None,
    note: str | None = None,
) -> Result:
    """Close the case with an outcome and note; a reporter's number is then kept 30 days."""
    result = machine.apply(
        services, uow, case, CaseAction.CLOSED, actor, outcome=outcome, note=note
    )
    if result.done and isinstance(case, TraffickingReport) and case.closed_at is not None:
        retention.schedule_purge_on_close(uow, case.id, case.closed_at)
    return _done(services, uow, case, actor, result, "closed")


def reopen(services: Services, uow: UnitOfWork, case: Case, actor: Actor) -> Result:
    result = machine.apply(services, uow, case, CaseAction.REOPENED, actor)
    return _done(services, uow, case, actor, result, "reopened")


def add_note(services: Services, uow: UnitOfWork, case: Case, actor: Actor, note: str) -> Result:
    if not note.strip():
        raise ValueError("a note needs some text")
    result = machine.apply(services, uow, case, CaseAction.NOTED, actor, note=note.strip())
    return _done(services, uow, case, actor, result, "noted")


def assign(
    services: Services, uow: UnitOfWork, case: Case, actor: Actor, assignee_user_id: int
) -> Result:
    """Give the case to a colleague of the holding partner (the desk checks the colleague)."""
    result = machine.apply(
        services,
        uow,
        case,
        CaseAction.ASSIGNED,
        actor,
        assignee_user_id=assignee_user_id,
        detail=f"user:{assignee_user_id}",
    )
    return _done(services, uow, case, actor, result, "assigned")


def on_report(
    services: Services,
    report_id: int,
    do: Callable[..., Result],
    actor: Actor,
    **kwargs: Any,
) -> tuple[Result, str]:
    """Run one action (`acknowledge`, `close`, ...) on a report in its own transaction.

    For callers without a unit of work of their own (the desk); returns the result and the
    report's reference.
    """
    with services.uow() as uow:
        report = uow.session.get(TraffickingReport, report_id)
        if report is None:
            raise LookupError(f"no report {report_id}")
        result = do(services, uow, report, actor, **kwargs)
        uow.commit()
        return result, report.ref


class UnknownPartner(ValueError):
    """A transfer named a partner that is not in the directory (or has no contact)."""


def transfer(
    services: Services,
    uow: UnitOfWork,
    report: TraffickingReport,
    actor: Actor,
    to_partner: str,
    *,
    note: str | None = None,
) -> Result:
    """Refer the case to another partner, which is alerted through the outbox and may take it."""
    directory = load_directory(uow.session)
    target = directory.partner(to_partner)
    contact = first_contact(target) if target is not None else None
    if target is None or contact is None or to_partner == actor.partner_code:
        raise UnknownPartner(f"cannot transfer to {to_partner!r}")
    result = machine.apply(
        services, uow, report, CaseAction.TRANSFERRED, actor, detail=to_partner, note=note
    )
    if result.done:
        facts = facts_from_report(report)
        outbox.stage(
            uow,
            services,
            to=contact.phone,
            body=alert_text(facts, "full" if report.priority == "P1" else "brief"),
            purpose=SmsPurpose.ALERT,
            key=f"transfer:{report.id}:{result.event.id if result.event else 0}:{to_partner}",
            report_id=report.id,
            partner_code=target.code,
            contact_id=contact.id,
            detail="full",
        )
    return _done(services, uow, report, actor, result, "transferred")


def _notify_others(
    services: Services, uow: UnitOfWork, report: TraffickingReport, actor: Actor
) -> None:
    """Tell everyone else alerted for this case who took it, once per number (an urgent case:
    without calling anyone off)."""
    partner = partner_name(uow, actor.partner_code)
    notice = URGENT_TAKEN_NOTICE if report.priority == "P1" else TAKEN_NOTICE
    taker_contacts = set()
    if actor.contact_id is not None:
        taker_contacts.add(actor.contact_id)
    rows = uow.session.execute(
        select(
            OutboundSms.to_hash,
            OutboundSms.to_enc,
            OutboundSms.contact_id,
            OutboundSms.partner_code,
        )
        .where(
            OutboundSms.report_id == report.id,
            OutboundSms.purpose.in_([SmsPurpose.ALERT.value, SmsPurpose.ESCALATION.value]),
        )
        .order_by(OutboundSms.id)
    ).all()
    seen: set[str] = set()
    for to_hash, to_enc, contact_id, code in rows:
        mine = code is not None and code == actor.partner_code  # the taker's own colleagues
        if to_hash in seen or mine or (contact_id is not None and contact_id in taker_contacts):
            seen.add(to_hash)
            continue
        seen.add(to_hash)
        outbox.stage(
            uow,
            services,
            to=services.cipher.decrypt(to_enc),
            body=notice.format(ref=report.ref, partner=partner),
            purpose=SmsPurpose.NOTICE,
            key=f"notice:{report.id}:{to_hash[:32]}",
            report_id=report.id,
            partner_code=code,
            contact_id=contact_id,
        )


def refer(
    services: Services,
    uow: UnitOfWork,
    registration: Registration,
    actor: Actor,
    *,
    need: str,
    status: str,
    service: str | None = None,
) -> Result:
    """Refer one need of a taken registration to a service, or move its referral on
    (accepted, delivered, declined, unreachable: `ussd_app.returnees.referrals`).

    Authority and the case event come from the state machine (the `referred` action, holder
    only, detail "need:status"); a move the referral table does not allow changes nothing.
    """
    if need not in (registration.needs or ()):
        raise ValueError(f"{need!r} is not one of this registration's needs")
    if status not in referrals.REFERRAL_STATUSES:
        raise ValueError(f"unknown referral status {status!r}")
    existing = uow.session.scalar(
        select(referrals.Referral).where(
            referrals.Referral.registration_id == registration.id,
            referrals.Referral.need == need,
        )
    )
    if not referrals.allowed(existing.status if existing else None, status):
        result = Result(machine.Outcome.NOT_NOW)
        return _done(services, uow, registration, actor, result, "referred")
    result = machine.apply(
        services,
        uow,
        registration,
        CaseAction.REFERRED,
        actor,
        detail=f"{need}:{status}",
        note=None,
    )
    if result.done:
        now = result.event.created_at if result.event else utcnow()
        if existing is None:
            uow.session.add(referrals.new_referral(registration.id, need, service, now))
        else:
            referrals.advance(existing, status, now)
            if service:
                existing.service = service
        if status == referrals.ReferralStatus.ACCEPTED.value:
            tell_returnee(services, uow, registration, "arranged", need=need)
    return _done(services, uow, registration, actor, result, "referred")


def record_check_in(
    services: Services,
    uow: UnitOfWork,
    registration: Registration,
    actor: Actor,
    *,
    answers: dict[str, str | None],
) -> Result:
    """The holder's case worker records the 90-day check-in from a call (issue 10, item 6).

    Authority and the case event come from the state machine (holder only); the answers are
    stored by `returnees.checkins.record_answers`, the one writer of check-ins, and never
    written to the event or the audit row.
    """
    checkins.check_answers(answers)  # bad answers change nothing, not even the event
    result = machine.apply(
        services, uow, registration, CaseAction.CHECKED_IN, actor, detail="round:1"
    )
    if result.done:
        checkins.record_answers(
            uow.session,
            registration,
            answers,
            answered_by=checkins.CheckInChannel.DESK,
            user_id=actor.user_id,
            now=result.event.created_at if result.event else None,
        )
    return _done(services, uow, registration, actor, result, "checked_in")


def returnee_may_get_sms(uow: UnitOfWork, registration: Registration) -> bool:
    """Whether the person chose SMS and has not sent STOP since (issue 10, item 5)."""
    if registration.contact_by != "sms" or not registration.sms_opt_in:
        return False
    stopped = uow.session.scalar(
        select(SmsOptOut.id).where(SmsOptOut.phone_hash == registration.phone_hash)
    )
    return stopped is None


def tell_returnee(
    services: Services,
    uow: UnitOfWork,
    registration: Registration,
    event: str,
    *,
    need: str | None = None,
) -> bool:
    """Stage the neutral SMS for `event` ("taken", "arranged") to a returnee who chose SMS.

    In the action's own transaction (nothing is sent unless the action commits), in their
    registration language, once per event: the key names the registration and, for an arranged
    service, the need (never in the text), so a referral accepted, lost and accepted again tells
    them once. The row carries the registration's id, so delete-my-data removes it with the rest.
    Returns whether a message was staged now.
    """
    if not returnee_may_get_sms(uow, registration):
        return False
    if event == "taken":
        body, key = returnee_taken_text(registration.ref, registration.language), "taken"
    elif event == "arranged" and need:
        body = returnee_arranged_text(registration.ref, registration.language)
        key = f"arranged:{need}"
    else:
        raise ValueError(f"unknown returnee event {event!r}")
    row = outbox.stage(
        uow,
        services,
        to=services.cipher.decrypt(registration.phone_enc),
        body=body,
        purpose=SmsPurpose.CONFIRMATION,
        key=f"returnee:{registration.id}:{key}",
        registration_id=registration.id,
    )
    return row is not None


def agree_plan(
    services: Services, uow: UnitOfWork, registration: Registration, actor: Actor
) -> Result:
    """Record that the registration's reintegration plan was agreed with the person (today).

    Holder only, through the state machine (the `plan_agreed` action sets `plan_agreed_on` and
    records the event); once agreed, a second attempt changes nothing (NOT_NOW).
    """
    if registration.plan_agreed_on is not None:
        result = Result(machine.Outcome.NOT_NOW)
    else:
        result = machine.apply(services, uow, registration, CaseAction.PLAN_AGREED, actor)
    return _done(services, uow, registration, actor, result, "plan_agreed")


def record_stay(
    services: Services,
    uow: UnitOfWork,
    registration: Registration,
    actor: Actor,
    *,
    stay_intent: str,
) -> Result:
    """Record whether the person came back to stay, is visiting, or is not sure yet (a code of
    `codes.STAY_INTENT`), as they said on a call. Holder only, through the state machine (the
    `stay_recorded` action sets `stay_intent`; the event keeps the code); the same answer again
    changes nothing (NOT_NOW)."""
    if stay_intent not in STAY_INTENT:
        raise ValueError(f"unknown stay intent {stay_intent!r}")
    if registration.stay_intent == stay_intent:
        result = Result(machine.Outcome.NOT_NOW)
    else:
        result = machine.apply(
            services, uow, registration, CaseAction.STAY_RECORDED, actor, detail=stay_intent
        )
    return _done(services, uow, registration, actor, result, "stay_recorded")


def on_registration(
    services: Services,
    registration_id: int,
    do: Callable[..., Result],
    actor: Actor,
    **kwargs: Any,
) -> tuple[Result, str]:
    """Like `on_report`, for a registration (desk callers without a unit of work)."""
    with services.uow() as uow:
        registration = uow.session.get(Registration, registration_id)
        if registration is None:
            raise LookupError(f"no registration {registration_id}")
        result = do(services, uow, registration, actor, **kwargs)
        uow.commit()
        return result, registration.ref
