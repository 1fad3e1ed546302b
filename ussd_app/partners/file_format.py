"""The partners file: read it (YAML, or CSV with one row per contact) and validate it as a whole.

Pure: no database. The file is checked completely before anything is imported; every problem is
reported at once, naming the entry, so an administrator can fix the file in one pass
(`ussd_app.partners.importer` then makes the database match it).

YAML shape (see partners.example.yaml)::

    partners:
      - code: lmps-atu-desk            # unique slug: lower-case letters, digits, hyphens
        name: LMPS Anti-Trafficking Unit, national duty desk
        kind: police                   # police | ngo
        national_desk: true            # exactly one active partner
        districts: []                  # ISO codes (LS-A) or names; empty + no posts = nationwide
        border_posts: []               # codes from ussd_app.codes.BORDER_POSTS
        case_kinds: [trafficking, child]
        returnee_needs: []             # needs it takes in its districts: livelihood skills
                                       # documents clinic other (needs case kind 'returnee')
        programme_partner: false       # receives every registration (e.g. IOM)
        border_health_posts: []        # border posts where it runs a health desk
        active: true                   # optional, default true
        contacts:                      # tried in this order; at least one on duty
          - {name: Duty officer, phone: "+26650000001", on_duty: true}
          - {name: Commander, phone: "+26650000002", on_duty: false, escalation: true}

CSV columns: partner_code, partner_name, kind, national_desk, districts, border_posts,
case_kinds, active, contact_name, phone, on_duty, escalation (and, optionally, returnee_needs,
programme_partner, border_health_posts). Lists are separated by `;`.
Rows of one partner repeat its partner columns; contacts keep the order of the rows.
"""

from __future__ import annotations

import csv
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from ussd_app.codes import BORDER_POSTS, DISTRICTS, NEEDS
from ussd_app.partners.models import CASE_KINDS, PARTNER_KINDS
from ussd_app.phones import InvalidPhoneNumber, normalise

_CODE_RE = re.compile(r"^[a-z0-9]+(?:-[a-z0-9]+)*$")
_PARTNER_FIELDS = frozenset(
    {
        "code",
        "name",
        "kind",
        "national_desk",
        "districts",
        "border_posts",
        "case_kinds",
        "active",
        "contacts",
        "returnee_needs",
        "programme_partner",
        "border_health_posts",
    }
)
_CONTACT_FIELDS = frozenset({"name", "phone", "on_duty", "escalation"})
_CSV_COLUMNS = (
    "partner_code",
    "partner_name",
    "kind",
    "national_desk",
    "districts",
    "border_posts",
    "case_kinds",
    "active",
    "contact_name",
    "phone",
    "on_duty",
    "escalation",
)
# Returnee routing columns (issue 10); optional so older CSV files still read.
_CSV_OPTIONAL = ("returnee_needs", "programme_partner", "border_health_posts")
_TRUE = frozenset({"yes", "y", "true", "1"})
_FALSE = frozenset({"no", "n", "false", "0"})


def _fold(text: str) -> str:
    return text.strip().lower().replace("\u2019", "'")


_DISTRICT_LOOKUP = {
    **{_fold(c): c for c in DISTRICTS},
    **{_fold(n): c for c, n in DISTRICTS.items()},
}
_POST_LOOKUP = {
    **{_fold(c): c for c in BORDER_POSTS},
    **{_fold(p.name): c for c, p in BORDER_POSTS.items()},
}


class PartnersFileError(ValueError):
    """The partners file cannot be imported; `problems` lists every reason, entry by entry."""

    def __init__(self, path: str | os.PathLike[str], problems: list[str]) -> None:
        self.path = str(path)
        self.problems = problems
        lines = "\n".join(f"  - {p}" for p in problems)
        super().__init__(f"{self.path}: {len(problems)} problem(s), nothing imported:\n{lines}")


@dataclass(frozen=True)
class ContactSpec:
    name: str
    phone: str  # E.164
    on_duty: bool
    escalation: bool
    position: int  # 1-based order in the file


@dataclass(frozen=True)
class PartnerSpec:
    code: str
    name: str
    kind: str
    national_desk: bool
    districts: tuple[str, ...]
    border_posts: tuple[str, ...]
    case_kinds: tuple[str, ...]
    active: bool
    contacts: tuple[ContactSpec, ...]
    returnee_needs: tuple[str, ...] = ()  # codes from ussd_app.codes.NEEDS
    programme_partner: bool = False  # receives every registration
    border_health_posts: tuple[str, ...] = ()  # posts where it runs a border health desk


@dataclass
class _Raw:
    """One partner as read from the file, before validation; labels name it in errors."""

    label: str
    fields: dict[str, Any]
    contacts: list[tuple[str, Any]] = field(default_factory=list)


def read_partners_file(path: str | os.PathLike[str]) -> list[PartnerSpec]:
    """Read and validate a partners file (.yaml/.yml or .csv); raise PartnersFileError."""
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise PartnersFileError(p, [f"cannot read the file: {exc}"]) from None
    if p.suffix.lower() == ".csv":
        raws, problems = _raw_from_csv(text, p.name)
    else:
        raws, problems = _raw_from_yaml(text, p.name)
    specs = _validate(raws, problems)
    if problems:
        raise PartnersFileError(p, problems)
    return specs


