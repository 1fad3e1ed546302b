"""The partners directory as routing reads it: a snapshot of plain, frozen data.

`load_directory` reads the active partners and their active contacts from the database;
`directory_from_specs` builds the same shape straight from a validated partners file (previews,
tests). Routing (`ussd_app.partners.routing`) never sees the ORM rows.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from ussd_app.partners.file_format import PartnerSpec
from ussd_app.partners.models import Partner, PartnerContact, as_list


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


_PARTNER_COLUMNS = (
    Partner.id,
    Partner.code,
    Partner.name,
    Partner.kind,
    Partner.is_national_desk,
    Partner.districts,
    Partner.border_posts,
    Partner.case_kinds,
    Partner.returnee_needs,
    Partner.is_programme_partner,
    Partner.border_health_posts,
)
_CONTACT_COLUMNS = (
    PartnerContact.id,
    PartnerContact.name,
    PartnerContact.phone,
    PartnerContact.on_duty,
    PartnerContact.is_escalation,
    PartnerContact.position,
)
_DIRECTORY_QUERY = (
    select(*_PARTNER_COLUMNS, *_CONTACT_COLUMNS)
    .outerjoin(
        PartnerContact,
        (PartnerContact.partner_id == Partner.id) & PartnerContact.active.is_(True),
    )
    .where(Partner.active.is_(True))
    .order_by(Partner.code, PartnerContact.position, PartnerContact.id)
)
_N_PARTNER = len(_PARTNER_COLUMNS)


class _LastSnapshot:
    """The last snapshot built in this process and the rows it was built from.

    Every routing reads the directory's rows afresh in its own transaction (so an on-duty change
    committed a moment ago is always seen); only when they equal the last rows is the snapshot
    built from them reused, which saves building it for every report. A cache that could be
    stale would send an alert to someone off duty.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._rows: list[tuple[Any, ...]] | None = None
        self._snapshot: DirectorySnapshot | None = None

    def get(self, rows: list[tuple[Any, ...]]) -> DirectorySnapshot:
        with self._lock:
            if self._snapshot is not None and rows == self._rows:
                return self._snapshot
        snapshot = _build(rows)
        with self._lock:
            self._rows, self._snapshot = rows, snapshot
        return snapshot


_last = _LastSnapshot()


def load_directory(session: Session) -> DirectorySnapshot:
    """Read the active partners and their active contacts into a snapshot (one query)."""
    rows = [tuple(r) for r in session.execute(_DIRECTORY_QUERY)]
    return _last.get(rows)


def _build(rows: list[tuple[Any, ...]]) -> DirectorySnapshot:
    """The snapshot of the directory query's rows (a partner's row repeats per contact)."""
    partners: list[PartnerInfo] = []
    contacts: list[ContactInfo] = []
    current: tuple[Any, ...] | None = None

    def close() -> None:
        if current is None:
            return
        (pid, code, name, kind, national, districts, posts, kinds, needs, programme, health) = (
            current
        )
        partners.append(
            PartnerInfo(
                id=pid,
                code=code,
                name=name,
                kind=kind,
                is_national_desk=bool(national),
                districts=frozenset(as_list(districts)),
                border_posts=frozenset(as_list(posts)),
                case_kinds=frozenset(as_list(kinds)),
                returnee_needs=frozenset(as_list(needs)),
                is_programme_partner=bool(programme),
                border_health_posts=frozenset(as_list(health)),
                contacts=tuple(contacts),
            )
        )

    for row in rows:
        partner, contact = row[:_N_PARTNER], row[_N_PARTNER:]
        if current is None or partner[0] != current[0]:
            close()
            current, contacts = partner, []
        if contact[0] is not None:
            cid, cname, phone, on_duty, escalation, position = contact
            contacts.append(
                ContactInfo(
                    cid, partner[1], cname, phone, bool(on_duty), bool(escalation), position
                )
            )
    close()
    return DirectorySnapshot(tuple(partners))


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


def directory_for_routing(session: Session) -> DirectorySnapshot:
    """The directory as this transaction first read it for routing: a routing job that routes
    several waiting reports together (`cases.staging`) reads the directory once, not per report.
    The session lives one transaction (`db.UnitOfWork`), so nothing older is ever reused."""
    snapshot = session.info.get(_ROUTING_KEY)
    if not isinstance(snapshot, DirectorySnapshot):
        snapshot = load_directory(session)
        session.info[_ROUTING_KEY] = snapshot
    return snapshot


_ROUTING_KEY = "partners.directory_for_routing"
