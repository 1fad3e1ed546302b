"""The case state machine: one table per kind of case, one function that applies an action.

A report moves received -> sent (alerted) -> acknowledged -> closed, and may be reopened or
transferred; a registration moves new -> contacted -> referred -> closed. SMS commands, the
sweeper and the staff desk all call `apply` (DESIGN decision 11): it checks the table, checks
who may act (`ussd_app.cases.authority`, DESIGN decision 12), changes the case, and records one
`CaseEvent`; a refused attempt is recorded too. Nothing else writes a case's status.
"""

from __future__ import annotations

import datetime as dt
import enum
from dataclasses import dataclass

from sqlalchemy.exc import IntegrityError

from ussd_app.cases import authority
from ussd_app.cases.authority import Actor, Case, Who
from ussd_app.cases.models import CaseEvent
from ussd_app.container import Services
from ussd_app.db import UnitOfWork, utcnow
from ussd_app.reports.models import ReportStatus, TraffickingReport
from ussd_app.returnees.models import RegistrationStatus


class CaseAction(enum.StrEnum):
    ALERTED = "alerted"  # system: the first alert was accepted (the outbox row is its record)
    ACKNOWLEDGED = "acknowledged"  # a partner takes the case
    ASSIGNED = "assigned"  # the holder gives it to a colleague (desk)
    TRANSFERRED = "transferred"  # the holder refers it to another partner, who is alerted
    REFERRED = "referred"  # a registration's need referred to a service
    PLAN_AGREED = "plan_agreed"  # a registration's reintegration plan was agreed with the person
    NOTED = "noted"  # a note (encrypted)
    CLOSED = "closed"  # with an outcome
    REOPENED = "reopened"
    ESCALATED = "escalated"  # system: nobody took it in time
    REFUSED = "refused"  # someone without authority tried an action (detail says which)
    CHECKED_IN = "checked_in"  # a registration's follow-up check-in recorded from a call (desk)
    # Whether the person came back to stay or is visiting, recorded from a call (desk): the USSD
    # registration no longer asks it (a screen fewer), the programme still counts it.
    STAY_RECORDED = "stay_recorded"


class Outcome(enum.StrEnum):
    DONE = "done"
    NOT_NOW = "not_now"  # not from the case's current status (e.g. already taken, closed)
    REFUSED = "refused"  # the actor has no authority over this case (recorded)


CLOSE_OUTCOMES: dict[str, str] = {
    "investigated": "Investigated",
    "assisted": "Person assisted",
    "nothing_found": "Nothing found",
    "not_located": "Could not locate",
    "duplicate": "Duplicate",
    "referred_out": "Referred outside the network",
    "other": "Other",
}


@dataclass(frozen=True)
class Rule:
    sources: frozenset[str]
    target: str | None  # None: the status does not change
    who: Who


_R, _A, _K, _C = (
    ReportStatus.RECEIVED.value,
    ReportStatus.ALERTED.value,
    ReportStatus.ACKNOWLEDGED.value,
    ReportStatus.CLOSED.value,
)
REPORT_RULES: dict[CaseAction, Rule] = {
    CaseAction.ALERTED: Rule(frozenset({_R}), _A, Who.SYSTEM),
    CaseAction.ACKNOWLEDGED: Rule(frozenset({_R, _A}), _K, Who.ALERTED),
    CaseAction.ASSIGNED: Rule(frozenset({_K}), None, Who.HOLDER),
    CaseAction.TRANSFERRED: Rule(frozenset({_R, _A, _K}), _A, Who.HOLDER),
    CaseAction.NOTED: Rule(frozenset({_R, _A, _K, _C}), None, Who.ALERTED),
    CaseAction.CLOSED: Rule(frozenset({_R, _A, _K}), _C, Who.HOLDER),
    CaseAction.REOPENED: Rule(frozenset({_C}), _K, Who.HOLDER),
    CaseAction.ESCALATED: Rule(frozenset({_R, _A}), None, Who.SYSTEM),
}

_N, _T, _F, _X = (
    RegistrationStatus.NEW.value,
    RegistrationStatus.CONTACTED.value,
    RegistrationStatus.REFERRED.value,
    RegistrationStatus.CLOSED.value,
)
REGISTRATION_RULES: dict[CaseAction, Rule] = {
    CaseAction.ACKNOWLEDGED: Rule(frozenset({_N}), _T, Who.ALERTED),
    CaseAction.ASSIGNED: Rule(frozenset({_T, _F}), None, Who.HOLDER),
    CaseAction.REFERRED: Rule(frozenset({_T, _F}), _F, Who.HOLDER),
    CaseAction.PLAN_AGREED: Rule(frozenset({_T, _F}), None, Who.HOLDER),
    CaseAction.NOTED: Rule(frozenset({_N, _T, _F, _X}), None, Who.ALERTED),
    CaseAction.CLOSED: Rule(frozenset({_N, _T, _F}), _X, Who.HOLDER),
    CaseAction.REOPENED: Rule(frozenset({_X}), _T, Who.HOLDER),
    # Nobody took it in time: the partners told of it are told once more (cases.followup).
    CaseAction.ESCALATED: Rule(frozenset({_N}), None, Who.SYSTEM),
    # The holder's case worker called and records the 90-day check-in (returnees.checkins).
    CaseAction.CHECKED_IN: Rule(frozenset({_T, _F, _X}), None, Who.HOLDER),
    CaseAction.STAY_RECORDED: Rule(frozenset({_T, _F, _X}), None, Who.HOLDER),
}

