"""The on-duty roster: which of a partner's phones receive its alerts now.

A supervisor changes it on the desk when a shift changes or a phone is away. The partners file
stays the directory (who the contacts are); its `on_duty` values are the starting roster, and
importing the file again resets the roster to them. A partner always keeps at least one phone on
duty: alerts must reach someone.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select

from ussd_app.container import Services
from ussd_app.partners.models import Partner, PartnerContact


@dataclass(frozen=True)
class RosterEntry:
    contact_id: int
    name: str
    phone: str  # a work phone of partner staff, not a reporter's
    on_duty: bool
    is_escalation: bool


class RosterError(ValueError):
    """The change would leave the partner with no phone on duty, or names another partner's."""


def roster(services: Services, partner_code: str) -> list[RosterEntry]:
    """The partner's active contacts in the order alerts try them."""
    with services.uow() as uow:
        rows = uow.session.scalars(
            select(PartnerContact)
            .join(Partner)
            .where(Partner.code == partner_code, PartnerContact.active)
            .order_by(PartnerContact.position, PartnerContact.id)
        ).all()
        return [RosterEntry(c.id, c.name, c.phone, c.on_duty, c.is_escalation) for c in rows]


def set_on_duty(services: Services, partner_code: str, on_duty_ids: set[int]) -> list[int]:
    """Put exactly `on_duty_ids` of the partner's contacts on duty; returns the ids changed."""
    with services.uow() as uow:
        contacts = uow.session.scalars(
            select(PartnerContact)
            .join(Partner)
            .where(Partner.code == partner_code, PartnerContact.active)
        ).all()
        known = {c.id for c in contacts}
        if on_duty_ids - known:
            raise RosterError("a contact of another partner was named")
        if not on_duty_ids:
            raise RosterError("at least one phone must stay on duty")
        changed = []
        for contact in contacts:
            wanted = contact.id in on_duty_ids
            if contact.on_duty != wanted:
                contact.on_duty = wanted
                changed.append(contact.id)
        uow.commit()
        return sorted(changed)
