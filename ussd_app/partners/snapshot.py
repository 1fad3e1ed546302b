"""The partners directory as routing reads it: a snapshot of plain, frozen data.

`load_directory` reads the active partners and their active contacts from the database;
`directory_from_specs` builds the same shape straight from a validated partners file (previews,
tests). Routing (`ussd_app.partners.routing`) never sees the ORM rows.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from ussd_app.partners.file_format import PartnerSpec
from ussd_app.partners.models import Partner, as_list


@dataclass(frozen=True)
class ContactInfo:
    """A partner contact as routing sees it."""

    id: int
    partner_code: str
    name: str
    phone: str
    on_duty: bool
    is_escalation: bool
    position: int


@dataclass(frozen=True)
class PartnerInfo:
    """An active partner as routing sees it; `contacts` are active ones, in position order."""

    id: int
    code: str
    name: str
    kind: str
    is_national_desk: bool
    districts: frozenset[str]
    border_posts: frozenset[str]
    case_kinds: frozenset[str]
    contacts: tuple[ContactInfo, ...]
    returnee_needs: frozenset[str] = frozenset()
    is_programme_partner: bool = False
    border_health_posts: frozenset[str] = frozenset()

    @property
    def nationwide(self) -> bool:
        return not self.districts and not self.border_posts


@dataclass(frozen=True)
class DirectorySnapshot:
    """Every active partner and contact at one moment: plain data, safe to keep and share."""

    partners: tuple[PartnerInfo, ...]

    def partner(self, code: str) -> PartnerInfo | None:
        return next((p for p in self.partners if p.code == code), None)

    @property
    def national_desk(self) -> PartnerInfo | None:
        return next((p for p in self.partners if p.is_national_desk), None)

    def contact(self, contact_id: int) -> ContactInfo | None:
        for partner in self.partners:
            for contact in partner.contacts:
                if contact.id == contact_id:
                    return contact
        return None


def load_directory(session: Session) -> DirectorySnapshot:
    """Read the active partners and their active contacts into a snapshot."""
    rows = session.scalars(
        select(Partner)
        .where(Partner.active.is_(True))
        .options(selectinload(Partner.contacts))
        .order_by(Partner.code)
    )
    return DirectorySnapshot(
        tuple(
            PartnerInfo(
                id=p.id,
                code=p.code,
                name=p.name,
                kind=p.kind,
                is_national_desk=p.is_national_desk,
                districts=frozenset(as_list(p.districts)),
                border_posts=frozenset(as_list(p.border_posts)),
                case_kinds=frozenset(as_list(p.case_kinds)),
                returnee_needs=frozenset(as_list(p.returnee_needs)),
                is_programme_partner=bool(p.is_programme_partner),
                border_health_posts=frozenset(as_list(p.border_health_posts)),
                contacts=tuple(
                    ContactInfo(
                        c.id, p.code, c.name, c.phone, c.on_duty, c.is_escalation, c.position
                    )
                    for c in sorted(p.contacts, key=lambda c: (c.position, c.id))
                    if c.active
                ),
            )
            for p in rows
        )
    )


def directory_from_specs(specs: Iterable[PartnerSpec]) -> DirectorySnapshot:
    """A snapshot straight from a validated file (ids numbered in file order), without a DB.

    For `partners check`-style previews and tests; alerts must use `load_directory`, whose
    contact ids are the real ones.
    """
    partners: list[PartnerInfo] = []
    next_id = 1
    for pid, spec in enumerate((s for s in specs if s.active), start=1):
        infos = []
        for c in spec.contacts:
            infos.append(
                ContactInfo(
                    next_id, spec.code, c.name, c.phone, c.on_duty, c.escalation, c.position
                )
            )
            next_id += 1
        partners.append(
            PartnerInfo(
                id=pid,
                code=spec.code,
                name=spec.name,
                kind=spec.kind,
                is_national_desk=spec.national_desk,
                districts=frozenset(spec.districts),
                border_posts=frozenset(spec.border_posts),
                case_kinds=frozenset(spec.case_kinds),
                returnee_needs=frozenset(spec.returnee_needs),
                is_programme_partner=spec.programme_partner,
                border_health_posts=frozenset(spec.border_health_posts),
                contacts=tuple(infos),
            )
        )
    return DirectorySnapshot(tuple(sorted(partners, key=lambda p: p.code)))
