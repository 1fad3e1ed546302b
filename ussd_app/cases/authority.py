"""Who may act on a case (DESIGN decision 12: authority follows the alert).

One rule for SMS commands and desk actions alike: a partner may act on a case only if it was
alerted to it (an alert or escalation was staged for one of its contacts) or holds it; actions
reserved to the holder need the holding partner, or, while nobody holds the case, a partner that
was alerted. The system (sweeper, worker) acts only on system actions. Callers never decide this
themselves: `ussd_app.cases.machine.apply` asks here and records every refusal.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import Any, Literal

from sqlalchemy import Select, or_, select
from sqlalchemy.orm import Session

from ussd_app.messaging.models import OutboundSms, SmsPurpose
from ussd_app.reports.models import TraffickingReport
from ussd_app.returnees.models import Registration

Case = TraffickingReport | Registration


class Who(enum.StrEnum):
    """Who may cause an action."""

    SYSTEM = "system"  # the service itself (sweeper, worker)
    ALERTED = "alerted"  # a partner alerted to the case, or holding it
    HOLDER = "holder"  # the partner holding it; while nobody holds it, any alerted partner


Channel = Literal["sms", "desk", "system"]


@dataclass(frozen=True)
class Actor:
    """Who is acting: a partner contact by SMS, a staff user on the desk, or the system."""

    channel: Channel
    partner_code: str | None = None
    contact_id: int | None = None
    user_id: int | None = None

    @property
    def is_system(self) -> bool:
        return self.channel == "system"


SYSTEM = Actor("system")


ALERTING_PURPOSES = (SmsPurpose.ALERT.value, SmsPurpose.ESCALATION.value)


def alerted_partners(session: Session, case: Case) -> set[str]:
    """Codes of the partners alerted to `case` (staged alerts count: they are on their way)."""
    column = (
        OutboundSms.report_id
        if isinstance(case, TraffickingReport)
        else OutboundSms.registration_id
    )
    rows = session.scalars(
        select(OutboundSms.partner_code)
        .where(column == case.id, OutboundSms.purpose.in_(ALERTING_PURPOSES))
        .distinct()
    ).all()
    return {code for code in rows if code}


def visible_to(partner_code: str, model: type[Case]) -> Select[Any]:
    """The cases of `model` that `partner_code` may see, as a query: alerted to it, or held by
    it. The SQL form of `may_see`, for lists (the desk's inboxes)."""
    column = OutboundSms.report_id if model is TraffickingReport else OutboundSms.registration_id
    alerted = select(column).where(
        OutboundSms.partner_code == partner_code,
        OutboundSms.purpose.in_(ALERTING_PURPOSES),
        column.is_not(None),
    )
    return select(model).where(
        or_(model.holder_partner_code == partner_code, model.id.in_(alerted))
    )


def may_see(session: Session, case: Case, partner_code: str | None) -> bool:
    """Whether staff of `partner_code` may see `case` at all (desk lists and pages)."""
    if not partner_code:
        return False
    return partner_code == case.holder_partner_code or partner_code in alerted_partners(
        session, case
    )


def may(session: Session, case: Case, actor: Actor, who: Who) -> bool:
    """Whether `actor` may cause an action that `who` may cause, on `case`."""
    if who is Who.SYSTEM or actor.is_system:
        return who is Who.SYSTEM and actor.is_system
    code = actor.partner_code
    if not code:
        return False
    if who is Who.HOLDER and case.holder_partner_code:
        return code == case.holder_partner_code
    return may_see(session, case, code)
