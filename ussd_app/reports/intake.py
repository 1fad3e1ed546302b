"""Trafficking reports: store the report and its reporter's contact apart; route it after.

The report, the encrypted contact and the consent record commit in ONE small transaction before
the caller sees a reference (DESIGN decision 7): if any part fails, nothing is stored and the
caller is not told it was received. Its alerts are staged by the routing job after the commit
(`ussd_app.cases.staging`, which sets `routed_at` with them); a lost job is run by the sweeper,
so a committed report is always alerted, once.
A report is never refused for an odd answer: an unknown code is stored as "not answered" and
logged (by key, never by value), because losing a tip costs more than a gap in it.
"""

from __future__ import annotations

import datetime as dt
import functools
import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Executable, bindparam, insert, select, update
from sqlalchemy.exc import IntegrityError

from ussd_app import codes as reference
from ussd_app import references
from ussd_app.columns import SMS_TEXT_MAX_CHARS, VEHICLE_MAX_CHARS
from ussd_app.consent import CONSENT_COLUMNS, ConsentRecord
from ussd_app.container import Services
from ussd_app.db import UnitOfWork, next_id, table_of, utcnow
from ussd_app.phones import InvalidPhoneNumber, mask
from ussd_app.rate_limits import phone_key
from ussd_app.records import (
    UniqueConflict,
    check_channel,
    check_language,
    clean_text,
)
from ussd_app.references import ReferenceMaker, placeholder_ref
from ussd_app.reports.models import (
    IDEMPOTENCY_KEY_LEN,
    PRIORITIES,
    ReporterContact,
    TraffickingReport,
)
from ussd_app.reports.retention import contact_tag, report_key
from ussd_app.reports.triage import Priority, compute_priority

log = logging.getLogger(__name__)

# Version of the report screens' call-back wording ("Your number is hidden from police unless
# you agree"); bump with menus.yaml.
REPORT_CONSENT_VERSION = "rep-2026-11"
# Without call-back consent the number is kept only for abuse control, briefly
# (domain-lesotho.md 6.2); with consent the purge date is set when the case closes.
CONTACT_RETENTION_WITHOUT_CALLBACK = dt.timedelta(days=7)


def _code(answers: Mapping[str, Any], key: str, allowed: Sequence[str]) -> str | None:
    """A single-choice answer, or None when missing or not one of the codes."""
    value = answers.get(key)
    if value is None:
        return None
    if value not in allowed:
        log.warning("report answer %r is not a known code; stored as not answered", key)
        return None
    return str(value)


def _flags(answers: Mapping[str, Any]) -> list[str]:
    """Red-flag codes, known ones only, each once, in F1..F9 order."""
    value = answers.get("flags") or []
    if isinstance(value, str) or not isinstance(value, Sequence):
        log.warning("report answer 'flags' is not a list; stored as none")
        return []
    if any(v not in reference.RED_FLAGS for v in value):
        log.warning("report answer 'flags' holds an unknown code; it was dropped")
    return [code for code in reference.RED_FLAGS if code in value]


def _places() -> tuple[str, ...]:
    return (*reference.BORDER_POSTS, *reference.DISTRICTS, reference.PLACE_OTHER)


def _reporter_phone(services: Services, phone: str) -> str:
    """The caller's number as E.164, or as given if it does not parse (a report is never lost)."""
    try:
        return services.normalise_phone(phone)
    except InvalidPhoneNumber:
        raw = (phone or "").strip()
        if not raw:
            raise ValueError("a report needs the caller's number") from None
        log.warning("reporter number %s does not parse; stored as given", mask(raw))
        return raw[:20]