def _raw_from_yaml(text: str, fname: str) -> tuple[list[_Raw], list[str]]:
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        return [], [f"{fname}: not valid YAML: {exc}"]
    if not isinstance(data, Mapping) or not isinstance(data.get("partners"), list):
        return [], [f"{fname}: expected a mapping with a 'partners:' list at the top"]
    problems = [
        f"{fname}: unknown top-level key {k!r}" for k in data if k not in ("partners", "version")
    ]
    raws: list[_Raw] = []
    for n, entry in enumerate(data["partners"], start=1):
        if not isinstance(entry, Mapping):
            problems.append(f"{fname} entry {n}: expected a mapping of partner fields")
            continue
        label = f"{fname} entry {n} ({entry.get('code') or '?'})"
        raw = _Raw(label, {str(k): v for k, v in entry.items() if k != "contacts"})
        contacts = entry.get("contacts")
        if contacts is None:
            contacts = []
        if not isinstance(contacts, list):
            problems.append(f"{label}: 'contacts' must be a list")
            contacts = []
        raw.contacts = [(f"{label} contact {i}", c) for i, c in enumerate(contacts, start=1)]
        raws.append(raw)
    return raws, problems


def _raw_from_csv(text: str, fname: str) -> tuple[list[_Raw], list[str]]:
    reader = csv.DictReader(text.splitlines())
    columns = [c.strip() for c in reader.fieldnames or []]
    missing = [c for c in _CSV_COLUMNS if c not in columns]
    if missing:
        return [], [f"{fname}: missing column(s): {', '.join(missing)}"]
    known = (*_CSV_COLUMNS, *_CSV_OPTIONAL)
    problems = [f"{fname}: unknown column {c!r}" for c in columns if c not in known]
    raws: dict[str, _Raw] = {}
    first_row: dict[str, int] = {}
    for rowno, row in enumerate(reader, start=2):
        row = {(k or "").strip(): (v or "").strip() for k, v in row.items()}
        if not any(row.values()):
            continue
        code = row["partner_code"]
        partner_fields: dict[str, Any] = {
            "code": code,
            "name": row["partner_name"],
            "kind": row["kind"],
            "national_desk": row["national_desk"] or False,
            "districts": row["districts"],
            "border_posts": row["border_posts"],
            "case_kinds": row["case_kinds"],
            "active": row["active"] or True,
        }
        for column in _CSV_OPTIONAL:
            if row.get(column):
                partner_fields[column] = row[column]
        contact = {
            "name": row["contact_name"],
            "phone": row["phone"],
            "on_duty": row["on_duty"] or True,
            "escalation": row["escalation"] or False,
        }
        key = code or f"?row{rowno}"
        if key not in raws:
            raws[key] = _Raw(f"{fname} row {rowno} ({code or '?'})", partner_fields)
            first_row[key] = rowno
        elif raws[key].fields != partner_fields:
            problems.append(
                f"{fname} row {rowno} ({code}): partner columns differ from row {first_row[key]}"
            )
        raws[key].contacts.append((f"{fname} row {rowno} ({code or '?'}) contact", contact))
    return list(raws.values()), problems


def _as_bool(value: Any, default: bool) -> bool | None:
    if value is None:
        return default
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and _fold(value) in _TRUE | _FALSE:
        return _fold(value) in _TRUE
    return None


def _as_items(value: Any) -> list[str] | None:
    if value is None:
        return []
    if isinstance(value, str):
        return [v for v in re.split(r"[;,\s]+", value) if v]
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        return [v.strip() for v in value if v.strip()]
    return None


def _text(value: Any) -> str:
    return value.strip() if isinstance(value, str) else ""


