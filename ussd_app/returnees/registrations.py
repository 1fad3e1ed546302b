"""Returnee registration: one record per phone, with its consent decisions on record.

A phone that registers again updates its record (the latest answers win) and keeps its reference,
so a returnee who redials to correct something does not end up counted twice.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Mapping, Sequence
from typing import Any, cast

from sqlalchemy import (
    Executable,
    Insert,
    Select,
    bindparam,
    case,
    insert,
    literal,
    select,
    union_all,
    update,
)
from sqlalchemy.exc import IntegrityError

from ussd_app import codes as reference
from ussd_app import references
from ussd_app.columns import NAME_MAX_CHARS, REGISTRATION_CHANNELS
from ussd_app.consent import CONSENT_COLUMNS, ConsentRecord
from ussd_app.container import Services
from ussd_app.db import UnitOfWork, next_id, table_of, upsert_into, utcnow
from ussd_app.phones import mask
from ussd_app.records import (
    UniqueConflict,
    check_channel,
    check_language,
    clean_text,
)
from ussd_app.references import placeholder_ref
from ussd_app.returnees.models import Registration

log = logging.getLogger(__name__)

# The consent text version shown on the registration screens; bump it whenever menus.yaml
# changes what the caller is told (purpose, recipients), so each record names what was agreed.
# reg-2026-12: the contact question (call, SMS, no contact) replaced the SMS question (issue 10).
REGISTRATION_CONSENT_VERSION = "reg-2026-12"
MAX_ATTEMPTS = 2  # a second try finds the registration a concurrent request made


class InvalidAnswers(ValueError):
    """The answers do not fit the menu's codes (a menus.yaml / reference.py mismatch)."""


class ConsentRequired(ValueError):
    """The caller did not agree to registration, so nothing may be stored."""


def _yes(answers: Mapping[str, Any], key: str) -> bool:
    """A yes/no answer; anything but "yes" (including no answer) means no, as opt-ins should."""
    value = answers.get(key)
    if value is not None and value not in reference.YES_NO:
        raise InvalidAnswers(f"answer {key!r} is not a yes/no code")
    return value == "yes"


def _code(answers: Mapping[str, Any], key: str, allowed: Sequence[str]) -> str | None:
    """An optional single-choice answer, checked against its codes (the value is never echoed)."""
    value = answers.get(key)
    if value is None:
        return None
    if value not in allowed:
        raise InvalidAnswers(f"answer {key!r} is not a known code")
    return str(value)


def _codes(answers: Mapping[str, Any], key: str, allowed: Sequence[str]) -> list[str]:
    """A multi-select answer: known codes only, duplicates dropped, in the codes' own order."""
    value = answers.get(key) or []
    if isinstance(value, str) or not isinstance(value, Sequence):
        raise InvalidAnswers(f"answer {key!r} must be a list of codes")
    if any(v not in allowed for v in value):
        raise InvalidAnswers(f"answer {key!r} holds an unknown code")
    return [code for code in allowed if code in value]


def _contact_by(answers: Mapping[str, Any]) -> str:
    """How the person may be contacted (`call`, `sms`, `none`; no answer means not at all).

    Sessions begun before the contact question (and older callers of this service) answer the
    SMS question instead: its yes means SMS, its no means no contact was agreed."""
    if "contact_by" in answers:
        return _code(answers, "contact_by", reference.CONTACT_BY) or "none"
    return "sms" if _yes(answers, "sms_opt_in") else "none"