def submit_report(
    services: Services,
    *,
    phone: str,
    language: str,
    answers: Mapping[str, Any],
    channel: str = "ussd",
    incomplete: bool = False,
    sms_text: str | None = None,
    idempotency_key: str | None = None,
    default_priority: Priority | None = None,
) -> tuple[str, Priority]:
    """Store a report from `answers` and have it routed after the commit; return (ref, priority).

    `idempotency_key` (for USSD, the session id) makes a replayed final hop harmless: the
    report already stored under that key is returned and nothing new is written. Only a keyed
    digest of it is stored (`retention.report_key`), never the gateway's id. `incomplete`
    marks a report saved from an abandoned session. `default_priority` is a floor: the report
    gets the more urgent of it and the computed priority (an SMS report's words are not coded
    answers, so a person should read it within a day however little was coded). The number goes
    only to `reporter_contacts`, encrypted; the report row has none.

    A report is completed, not added, only when it is the same report: the incomplete one stored
    under the same `idempotency_key`. For USSD the key is the session the flow began in, which
    the session state carries across "Continue" on a redial; "Start again" or any other flow
    begins with a new key, so it makes a new report and leaves the incomplete one (and its
    alerts) as they were. Nothing is ever matched by phone or by time.
    """
    check_language(language)
    check_channel(channel)
    if idempotency_key is not None and not 0 < len(idempotency_key) <= IDEMPOTENCY_KEY_LEN:
        raise ValueError(f"idempotency_key must be 1..{IDEMPOTENCY_KEY_LEN} characters")
    danger_now = _code(answers, "danger_now", reference.YES_NO)
    child_involved = _code(answers, "child_involved", reference.CHILD_INVOLVED)
    flags = _flags(answers)
    place = _code(answers, "place", _places())
    when_seen = _code(answers, "when_seen", reference.WHEN_SEEN)
    persons_count = _code(answers, "persons_count", reference.PERSONS_COUNT)
    callback_answer = _code(answers, "callback_consent", reference.YES_NO)
    callback_consent = callback_answer == "yes"
    vehicle = clean_text(answers.get("vehicle"), VEHICLE_MAX_CHARS)
    text = (sms_text or "").strip()[:SMS_TEXT_MAX_CHARS] or None
    priority = compute_priority(
        danger_now, child_involved, flags, when_seen, place, vehicle_given=vehicle is not None
    )
    if default_priority is not None:
        if default_priority not in PRIORITIES:
            raise ValueError(f"default_priority must be one of {', '.join(PRIORITIES)}")
        priority = min(priority, default_priority)  # "P1" < "P2" < "P3": more urgent wins
    e164 = _reporter_phone(services, phone)
    stored_key = None if idempotency_key is None else report_key(services, idempotency_key)

    answers_row: dict[str, Any] = {
        "danger_now": None if danger_now is None else danger_now == "yes",
        "child_involved": child_involved,
        "flags": flags,
        "place": place,
        "district": reference.place_district(place),
        "when_seen": when_seen,
        "persons_count": persons_count,
        "vehicle_enc": services.cipher.encrypt_optional(vehicle),
        "callback_consent": callback_consent,
    }
    flood: FloodFlag | None = None  # decided once per filing, before its insert
    # Insert first: the idempotency key's unique index is the check (no look-up before an insert
    # that almost never conflicts). A taken key means a replayed final hop, or the incomplete
    # report an abandoned session filed under the same key: `_replay` finds it.
    for _attempt in range(2):
        try:
            with services.uow() as uow:
                flood = flood or flood_flag(services, e164)
                report_id, ref = _store_new(
                    uow,
                    services,
                    {
                        "possible_flood": flood.possible_flood,
                        "flood_batch": flood.batch,
                        "idempotency_key": stored_key,
                        "language": language,
                        "channel": channel,
                        "sms_text_enc": services.cipher.encrypt_optional(text),
                        "priority": priority,
                        "status": "received",
                        "incomplete": incomplete,
                        "routed_at": None,
                        **answers_row,
                    },
                    _contact_row(services, e164, callback_consent),
                    None if callback_answer is None else _consent_row(callback_consent, channel),
                )
                # The alerts are staged by the routing job (`cases.staging`), which sets
                # routed_at in their transaction; if this enqueue is lost, the sweeper runs it.
                _route_after_commit(services, uow, report_id)
                uow.commit()
        except UniqueConflict:
            found = _replay(
                services, stored_key, incomplete, answers_row, priority, callback_answer
            )
            if found is not None:
                return found
            continue
        log.info(
            "report %s stored priority=%s channel=%s incomplete=%s",
            ref,
            priority,
            channel,
            incomplete,
        )
        return ref, priority
    raise RuntimeError("could not store the report: its idempotency key kept colliding")


@dataclass(frozen=True)
class FloodFlag:
    """Whether a new report is over its phone's REPORT_LIMIT, and the flood batch it joins."""

    possible_flood: bool
    batch: str | None = None


