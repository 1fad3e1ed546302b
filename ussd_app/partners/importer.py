"""Importing the partners file: make the partners directory in the database match it, in one commit.

The file is the whole directory. It is validated completely first (`file_format`); a bad file is
refused whole and nothing is ever half imported. Partners are matched by code and contacts by
phone number; those no longer in the file are deactivated, not deleted (alert rows refer to
them). The summary counts only real changes, so importing an unchanged file reports none.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload, sessionmaker

from ussd_app.db import UnitOfWork
from ussd_app.partners.file_format import PartnerSpec, read_partners_file
from ussd_app.partners.models import Partner, PartnerContact, as_list


@dataclass(frozen=True)
class ImportSummary:
    """What an import changed; partner codes are listed, contacts counted."""

    created: tuple[str, ...]
    updated: tuple[str, ...]
    deactivated: tuple[str, ...]
    contacts_created: int
    contacts_updated: int
    contacts_deactivated: int

    def __str__(self) -> str:
        return (
            f"partners: {len(self.created)} new, {len(self.updated)} updated, "
            f"{len(self.deactivated)} deactivated; contacts: {self.contacts_created} new, "
            f"{self.contacts_updated} updated, {self.contacts_deactivated} deactivated"
        )


def import_partners(
    target: sessionmaker[Session] | UnitOfWork, path: str | os.PathLike[str]
) -> ImportSummary:
    """Validate the partners file at `path`, then make the database match it in one commit.

    `target` is a session factory or a (not yet entered) UnitOfWork. Partners are matched by
    code and contacts by phone number (a contact moving between partners keeps its id). Raises
    PartnersFileError, before touching the database, if the file has any problem.
    """
    specs = read_partners_file(path)
    uow = target if isinstance(target, UnitOfWork) else UnitOfWork(target)
    with uow:
        summary = _apply(uow.session, specs)
        uow.commit()
    return summary


def _apply(session: Session, specs: list[PartnerSpec]) -> ImportSummary:
    partners = {
        p.code: p for p in session.scalars(select(Partner).options(selectinload(Partner.contacts)))
    }
    contacts = {c.phone: c for c in session.scalars(select(PartnerContact))}
    partners_before = _partner_states(partners.values(), contacts.values())
    contacts_before = {phone: _contact_state(row) for phone, row in contacts.items()}
    created: list[str] = []
    contacts_created = 0
    in_file_phones: set[str] = set()
    for spec in specs:
        partner = partners.get(spec.code)
        if partner is None:
            partner = Partner(code=spec.code)
            session.add(partner)
            partners[spec.code] = partner
            created.append(spec.code)
        partner.name = spec.name
        partner.kind = spec.kind
        partner.is_national_desk = spec.national_desk
        partner.districts = list(spec.districts)
        partner.border_posts = list(spec.border_posts)
        partner.case_kinds = list(spec.case_kinds)
        partner.returnee_needs = list(spec.returnee_needs)
        partner.is_programme_partner = spec.programme_partner
        partner.border_health_posts = list(spec.border_health_posts)
        partner.active = spec.active
        for cspec in spec.contacts:
            in_file_phones.add(cspec.phone)
            row = contacts.get(cspec.phone)
            if row is None:
                row = PartnerContact(phone=cspec.phone)
                session.add(row)
                contacts[cspec.phone] = row
                contacts_created += 1
            row.partner = partner
            row.name = cspec.name
            row.on_duty = cspec.on_duty
            row.is_escalation = cspec.escalation
            row.position = cspec.position
            row.active = True
    in_file_codes = {s.code for s in specs}
    deactivated = []
    for code, partner in partners.items():
        if code not in in_file_codes and partner.active:
            partner.active = False
            deactivated.append(code)
    contacts_deactivated = 0
    for phone, row in contacts.items():
        if phone not in in_file_phones and row.active:
            row.active = False
            row.on_duty = False
            row.is_escalation = False
            contacts_deactivated += 1
    # Updated means really changed: a partner whose fields or active contacts differ now, a
    # contact in the file whose partner, name, duty, escalation, position or activity differs.
    partners_after = _partner_states(partners.values(), contacts.values())
    updated = [
        s.code
        for s in specs
        if s.code in partners_before and partners_after[s.code] != partners_before[s.code]
    ]
    contacts_updated = sum(
        1
        for phone in in_file_phones
        if phone in contacts_before and _contact_state(contacts[phone]) != contacts_before[phone]
    )
    session.flush()
    return ImportSummary(
        tuple(created),
        tuple(updated),
        tuple(sorted(deactivated)),
        contacts_created,
        contacts_updated,
        contacts_deactivated,
    )


_ContactState = tuple[str, str, bool, bool, int, bool]


def _contact_state(row: PartnerContact) -> _ContactState:
    """What the file sets on a contact: its partner, name, duty, escalation, order, activity."""
    return (
        row.partner.code,
        row.name,
        row.on_duty,
        row.is_escalation,
        row.position,
        row.active,
    )


def _partner_states(
    partners: Iterable[Partner], contacts: Iterable[PartnerContact]
) -> dict[str, tuple[object, ...]]:
    """Each partner's fields and its active contacts, as comparable values, by code."""
    active: dict[str, list[tuple[str, _ContactState]]] = {}
    for row in contacts:
        if row.active:
            active.setdefault(row.partner.code, []).append((row.phone, _contact_state(row)))
    return {
        p.code: (
            p.name,
            p.kind,
            p.is_national_desk,
            tuple(as_list(p.districts)),
            tuple(as_list(p.border_posts)),
            tuple(as_list(p.case_kinds)),
            tuple(as_list(p.returnee_needs)),
            bool(p.is_programme_partner),
            tuple(as_list(p.border_health_posts)),
            p.active,
            tuple(sorted(active.get(p.code, []))),
        )
        for p in partners
    }