# How a registration's follow-up ended (the desk's close form for registrations).
REGISTRATION_CLOSE_OUTCOMES: dict[str, str] = {
    "assisted": "Person assisted, services delivered",
    "reintegrated": "Settled, no more help needed",
    "declined_help": "Person declined help",
    "not_located": "Could not reach the person",
    "moved_away": "Moved away or migrated again",
    "duplicate": "Duplicate",
    "other": "Other",
}


@dataclass(frozen=True)
class Result:
    outcome: Outcome
    event: CaseEvent | None = None

    @property
    def done(self) -> bool:
        return self.outcome is Outcome.DONE


def rules_for(case: Case) -> dict[CaseAction, Rule]:
    return REPORT_RULES if isinstance(case, TraffickingReport) else REGISTRATION_RULES


def apply(
    services: Services,
    uow: UnitOfWork,
    case: Case,
    action: CaseAction,
    actor: Actor,
    *,
    note: str | None = None,
    outcome: str | None = None,
    detail: str | None = None,
    assignee_user_id: int | None = None,
    level: int = 0,
    now: dt.datetime | None = None,
) -> Result:
    """Apply `action` to `case` for `actor` in `uow`'s transaction (the caller commits).

    Refusals (no authority) are recorded as a `refused` event and change nothing else. An action
    not allowed from the case's status changes nothing and records nothing (`NOT_NOW`), e.g. a
    second ACK or an escalation of a case already taken.
    """
    rule = rules_for(case).get(action)
    if rule is None:
        raise ValueError(f"{action} does not apply to a {type(case).__name__}")
    now = now or utcnow()
    if not authority.may(uow.session, case, actor, rule.who):
        event = _event(services, case, CaseAction.REFUSED, actor, detail=action.value, now=now)
        uow.session.add(event)
        return Result(Outcome.REFUSED, event)
    if case.status not in rule.sources:
        return Result(Outcome.NOT_NOW)
    is_report = isinstance(case, TraffickingReport)
    outcomes = CLOSE_OUTCOMES if is_report else REGISTRATION_CLOSE_OUTCOMES
    if action is CaseAction.CLOSED and outcome is not None and outcome not in outcomes:
        raise ValueError(f"unknown closing outcome {outcome!r}")
    if rule.target is not None:
        case.status = rule.target
    _effects(
        case,
        action,
        actor,
        outcome=outcome,
        assignee_user_id=assignee_user_id,
        detail=detail,
        now=now,
    )
    if action is CaseAction.ALERTED:
        return Result(Outcome.DONE)  # the accepted outbox row is the record of it
    event = _event(
        services, case, action, actor, note=note, outcome=outcome, detail=detail, now=now
    )
    event.level = level
    if action is CaseAction.ESCALATED:
        # Once per level, however often (or from however many sweepers) it is tried.
        try:
            with uow.session.begin_nested():
                uow.session.add(event)
        except IntegrityError:
            return Result(Outcome.NOT_NOW)
        return Result(Outcome.DONE, event)
    uow.session.add(event)
    return Result(Outcome.DONE, event)


def _effects(
    case: Case,
    action: CaseAction,
    actor: Actor,
    *,
    outcome: str | None,
    assignee_user_id: int | None,
    detail: str | None,
    now: dt.datetime,
) -> None:
    """What an action changes on the case besides its status."""
    if action is CaseAction.ACKNOWLEDGED:
        case.holder_partner_code = actor.partner_code
        case.assignee_user_id = actor.user_id
        if isinstance(case, TraffickingReport):
            case.acknowledged_at = case.acknowledged_at or now
    elif action is CaseAction.ASSIGNED:
        case.assignee_user_id = assignee_user_id
    elif action is CaseAction.TRANSFERRED:
        case.holder_partner_code = None
        case.assignee_user_id = None
    elif action is CaseAction.CLOSED:
        case.holder_partner_code = case.holder_partner_code or actor.partner_code
        case.outcome = outcome
        if isinstance(case, TraffickingReport):
            case.closed_at = now
            case.acknowledged_at = case.acknowledged_at or now
    elif action is CaseAction.PLAN_AGREED and not isinstance(case, TraffickingReport):
        case.plan_agreed_on = now.date()
    elif action is CaseAction.STAY_RECORDED and not isinstance(case, TraffickingReport):
        case.stay_intent = detail
    elif action is CaseAction.REOPENED:
        case.outcome = None
        if isinstance(case, TraffickingReport):
            case.closed_at = None


def _event(
    services: Services,
    case: Case,
    action: CaseAction,
    actor: Actor,
    *,
    note: str | None = None,
    outcome: str | None = None,
    detail: str | None = None,
    now: dt.datetime,
) -> CaseEvent:
    is_report = isinstance(case, TraffickingReport)
    return CaseEvent(
        report_id=case.id if is_report else None,
        registration_id=None if is_report else case.id,
        action=action.value,
        channel=actor.channel,
        partner_code=actor.partner_code,
        contact_id=actor.contact_id,
        user_id=actor.user_id,
        outcome=outcome,
        detail=(detail or None) and detail[:64],
        note_enc=services.cipher.encrypt(note) if note else None,
        created_at=now,
    )