def flood_flag(services: Services, e164: str) -> FloodFlag:
    """Count a new report against its phone's limit (USSD and SMS alike; issue 8, item 5).

    Over the limit the report is still stored and the caller still gets a reference; it is
    flagged, and `services.alerts` then holds its partner alerts and tells the duty desk once
    per flood (the decision is stored on the report, so the stager needs nothing but the row).
    """
    key = phone_key(services.settings.phone_hash_key, e164)
    if services.limits.allow("reports", key):
        return FloodFlag(False)
    log.warning("report over REPORT_LIMIT: stored, flagged as a possible flood")
    return FloodFlag(True, services.limits.flood_batch(key))


def _route_after_commit(services: Services, uow: UnitOfWork, report_id: int) -> None:
    uow.after_commit(lambda: _enqueue_routing(services, report_id))


def _enqueue_routing(services: Services, report_id: int) -> None:
    services.enqueuer.enqueue_routing("report", report_id)


def _replay(
    services: Services,
    stored_key: str | None,
    incomplete: bool,
    answers_row: Mapping[str, Any],
    priority: Priority,
    callback_answer: str | None,
) -> tuple[str, Priority] | None:
    """The report already stored under `stored_key`: returned as it is (a replayed hop), or,
    when it is the incomplete one and this filing is complete, completed (same reference).
    None when there is none (the conflict was something else): the caller tries again."""
    if stored_key is None:
        return None
    with services.uow() as uow:
        existing = _by_key(uow, stored_key)
        if existing is None:
            return None
        if incomplete or not existing.incomplete:
            log.info("report %s replayed; not stored again", existing.ref)
            return existing.ref, _priority(existing.priority)
        # The incomplete report filed under this same key (the session looked abandoned, then
        # the caller finished it, maybe after "Continue"): complete it, same reference. Nothing
        # else is ever completed (issue 7, item 2).
        _complete(uow, services, existing, answers_row, priority, callback_answer)
        ref, found_priority = existing.ref, _priority(existing.priority)
        _route_after_commit(services, uow, existing.id)
        uow.commit()
    log.info("incomplete report %s completed", ref)
    return ref, found_priority


def ref_maker(services: Services) -> ReferenceMaker:
    """The deployment's reference maker, keyed from PHONE_HASH_KEY."""
    return references.maker(services.settings.phone_hash_key)


def _complete(
    uow: UnitOfWork,
    services: Services,
    partial: TraffickingReport,
    answers_row: Mapping[str, Any],
    priority: Priority,
    callback_answer: str | None,
) -> None:
    """Fill an incomplete report with the finished answers; it is routed again (full alerts)."""
    for key, value in answers_row.items():
        setattr(partial, key, value)
    partial.priority = min(partial.priority, priority)
    partial.incomplete = False
    _update_contact(uow, partial)
    partial.routed_at = None
    uow.session.flush()
    if callback_answer is not None:
        _insert_callback_consent(uow, partial.ref, partial.callback_consent, partial.channel)


def _update_contact(uow: UnitOfWork, report: TraffickingReport) -> None:
    """Carry the completed answer about call-backs over to the separate contact row."""
    contact = uow.session.scalars(
        select(ReporterContact).where(ReporterContact.report_id == report.id)
    ).first()
    if contact is None:
        return
    contact.callback_consent = report.callback_consent
    if report.callback_consent:
        contact.purge_after = None


def _by_key(uow: UnitOfWork, key: str | None) -> TraffickingReport | None:
    if key is None:
        return None
    return uow.session.scalars(
        select(TraffickingReport).where(TraffickingReport.idempotency_key == key).with_for_update()
    ).first()


def _priority(value: str) -> Priority:
    if value == "P1":
        return "P1"
    if value == "P2":
        return "P2"
    return "P3"


_REPORTS = table_of(TraffickingReport)
_CONTACTS = table_of(ReporterContact)
_CONSENTS = table_of(ConsentRecord)
# Built once: the caller's last hop only binds values (building a statement costs more CPU than
# running it). An INSERT run with a dict of values writes those columns and the defaults.
_INSERT_REPORT = insert(_REPORTS).returning(_REPORTS.c.id)
_SET_REF = (
    update(_REPORTS).where(_REPORTS.c.id == bindparam("row_id")).values(ref=bindparam("new_ref"))
)
_INSERT_CONTACT = insert(_CONTACTS)
_INSERT_CONSENT = insert(_CONSENTS)
_NEXT_REPORT_ID = next_id(_REPORTS)


