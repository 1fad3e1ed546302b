"""Who hears about a trafficking report: pure rules over `ReportFacts` and a `DirectorySnapshot`.

Rules (domain-lesotho.md 2.3; DESIGN.md decision 8):

1. The national anti-trafficking duty desk gets every report.
2. Police focal points covering the report's place: for a border post, the post's own focal
   point and the focal point of the post's district; for a district, that district's.
3. NGOs (and nationwide police units such as the child-protection unit) covering the place and
   the case kind: Beautiful Dream Society at the posts it monitors; child-protection partners
   only when a child is or may be involved.
4. One contact per partner: its first on-duty contact (lowest position); a partner with nobody
   on duty falls back to its escalation contact. No number is alerted twice.
5. P1 sends full detail (codes only) to everyone; P2 and P3 send a brief "see the desk" text.

A partner "covers" a place when it is nationwide (no districts and no border posts), lists the
post, or lists the district the place lies in. Nothing here reads the reporter's number or
free text: `ReportFacts` cannot hold them, and `facts_from_report` copies only whitelisted
fields.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any, Literal, cast

from ussd_app.codes import (
    BORDER_POSTS,
    CHILD_INVOLVED,
    DISTRICTS,
    NEEDS,
    PRIORITIES,
    RED_FLAGS,
    WHEN_SEEN,
    place_district,
)
from ussd_app.partners.snapshot import ContactInfo, DirectorySnapshot, PartnerInfo

Priority = Literal["P1", "P2", "P3"]
Role = Literal["duty_desk", "focal_point", "ngo", "escalation"]
Detail = Literal["full", "brief"]

_REF_RE = re.compile(r"^[A-Za-z0-9-]{1,16}$")
_ROLE_ORDER: dict[str, int] = {"duty_desk": 0, "focal_point": 1, "ngo": 2, "escalation": 3}


@dataclass(frozen=True)
class ReportFacts:
    """The only report fields alerts may use: codes and the reference, nothing identifying.

    `place` is a border-post code, a district code, "other" or None; `district` is the district
    the reporter chose when the place is not a post (optional).
    """

    ref: str
    priority: Priority
    place: str | None = None
    district: str | None = None
    child_involved: str | None = None  # "yes" | "no" | "unsure" | None (not answered)
    flags: frozenset[str] = field(default_factory=frozenset)
    when_seen: str | None = None  # "now" | "today" | "this_week" | "earlier" | None
    incomplete: bool = False

    def __post_init__(self) -> None:
        if not self.place:
            object.__setattr__(self, "place", None)  # "" and None both mean "not answered"
        given: object = self.flags  # callers may pass a list or set; store a frozenset
        if not isinstance(given, frozenset):
            object.__setattr__(self, "flags", frozenset(cast(Iterable[str], given)))
        if not _REF_RE.match(self.ref):
            raise ValueError(f"reference {self.ref!r} must be 1-16 letters, digits or '-'")
        if self.priority not in PRIORITIES:
            raise ValueError(f"priority {self.priority!r} is not one of {PRIORITIES}")
        if unknown := sorted(self.flags - set(RED_FLAGS)):
            raise ValueError(f"unknown red-flag codes {unknown}")
        if self.district is not None and self.district not in DISTRICTS:
            raise ValueError(f"unknown district {self.district!r}")
        if self.child_involved is not None and self.child_involved not in CHILD_INVOLVED:
            raise ValueError(
                f"child_involved {self.child_involved!r} is not one of {CHILD_INVOLVED}"
            )
        if self.when_seen is not None and self.when_seen not in WHEN_SEEN:
            raise ValueError(f"when_seen {self.when_seen!r} is not one of {WHEN_SEEN}")

    @property
    def child_maybe(self) -> bool:
        """A child is or may be involved: child-protection partners must hear."""
        return self.child_involved in ("yes", "unsure")

    @property
    def case_kinds(self) -> frozenset[str]:
        return frozenset({"trafficking", "child"} if self.child_maybe else {"trafficking"})

    @property
    def place_district(self) -> str | None:
        """The district of the place (a post's district), else the district answered."""
        return place_district(self.place) or self.district


def facts_from_report(report: Mapping[str, Any] | object) -> ReportFacts:
    """Copy the whitelisted fields of a report (a mapping or an ORM row) into `ReportFacts`.

    This is the boundary that keeps the reporter's number and free text out of alerts: nothing
    but the listed codes is read. Unknown flag, district or answer codes are dropped rather than
    raised, so a report with an odd value still reaches the duty desk.
    """

    def get(name: str) -> Any:
        if isinstance(report, Mapping):
            return report.get(name)
        return getattr(report, name, None)

    raw_flags = get("flags") or ()
    if isinstance(raw_flags, str):
        raw_flags = re.split(r"[\s,;]+", raw_flags)
    flags = frozenset(str(f).strip().upper() for f in raw_flags) & set(RED_FLAGS)
    district = get("district")
    child = get("child_involved")
    when = get("when_seen")
    place = get("place")
    priority = str(get("priority") or "P3")
    return ReportFacts(
        ref=str(get("ref")),
        priority=priority if priority in PRIORITIES else "P3",  # type: ignore[arg-type]
        place=str(place) if place else None,
        district=district if district in DISTRICTS else None,
        child_involved=child if child in CHILD_INVOLVED else None,
        flags=flags,
        when_seen=when if when in WHEN_SEEN else None,
        incomplete=bool(get("incomplete")),
    )


@dataclass(frozen=True)
class Recipient:
    """One SMS alert to send: which partner, which contact, why, and how much detail."""

    partner_code: str
    contact_id: int
    phone: str
    role: Role
    detail: Detail

    def with_contact(self, contact: ContactInfo) -> Recipient:
        """The same alert for another contact of the partner (fall-through)."""
        return replace(self, contact_id=contact.id, phone=contact.phone)


def covers_place(partner: PartnerInfo, facts: ReportFacts) -> bool:
    """True when the partner works where the report's place is."""
    if partner.nationwide:
        return True
    if facts.place in BORDER_POSTS and facts.place in partner.border_posts:
        return True
    district = facts.place_district
    return district is not None and district in partner.districts


def _role(partner: PartnerInfo) -> Role:
    if partner.is_national_desk:
        return "duty_desk"
    return "focal_point" if partner.kind == "police" else "ngo"


def first_contact(partner: PartnerInfo) -> ContactInfo | None:
    """The contact to alert: first on duty by position, else the first escalation contact."""
    chain = contact_chain(partner)
    return chain[0] if chain else None


def contact_chain(partner: PartnerInfo) -> list[ContactInfo]:
    """The order in which a partner's contacts are tried: on duty first, then escalation."""
    ordered = sorted(partner.contacts, key=lambda c: (c.position, c.id))
    on_duty = [c for c in ordered if c.on_duty]
    return on_duty + [c for c in ordered if c.is_escalation and not c.on_duty]


def route_report(facts: ReportFacts, directory: DirectorySnapshot) -> list[Recipient]:
    """Everyone who gets an SMS for this report, duty desk first; never two of one partner."""
    detail: Detail = "full" if facts.priority == "P1" else "brief"
    chosen: list[tuple[PartnerInfo, ContactInfo]] = []
    for partner in directory.partners:
        if partner.is_national_desk:
            wanted = True
        else:
            wanted = bool(partner.case_kinds & facts.case_kinds) and covers_place(partner, facts)
        if not wanted:
            continue
        contact = first_contact(partner)
        if contact is not None:
            chosen.append((partner, contact))
    chosen.sort(key=lambda pc: (_ROLE_ORDER[_role(pc[0])], pc[0].code))
    return _unique(
        Recipient(partner.code, contact.id, contact.phone, _role(partner), detail)
        for partner, contact in chosen
    )


def _unique(recipients: Iterable[Recipient]) -> list[Recipient]:
    out: list[Recipient] = []
    seen_phones: set[str] = set()
    seen_partners: set[str] = set()
    for r in recipients:
        if r.phone in seen_phones or r.partner_code in seen_partners:
            continue
        seen_phones.add(r.phone)
        seen_partners.add(r.partner_code)
        out.append(r)
    return out


def _partner(partner: PartnerInfo | str, directory: DirectorySnapshot) -> PartnerInfo | None:
    return directory.partner(partner) if isinstance(partner, str) else partner


def next_contact(
    partner: PartnerInfo | str,
    after_contact_id: int,
    directory: DirectorySnapshot,
    exclude: Collection[int] = (),
) -> ContactInfo | None:
    """The contact to try after `after_contact_id` failed permanently (e.g. invalid number).

    Follows `contact_chain` (on duty by position, then escalation contacts); contacts in
    `exclude` (already tried) are skipped. None when nobody is left: the caller should then
    escalate to the national desk.
    """
    info = _partner(partner, directory)
    if info is None:
        return None
    chain = contact_chain(info)
    ids = [c.id for c in chain]
    start = ids.index(after_contact_id) + 1 if after_contact_id in ids else 0
    skip = set(exclude) | {after_contact_id}
    return next((c for c in chain[start:] if c.id not in skip), None)


def duty_desk(directory: DirectorySnapshot) -> Recipient | None:
    """The national duty desk's first on-duty contact (the one escalations reach), or None."""
    desk = directory.national_desk
    contact = first_contact(desk) if desk is not None else None
    if desk is None or contact is None:
        return None
    return Recipient(desk.code, contact.id, contact.phone, "duty_desk", "brief")


def escalation_targets(partner_code: str, directory: DirectorySnapshot) -> list[Recipient]:
    """Who to tell when an alert to `partner_code` is not acknowledged in time.

    The partner's escalation contact (its supervisor) and the national duty desk (its first
    on-duty contact; the desk's own escalation contact when the desk itself is late).
    """
    out: list[Recipient] = []
    partner = directory.partner(partner_code)
    if partner is not None:
        supervisor = next(
            (
                c
                for c in sorted(partner.contacts, key=lambda c: (c.position, c.id))
                if c.is_escalation
            ),
            None,
        )
        if supervisor is not None:
            out.append(
                Recipient(partner.code, supervisor.id, supervisor.phone, "escalation", "brief")
            )
    desk = directory.national_desk
    if desk is not None and (partner is None or not partner.is_national_desk):
        contact = first_contact(desk)
        if contact is not None:
            out.append(Recipient(desk.code, contact.id, contact.phone, "duty_desk", "brief"))
    seen: set[str] = set()
    unique = []
    for r in out:
        if r.phone not in seen:
            seen.add(r.phone)
            unique.append(r)
    return unique


# -- returnee registrations (issue 10) ---------------------------------------------------------


@dataclass(frozen=True)
class RegistrationFacts:
    """The only registration fields routing may use: codes, the reference and the consent to
    share with partners. Never the name or the number: this type cannot hold them."""

    ref: str
    district: str | None
    needs: frozenset[str]
    share_partners: bool


def facts_from_registration(reg: object) -> RegistrationFacts:
    """Copy the whitelisted fields of a registration (an ORM row) into `RegistrationFacts`."""
    district = getattr(reg, "home_district", None)
    return RegistrationFacts(
        ref=str(getattr(reg, "ref", "")),
        district=district if district in DISTRICTS else None,
        needs=frozenset(getattr(reg, "needs", None) or ()),
        share_partners=bool(getattr(reg, "share_partners", False)),
    )


@dataclass(frozen=True)
class RegistrationRecipient:
    """One notice of a registration: the partner's first contact and the needs it is told of."""

    partner_code: str
    contact_id: int
    phone: str
    needs: tuple[str, ...]  # in the order of ussd_app.codes.NEEDS
    programme: bool


def covers_district(partner: PartnerInfo, district: str | None) -> bool:
    """A returnee partner works in the district (nationwide when it lists none)."""
    if not partner.districts:
        return True
    return district is not None and district in partner.districts


def route_registration(
    facts: RegistrationFacts, directory: DirectorySnapshot
) -> list[RegistrationRecipient]:
    """Who is told of a registration: the programme partner(s) always, with every need; when
    the person agreed to sharing, each partner taking one of its needs in its home district,
    with the needs it takes. One notice per partner, never two to one number."""
    ordered_needs = [n for n in NEEDS if n in facts.needs]
    chosen: list[RegistrationRecipient] = []
    for partner in sorted(directory.partners, key=lambda p: (not p.is_programme_partner, p.code)):
        if partner.is_programme_partner:
            needs = tuple(ordered_needs)
        elif facts.share_partners and "returnee" in partner.case_kinds:
            needs = tuple(n for n in ordered_needs if n in partner.returnee_needs)
            if not needs or not covers_district(partner, facts.district):
                continue
        else:
            continue
        contact = first_contact(partner)
        if contact is not None:
            chosen.append(
                RegistrationRecipient(
                    partner.code, contact.id, contact.phone, needs, partner.is_programme_partner
                )
            )
    out: list[RegistrationRecipient] = []
    seen: set[str] = set()
    for r in chosen:
        if r.phone not in seen:
            seen.add(r.phone)
            out.append(r)
    return out