def register_returnee(
    services: Services,
    *,
    phone: str,
    language: str,
    answers: Mapping[str, Any],
    channel: str = "ussd",
    session_id: str | None = None,
) -> str:
    """Create or update the caller's registration and record their consent; return its ref.

    Raises ConsentRequired unless the caller said yes to registration, and InvalidAnswers if an
    answer is not one of the menu's codes. Consent records are written on every registration
    (also an update): they are the history of what the caller agreed to and when.
    What a registration sends (confirmation, partner notices) is staged after the commit by the
    routing job (`ussd_app.cases.staging`), on every create and update: `routed_at` is NULL
    until it ran, and the sweeper runs it for any row whose job was lost.
    """
    if answers.get("consent") != "yes":
        raise ConsentRequired("registration needs the caller's consent")
    check_language(language)
    check_channel(channel, REGISTRATION_CHANNELS)
    fields: dict[str, Any] = {
        "share_partners": _yes(answers, "share_partners"),
        "contact_by": (contact_by := _contact_by(answers)),
        "sms_opt_in": contact_by == "sms",
        "home_district": _code(answers, "home_district", tuple(reference.DISTRICTS)),
        "came_from": _code(answers, "came_from", reference.CAME_FROM),
        "stay_intent": _code(answers, "stay_intent", reference.STAY_INTENT),
        "entry_point": _code(answers, "entry_point", reference.ENTRY_POINTS),
        "travel_document": _code(answers, "travel_document", reference.TRAVEL_DOCUMENT),
        "needs": _codes(answers, "needs", reference.NEEDS),
        "sex": _code(answers, "sex", reference.SEX),
        "age_band": _code(answers, "age_band", reference.AGE_BAND),
    }
    name = clean_text(answers.get("name"), NAME_MAX_CHARS)
    # Set with the other fields, so the row is written by one INSERT (or UPDATE), not two.
    fields["name_enc"] = services.cipher.encrypt_optional(name)
    e164 = services.normalise_phone(phone)
    phone_hash = services.hash_phone(e164)

    for _attempt in range(MAX_ATTEMPTS):
        try:
            with services.uow() as uow:
                row = _row(services, phone_hash, e164, language, channel, fields)
                ref, reg_id, created = _store(uow, services, row, tuple(fields))
                _route_after_commit(services, uow, reg_id)
                uow.commit()
        except UniqueConflict:
            continue
        log.info(
            "registration %s %s phone=%s session=%s",
            ref,
            "created" if created else "updated",
            mask(e164),
            session_id or "-",
        )
        return ref
    raise RuntimeError("could not store the registration: unique values kept colliding")


def _route_after_commit(services: Services, uow: UnitOfWork, registration_id: int) -> None:
    """After the commit, enqueue the job that stages this version's notices."""

    def enqueue() -> None:
        services.enqueuer.enqueue_routing("registration", registration_id)

    uow.after_commit(enqueue)


_REGISTRATIONS = table_of(Registration)
# What a registration writes on every filing, new or not (the rest of `fields` is the answers).
_REFILED = ("phone_enc", "language", "channel", "consent_version", "routed_at")


@functools.cache
def _upsert_statement(dialect: str, answered: tuple[str, ...], with_id: bool = False) -> Executable:
    """INSERT ... ON CONFLICT (phone_hash) DO UPDATE ... RETURNING id, ref, built once per
    dialect and set of answer columns: the caller's last hop only binds values to it (building
    an upsert costs more CPU than running it). `with_id`: the id is bound too (drawn from the
    sequence beforehand)."""
    written = (*_REFILED, *answered)
    stmt = upsert_into(dialect, _REGISTRATIONS)
    stmt = stmt.values(
        {
            name: bindparam(name)
            for name in (
                *(("id",) if with_id else ()),
                *("ref", "phone_hash", "status", "created_at", "updated_at", *written),
            )
        }
    )
    status = _REGISTRATIONS.c.status
    return stmt.on_conflict_do_update(
        index_elements=[_REGISTRATIONS.c.phone_hash],
        set_={
            **{name: stmt.excluded[name] for name in written},
            # A closed case registering again needs help again: back in the queue.
            "status": case((status == "closed", "new"), else_=status),
            "updated_at": stmt.excluded.updated_at,
        },
    ).returning(_REGISTRATIONS.c.id, _REGISTRATIONS.c.ref)


_SET_REF = (
    update(_REGISTRATIONS)
    .where(_REGISTRATIONS.c.id == bindparam("row_id"))
    .values(ref=bindparam("new_ref"))
)


_NEXT_REGISTRATION_ID = next_id(_REGISTRATIONS)
_CONSENTS = table_of(ConsentRecord)
# The purposes the registration screens ask about, in the order their records are written.
_PURPOSES = ("registration", "share_partners", "sms", "call")


@functools.cache
def _file_statement(answered: tuple[str, ...]) -> Executable:
    """WITH reg AS (the upsert RETURNING id, ref), k AS (INSERT the four consent records,
    naming reg.ref) SELECT id, ref FROM reg: one statement (PostgreSQL only)."""
    upsert = cast(Insert, _upsert_statement("postgresql", answered, with_id=True))
    reg = upsert.cte("reg")
    column = _CONSENTS.c

    def record(purpose: str) -> Select[Any]:
        """One consent record's values, in CONSENT_COLUMNS order."""
        return select(
            literal("registration", column.subject_type.type),
            reg.c.ref,
            bindparam("k_phone_hash", type_=column.phone_hash.type),
            literal(purpose, column.purpose.type),
            bindparam(f"k_{purpose}_granted", type_=column.granted.type),
            bindparam("k_version", type_=column.version.type),
            bindparam("k_channel", type_=column.channel.type),
            bindparam("k_recorded_at", type_=column.recorded_at.type),
        )

    rows = [record(purpose) for purpose in _PURPOSES]
    consents = insert(_CONSENTS).from_select(list(CONSENT_COLUMNS), union_all(*rows))
    return select(reg.c.id, reg.c.ref).add_cte(consents.cte("k"))