def _contact_row(services: Services, e164: str, callback_consent: bool) -> dict[str, Any]:
    """The reporter's number, encrypted, for its own table; purge date set by consent."""
    now = utcnow()
    return {
        "phone_enc": services.cipher.encrypt(e164),
        "abuse_tag": contact_tag(services, e164, now),
        "callback_consent": callback_consent,
        "created_at": now,
        "purge_after": None if callback_consent else now + CONTACT_RETENTION_WITHOUT_CALLBACK,
    }


def _consent_row(granted: bool, channel: str) -> dict[str, Any]:
    """The call-back decision; no phone hash, so this record never links a report to a phone."""
    return {
        "subject_type": "report",
        "phone_hash": None,
        "purpose": "callback",
        "granted": granted,
        "version": REPORT_CONSENT_VERSION,
        "channel": channel,
        "recorded_at": utcnow(),
    }


def _store_new(
    uow: UnitOfWork,
    services: Services,
    report: Mapping[str, Any],
    contact: Mapping[str, Any],
    consent: Mapping[str, Any] | None,
) -> tuple[int, str]:
    """Store a new report with its contact row and call-back consent; return (id, ref).

    The reference is a keyed permutation of the row id, so it is unique by construction. On
    PostgreSQL (production) the id is drawn from the table's own sequence first, then the
    report, its contact and its consent are written by ONE statement (data-modifying CTEs), each
    in autocommit: two round trips in all, no BEGIN or COMMIT, and one statement is atomic by
    itself. Elsewhere (SQLite, the embedded default) it is four statements in one transaction.
    UniqueConflict when the idempotency key is taken (nothing was stored).
    """
    try:
        if uow.session.get_bind().dialect.name == "postgresql":
            conn = uow.session.connection(execution_options={"isolation_level": "AUTOCOMMIT"})
            report_id = int(conn.execute(_NEXT_REPORT_ID).scalar_one())
            ref = ref_maker(services).report(report_id)
            now = utcnow()
            conn.execute(
                _file_statement(tuple(report), with_consent=consent is not None),
                {
                    **{f"r_{k}": v for k, v in report.items()},
                    "r_id": report_id,
                    "r_ref": ref,
                    "r_created_at": now,
                    "r_updated_at": now,
                    **{f"c_{k}": v for k, v in contact.items()},
                    **{f"k_{k}": v for k, v in (consent or {}).items()},
                    "k_subject_ref": ref,
                },
            )
            return report_id, ref
        conn = uow.session.connection()
        report_id = conn.execute(_INSERT_REPORT, {"ref": placeholder_ref(), **report}).scalar_one()
        ref = ref_maker(services).report(report_id)
        conn.execute(_SET_REF, {"row_id": report_id, "new_ref": ref})
        conn.execute(_INSERT_CONTACT, {"report_id": report_id, **contact})
        if consent is not None:
            conn.execute(_INSERT_CONSENT, {"subject_ref": ref, **consent})
        return report_id, ref
    except IntegrityError:
        raise UniqueConflict from None


@functools.cache
def _file_statement(report_columns: tuple[str, ...], *, with_consent: bool) -> Executable:
    """WITH r AS (INSERT report RETURNING id), c AS (INSERT contact SELECT r.id ...)
    [, k AS (INSERT consent)] SELECT id FROM r (PostgreSQL only), for the report columns the
    caller binds, with the consent CTE when there is a call-back answer (built once each)."""
    report_values = {
        name: bindparam(f"r_{name}", type_=_REPORTS.c[name].type)
        for name in ("id", "ref", "created_at", "updated_at", *report_columns)
    }
    r = insert(_REPORTS).values(report_values).returning(_REPORTS.c.id).cte("r")
    contact_columns = ("phone_enc", "abuse_tag", "callback_consent", "created_at", "purge_after")
    c = insert(_CONTACTS).from_select(
        ["report_id", *contact_columns],
        select(
            r.c.id,
            *(bindparam(f"c_{name}", type_=_CONTACTS.c[name].type) for name in contact_columns),
        ),
    )
    filed = select(r.c.id).add_cte(c.cte("c"))
    if not with_consent:
        return filed
    k = insert(_CONSENTS).values(
        {name: bindparam(f"k_{name}", type_=_CONSENTS.c[name].type) for name in CONSENT_COLUMNS}
    )
    return filed.add_cte(k.cte("k"))


def _insert_callback_consent(uow: UnitOfWork, ref: str, granted: bool, channel: str) -> None:
    """The call-back decision of a completed report (see _consent_row)."""
    uow.session.connection().execute(
        _INSERT_CONSENT, {"subject_ref": ref, **_consent_row(granted, channel)}
    )