def _validate(raws: list[_Raw], problems: list[str]) -> list[PartnerSpec]:
    """Check every entry and the file as a whole; append problems, return the specs."""
    specs: list[PartnerSpec] = []
    seen_codes: dict[str, str] = {}
    seen_phones: dict[str, str] = {}
    for raw in raws:
        label, f = raw.label, raw.fields
        bad = problems.append
        for key in sorted(set(f) - _PARTNER_FIELDS):
            bad(f"{label}: unknown field {key!r}")
        code = _text(f.get("code"))
        if not code:
            bad(f"{label}: 'code' is missing")
        elif not _CODE_RE.match(code) or len(code) > 40:
            bad(f"{label}: code {code!r} must be lower-case letters, digits and hyphens (max 40)")
        elif code in seen_codes:
            bad(f"{label}: duplicate code {code!r} (also {seen_codes[code]})")
        else:
            seen_codes[code] = label
        name = _text(f.get("name"))
        if not name or len(name) > 120:
            bad(f"{label}: 'name' is missing or longer than 120 characters")
        kind = _text(f.get("kind"))
        if kind not in PARTNER_KINDS:
            bad(f"{label}: kind {f.get('kind')!r} must be one of {', '.join(PARTNER_KINDS)}")
        flags: dict[str, bool] = {}
        for key, default in (
            ("national_desk", False),
            ("active", True),
            ("programme_partner", False),
        ):
            value = _as_bool(f.get(key), default)
            if value is None:
                bad(f"{label}: {key} must be yes or no, got {f.get(key)!r}")
            flags[key] = bool(value)
        districts = _codes(label, "district", f.get("districts"), _DISTRICT_LOOKUP, bad)
        posts = _codes(label, "border post", f.get("border_posts"), _POST_LOOKUP, bad)
        case_kinds = _codes(
            label, "case kind", f.get("case_kinds"), {k: k for k in CASE_KINDS}, bad
        )
        if not case_kinds and _as_items(f.get("case_kinds")) == []:
            bad(f"{label}: case_kinds is empty; list at least one of {', '.join(CASE_KINDS)}")
        needs = _codes(label, "returnee need", f.get("returnee_needs"), {n: n for n in NEEDS}, bad)
        health_posts = _codes(
            label, "border health post", f.get("border_health_posts"), _POST_LOOKUP, bad
        )
        if (needs or flags["programme_partner"]) and case_kinds and "returnee" not in case_kinds:
            bad(f"{label}: returnee_needs and programme_partner need case kind 'returnee'")
        contacts: list[ContactSpec] = []
        for position, (clabel, c) in enumerate(raw.contacts, start=1):
            contact = _contact(clabel, c, position, bad)
            if contact is None:
                continue
            if contact.phone in seen_phones:
                other = seen_phones[contact.phone]
                bad(f"{clabel}: duplicate contact number {contact.phone} (also {other})")
                continue
            seen_phones[contact.phone] = clabel
            contacts.append(contact)
        # Judge on-duty and escalation cover only when every contact is valid; otherwise the
        # real problem (a bad contact) would be followed by a misleading second one.
        if flags["active"] and len(contacts) == len(raw.contacts):
            if not contacts:
                bad(f"{label}: no contacts")
            elif not any(c.on_duty for c in contacts):
                bad(f"{label}: no contact is on duty")
            if contacts and not any(c.escalation for c in contacts):
                bad(f"{label}: no escalation contact (mark one contact 'escalation: true')")
        if flags["national_desk"] and kind and kind != "police":
            bad(f"{label}: the national duty desk must be kind 'police'")
        specs.append(
            PartnerSpec(
                code=code,
                name=name,
                kind=kind,
                national_desk=flags["national_desk"],
                districts=tuple(districts),
                border_posts=tuple(posts),
                case_kinds=tuple(case_kinds),
                active=flags["active"],
                contacts=tuple(contacts),
                returnee_needs=tuple(needs),
                programme_partner=flags["programme_partner"],
                border_health_posts=tuple(health_posts),
            )
        )
    desks = [s.code or "?" for s in specs if s.national_desk and s.active]
    if raws and not desks:
        problems.append(
            "missing national duty desk: mark exactly one active partner 'national_desk: true'"
        )
    elif len(desks) > 1:
        problems.append(f"more than one national duty desk: {', '.join(desks)}")
    if not raws and not problems:
        problems.append("the file lists no partners")
    return specs


def _codes(
    label: str,
    what: str,
    value: Any,
    lookup: Mapping[str, str],
    bad: Any,
) -> list[str]:
    items = _as_items(value)
    if items is None:
        bad(f"{label}: {what}s must be a list of text values, got {value!r}")
        return []
    out: list[str] = []
    for item in items:
        code = lookup.get(_fold(item))
        if code is None:
            bad(f"{label}: unknown {what} {item!r}")
        elif code not in out:
            out.append(code)
    return out


def _contact(label: str, c: Any, position: int, bad: Any) -> ContactSpec | None:
    if not isinstance(c, Mapping):
        bad(f"{label}: expected a mapping with name and phone")
        return None
    ok = True
    for key in sorted(set(map(str, c)) - _CONTACT_FIELDS):
        bad(f"{label}: unknown field {key!r}")
        ok = False
    name = _text(c.get("name"))
    if not name or len(name) > 120:
        bad(f"{label}: 'name' is missing or longer than 120 characters")
        ok = False
    raw_phone = c.get("phone")
    phone = ""
    if not isinstance(raw_phone, str):
        bad(
            f'{label}: phone must be quoted text such as "+26650000001" '
            f"(YAML reads an unquoted +266... as a number), got {raw_phone!r}"
        )
        ok = False
    else:
        try:
            phone = normalise(raw_phone)
        except InvalidPhoneNumber as exc:
            bad(f"{label}: bad phone number {raw_phone!r}: {exc}")
            ok = False
    flags: dict[str, bool] = {}
    for key, default in (("on_duty", True), ("escalation", False)):
        value = _as_bool(c.get(key), default)
        if value is None:
            bad(f"{label}: {key} must be yes or no, got {c.get(key)!r}")
            ok = False
        flags[key] = bool(value)
    if not ok:
        return None
    return ContactSpec(name, phone, flags["on_duty"], flags["escalation"], position)