def _store(
    uow: UnitOfWork, services: Services, row: Mapping[str, Any], answered: tuple[str, ...]
) -> tuple[str, int, bool]:
    """Add or update the phone's registration and record its consents; (ref, id, created).

    On PostgreSQL (production) a new row's id is drawn from the table's own sequence first, so
    its reference is known before the insert, and the upsert and the consent records are ONE
    statement (a data-modifying CTE) in autocommit: two round trips, no BEGIN or COMMIT, atomic
    as one statement is. Elsewhere (SQLite) the upsert, the reference and the consents are
    written in one transaction.
    """
    if uow.session.get_bind().dialect.name != "postgresql":
        ref, reg_id, created = _upsert(uow, services, row, answered)
        _record_consents(uow, ref, row)
        return ref, reg_id, created
    conn = uow.session.connection(execution_options={"isolation_level": "AUTOCOMMIT"})
    new_id = int(conn.execute(_NEXT_REGISTRATION_ID).scalar_one())
    new_ref = references.maker(services.settings.phone_hash_key).registration(new_id)
    granted = _granted(row)
    params = {
        **row,
        "id": new_id,
        "ref": new_ref,
        "k_phone_hash": row["phone_hash"],
        "k_version": REGISTRATION_CONSENT_VERSION,
        "k_channel": row["channel"],
        "k_recorded_at": row["created_at"],
        **{f"k_{purpose}_granted": granted[purpose] for purpose in _PURPOSES},
    }
    try:
        reg_id, ref = conn.execute(_file_statement(answered), params).one()
    except IntegrityError:
        raise UniqueConflict from None
    return ref, reg_id, reg_id == new_id


def _row(
    services: Services,
    phone_hash: str,
    e164: str,
    language: str,
    channel: str,
    fields: Mapping[str, Any],
) -> dict[str, Any]:
    """The values a filing binds to the upsert (a new row's, or the update's), but its ref."""
    now = utcnow()
    return {
        "phone_hash": phone_hash,
        "status": "new",
        "created_at": now,
        "updated_at": now,
        "phone_enc": services.cipher.encrypt(e164),
        "language": language,
        "channel": channel,
        "consent_version": REGISTRATION_CONSENT_VERSION,
        "routed_at": None,  # this version's notices are staged by the routing job
        **fields,
    }


def _granted(row: Mapping[str, Any]) -> dict[str, bool]:
    """What the caller agreed to, per purpose (registration itself always)."""
    return {
        "registration": True,
        "share_partners": bool(row["share_partners"]),
        "sms": bool(row["sms_opt_in"]),
        "call": row["contact_by"] == "call",
    }


def _upsert(
    uow: UnitOfWork, services: Services, row: Mapping[str, Any], answered: tuple[str, ...]
) -> tuple[str, int, bool]:
    """Add the phone's registration, or update it (the latest answers win, its reference stays;
    a closed case goes back to `new`), with ONE INSERT ... ON CONFLICT DO UPDATE: no look-up
    first, Core rather than the ORM on the caller's last hop. A new row's reference, a keyed
    permutation of its id, is set by a second statement once the id is known.
    Returns (ref, id, created)."""
    placeholder = placeholder_ref()
    params = {**row, "ref": placeholder}
    conn = uow.session.connection()
    stmt = _upsert_statement(conn.dialect.name, answered)
    try:
        reg_id, ref = conn.execute(stmt, params).one()
    except IntegrityError:  # the placeholder reference was taken: try again
        raise UniqueConflict from None
    created = ref == placeholder
    if created:
        ref = references.maker(services.settings.phone_hash_key).registration(reg_id)
        conn.execute(_SET_REF, {"row_id": reg_id, "new_ref": ref})
    return ref, reg_id, created


_INSERT_CONSENT = insert(_CONSENTS)


def _record_consents(uow: UnitOfWork, ref: str, row: Mapping[str, Any]) -> None:
    """One record per purpose the registration screens asked about, granted or not: written by
    ONE multi-row INSERT (nothing reads them back in this transaction)."""
    granted = _granted(row)
    uow.session.connection().execute(
        _INSERT_CONSENT,
        [
            {
                "subject_type": "registration",
                "subject_ref": ref,
                "phone_hash": row["phone_hash"],
                "purpose": purpose,
                "granted": granted[purpose],
                "version": REGISTRATION_CONSENT_VERSION,
                "channel": row["channel"],
                "recorded_at": row["created_at"],
            }
            for purpose in _PURPOSES
        ],
    )
