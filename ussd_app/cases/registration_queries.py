"""What the staff desk reads about returnee registrations: the inbox and one registration.

Scoped to one partner on the server like `ussd_app.cases.queries` (DESIGN decision 12): a partner
sees a registration only if it was told of it (a notice or reminder staged for one of its
contacts) or holds it. The person's name is decrypted only for the holding partner; the number
is never returned here. Results are plain dataclasses with words, ready for a template.
"""

from __future__ import annotations

import datetime as dt
import enum
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import ColumnElement, Select, and_, exists, func, or_, select

from ussd_app.cases import labels
from ussd_app.cases.authority import may_see, visible_to
from ussd_app.cases.machine import REGISTRATION_CLOSE_OUTCOMES
from ussd_app.cases.models import CaseEvent
from ussd_app.cases.queries import (
    TimelineEntry,
    _event_entry,
    _message_entries_for,
    _partner_names,
    _user_names,
)
from ussd_app.codes import BORDER_POSTS, DISTRICTS, NEEDS
from ussd_app.columns import WALK_IN
from ussd_app.consent import ConsentRecord
from ussd_app.container import Services
from ussd_app.db import utcnow
from ussd_app.messaging.models import OutboundSms
from ussd_app.references import normalise_reference
from ussd_app.returnees import checkins
from ussd_app.returnees.models import Registration
from ussd_app.returnees.referrals import REFERRAL_MOVES, Referral

INBOX_LIMIT = 200
PLAN_DAYS = 30  # IOM: a reintegration plan within a month of return
# A plan not yet agreed is a follow-up due this many days before its due date.
PLAN_DUE_SOON_DAYS = 7
# A referral still "referred" or "accepted" this many days after its last change is a
# follow-up due: ask the service (or the person) how it is going and record the answer.
REFERRAL_STALE_DAYS = 14
# Referral statuses that wait for news from the service (the others are final, or wait for
# the case worker to refer again).
AWAITING_UPDATE = ("referred", "accepted")

REFERRAL_WORDS = {
    "referred": "Referred",
    "accepted": "Accepted by the service",
    "delivered": "Service delivered",
    "declined": "Declined",
    "unreachable": "Could not reach the person",
}
STATUS_WORDS = {
    "new": "New, not taken",
    "contacted": "Taken, in contact",
    "referred": "Needs referred",
    "closed": "Closed",
}
PURPOSE_WORDS = {
    "registration": "Registration",
    "share_partners": "Sharing with partner organisations",
    "sms": "SMS to this phone",
    "call": "A case worker may call",
}


CHANNEL_WORDS = {
    "ussd": "The returnee, by USSD",
    "sms": "The returnee, by SMS",
    WALK_IN: "A border health worker (walk-in, consent given verbally)",
}
REGISTERED_BY = {False: "by the returnee", True: "at a border health desk, as a walk-in"}

# Registrations made before the contact question (their screens promised a call).
NOT_ASKED = "Not asked (registered before the question; expects a call)"


class Folder(enum.StrEnum):
    NEW = "new"  # nobody has taken it yet
    MINE = "mine"  # open and assigned to me
    DUE = "due"  # open, and something to follow up now (see `due_condition`)
    OVERDUE = "overdue"  # open, past the plan's due date, no plan agreed
    ALL = "all"  # every open registration of my partner
    CLOSED = "closed"


@dataclass(frozen=True)
class InboxFilter:
    folder: Folder = Folder.NEW
    ref: str | None = None
    district: str | None = None  # a district code
    need: str | None = None  # a code of NEEDS
    since: dt.date | None = None  # registered on or after
    until: dt.date | None = None  # registered on or before


@dataclass(frozen=True)
class RegistrationRow:
    ref: str
    district: str
    needs: list[str]
    status: str
    created_at: dt.datetime
    holder: str | None
    assignee: str | None
    plan_due: dt.date
    plan_overdue: bool
    due_reasons: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class ReferralView:
    need: str
    need_words: str
    status: str | None  # None: not referred yet
    status_words: str
    service: str | None
    referred_at: dt.datetime | None
    accepted_at: dt.datetime | None
    ended_at: dt.datetime | None
    next_statuses: list[tuple[str, str]]  # (status, words) it may move to


@dataclass(frozen=True)
class ConsentView:
    purpose: str
    granted: bool
    version: str
    channel: str
    at: dt.datetime


@dataclass(frozen=True)
class RegistrationView:
    id: int
    ref: str
    status: str
    status_words: str
    created_at: dt.datetime
    holder_code: str | None
    holder: str | None
    assignee: str | None
    outcome: str | None
    name: str | None  # only for the holding partner
    answers: list[tuple[str, str]]
    consents: list[ConsentView]
    share_partners: bool
    referrals: list[ReferralView]
    plan_due: dt.date
    plan_overdue: bool
    plan_agreed_on: dt.date | None = None
    stay_intent: str | None = None  # a code of codes.STAY_INTENT, for the desk's form
    walk_in: bool = False
    timeline: list[TimelineEntry] = field(default_factory=list)


def plan_due(reg: Registration) -> dt.date:
    return (reg.created_at + dt.timedelta(days=PLAN_DAYS)).date()


def plan_overdue(reg: Registration, now: dt.datetime) -> bool:
    """Past the 30 days, still open, and no reintegration plan agreed yet."""
    return reg.status != "closed" and reg.plan_agreed_on is None and now.date() > plan_due(reg)


# -- the folders as conditions on `registrations` (the SQL twin of `plan_overdue` and the
# reasons in `due_reasons`; tests/desk/test_registration_folders.py holds them together) ------


def _open() -> ColumnElement[bool]:
    return Registration.status != "closed"


def _overdue_condition(now: dt.datetime) -> ColumnElement[bool]:
    """No plan and the due date (registration day + 30) is before today."""
    return and_(
        _open(),
        Registration.plan_agreed_on.is_(None),
        Registration.created_at < _day_start(now.date()) - dt.timedelta(days=PLAN_DAYS),
    )


def _plan_due_soon_condition(now: dt.datetime) -> ColumnElement[bool]:
    """No plan, not overdue yet, due within PLAN_DUE_SOON_DAYS."""
    today = _day_start(now.date())
    return and_(
        Registration.plan_agreed_on.is_(None),
        Registration.created_at >= today - dt.timedelta(days=PLAN_DAYS),
        Registration.created_at < today + dt.timedelta(days=PLAN_DUE_SOON_DAYS + 1 - PLAN_DAYS),
    )


def _stale_referral_condition(now: dt.datetime) -> ColumnElement[bool]:
    """A referral of this registration waits for news and has not changed for N days."""
    last_change = func.coalesce(Referral.accepted_at, Referral.referred_at)
    return exists().where(
        Referral.registration_id == Registration.id,
        Referral.status.in_(AWAITING_UPDATE),
        last_change < now - dt.timedelta(days=REFERRAL_STALE_DAYS),
    )


def check_in_due_condition(now: dt.datetime) -> ColumnElement[bool]:
    """The 90-day check-in (issue 10, item 6) is due on the desk: the person chose a call (or
    was never asked), registered 90 days ago or more, and has not been checked in with
    (`returnees.checkins.desk_due`; SMS choosers are asked by SMS)."""
    return checkins.desk_due(now)


def due_condition(now: dt.datetime) -> ColumnElement[bool]:
    """Open, and a follow-up is due: the plan is due soon, a referral has gone quiet, or the
    check-in is due (`check_in_due_condition`)."""
    return and_(
        _open(),
        or_(
            _plan_due_soon_condition(now),
            _stale_referral_condition(now),
            check_in_due_condition(now),
        ),
    )


def due_reasons(
    reg: Registration, referrals: list[Referral], now: dt.datetime, check_in_due: bool = False
) -> list[str]:
    """Why a registration is in "due follow-ups", in words (the Python twin of `due_condition`;
    `check_in_due` is `check_in_due_condition` for this row, found by the caller's query)."""
    if reg.status == "closed":
        return []
    reasons = ["90-day check-in due: call and record it"] if check_in_due else []
    due = plan_due(reg)
    today = now.date()
    if reg.plan_agreed_on is None and today <= due <= today + dt.timedelta(days=PLAN_DUE_SOON_DAYS):
        reasons.append(f"Plan due {due.isoformat()}")
    stale_before = now - dt.timedelta(days=REFERRAL_STALE_DAYS)
    for r in referrals:
        last = r.accepted_at or r.referred_at
        if r.status in AWAITING_UPDATE and _aware(last) < stale_before:
            words = labels.NEED_WORDS.get(r.need, r.need)
            reasons.append(f"{words}: no news for {(now - _aware(last)).days} days")
    return reasons


def _aware(at: dt.datetime) -> dt.datetime:
    return at if at.tzinfo is not None else at.replace(tzinfo=dt.UTC)


def _visible(partner_code: str) -> Select[Any]:
    return visible_to(partner_code, Registration)


def _day_start(day: dt.date) -> dt.datetime:
    return dt.datetime(day.year, day.month, day.day, tzinfo=dt.UTC)


def inbox(
    services: Services, partner_code: str, user_id: int, filters: InboxFilter
) -> list[RegistrationRow]:
    """The partner's registrations in one folder, oldest waiting first."""
    now = utcnow()
    stmt = _visible(partner_code)
    closed = Registration.status == "closed"
    if filters.folder is Folder.CLOSED:
        stmt = stmt.where(closed)
    elif filters.folder is Folder.NEW:
        stmt = stmt.where(Registration.status == "new")
    elif filters.folder is Folder.DUE:
        stmt = stmt.where(due_condition(now))
    elif filters.folder is Folder.OVERDUE:
        stmt = stmt.where(_overdue_condition(now))
    else:
        stmt = stmt.where(~closed)
    if filters.folder is Folder.MINE:
        stmt = stmt.where(Registration.assignee_user_id == user_id)
    ref = normalise_reference(filters.ref) if filters.ref else None
    if filters.ref:
        stmt = stmt.where(Registration.ref == (ref or filters.ref.strip().upper()))
    if filters.district in DISTRICTS:
        stmt = stmt.where(Registration.home_district == filters.district)
    if filters.since is not None:
        stmt = stmt.where(Registration.created_at >= _day_start(filters.since))
    if filters.until is not None:
        stmt = stmt.where(
            Registration.created_at < _day_start(filters.until) + dt.timedelta(days=1)
        )
    stmt = stmt.order_by(Registration.created_at).limit(INBOX_LIMIT * 5)
    with services.uow() as uow:
        regs = [
            r
            for r in uow.session.scalars(stmt)
            if filters.need not in NEEDS or filters.need in (r.needs or [])
        ][:INBOX_LIMIT]
        referrals: dict[int, list[Referral]] = {}
        for row in uow.session.scalars(
            select(Referral).where(Referral.registration_id.in_([r.id for r in regs]))
        ):
            referrals.setdefault(row.registration_id, []).append(row)
        check_ins_due = set(
            uow.session.scalars(
                select(Registration.id).where(
                    Registration.id.in_([r.id for r in regs]), check_in_due_condition(now)
                )
            )
        )
        names = _partner_names(uow.session)
        users = _user_names(uow.session, {r.assignee_user_id for r in regs})
        return [
            RegistrationRow(
                ref=r.ref,
                district=DISTRICTS.get(r.home_district or "", "Not given"),
                needs=[labels.NEED_WORDS.get(n, n) for n in r.needs or []],
                status=labels.word(STATUS_WORDS, r.status),
                created_at=r.created_at,
                holder=names.get(r.holder_partner_code or ""),
                assignee=users.get(r.assignee_user_id or 0),
                plan_due=plan_due(r),
                plan_overdue=plan_overdue(r, now),
                due_reasons=due_reasons(r, referrals.get(r.id, []), now, r.id in check_ins_due),
            )
            for r in regs
        ]


def find_registration_id(services: Services, reference: str, partner_code: str) -> int | None:
    """The registration's id if `partner_code` may see it; None otherwise (answer 404)."""
    ref = normalise_reference(reference)
    if ref is None:
        return None
    with services.uow() as uow:
        reg = uow.session.scalars(select(Registration).where(Registration.ref == ref)).first()
        if reg is None or not may_see(uow.session, reg, partner_code):
            return None
        return reg.id


def registration_view(
    services: Services, registration_id: int, partner_code: str
) -> RegistrationView:
    """Every answer in words, the consent record, the referrals and the timeline."""
    now = utcnow()
    with services.uow() as uow:
        r = uow.session.get(Registration, registration_id)
        if r is None:
            raise LookupError(registration_id)
        names = _partner_names(uow.session)
        events = list(
            uow.session.scalars(
                select(CaseEvent).where(CaseEvent.registration_id == r.id).order_by(CaseEvent.id)
            )
        )
        users = _user_names(
            uow.session, {r.assignee_user_id} | {e.user_id for e in events if e.user_id}
        )
        post = BORDER_POSTS.get(r.entry_point or "")
        answers = [
            ("Home district", DISTRICTS.get(r.home_district or "", "Not given")),
            ("Came from", labels.word(labels.CAME_FROM_WORDS, r.came_from)),
            ("Staying or visiting", labels.word(labels.STAY_WORDS, r.stay_intent)),
            (
                "Border post crossed",
                post.name
                if post
                else ("Prefers not to say" if r.entry_point == "prefer_not" else "Not given"),
            ),
            ("Travel document", labels.word(labels.DOCUMENT_WORDS, r.travel_document)),
            (
                "Needs",
                "; ".join(labels.NEED_WORDS.get(n, n) for n in r.needs or []) or "None given",
            ),
            ("Sex", labels.word(labels.SEX_WORDS, r.sex)),
            ("Age", labels.word(labels.AGE_WORDS, r.age_band)),
            ("How to contact", labels.word(labels.CONTACT_WORDS, r.contact_by, NOT_ASKED)),
            ("Registered by", CHANNEL_WORDS.get(r.channel, r.channel)),
        ]
        holds = bool(partner_code) and partner_code == r.holder_partner_code
        name = services.cipher.decrypt(r.name_enc) if holds and r.name_enc else None
        consents = [
            ConsentView(
                PURPOSE_WORDS.get(c.purpose, c.purpose),
                c.granted,
                c.version,
                c.channel,
                c.recorded_at,
            )
            for c in uow.session.scalars(
                select(ConsentRecord)
                .where(
                    ConsentRecord.subject_type == "registration",
                    ConsentRecord.subject_ref == r.ref,
                )
                .order_by(ConsentRecord.id.desc())
                .limit(12)
            )
        ]
        existing = {
            ref.need: ref
            for ref in uow.session.scalars(select(Referral).where(Referral.registration_id == r.id))
        }
        referral_views = []
        for need in [n for n in NEEDS if n in (r.needs or [])]:
            row = existing.get(need)
            current = row.status if row else None
            referral_views.append(
                ReferralView(
                    need=need,
                    need_words=labels.NEED_WORDS.get(need, need),
                    status=current,
                    status_words=REFERRAL_WORDS[current] if current else "Not referred yet",
                    service=row.service if row else None,
                    referred_at=row.referred_at if row else None,
                    accepted_at=row.accepted_at if row else None,
                    ended_at=row.ended_at if row else None,
                    next_statuses=[
                        (target, REFERRAL_WORDS[target])
                        for target, sources in REFERRAL_MOVES.items()
                        if current in sources
                    ],
                )
            )
        timeline = _message_entries_for(uow.session, OutboundSms.registration_id, r.id, names)
        timeline += [
            _event_entry(
                e, names, users, services.cipher.decrypt(e.note_enc) if e.note_enc else None
            )
            for e in events
        ]
        timeline.insert(
            0, TimelineEntry(r.created_at, "Registered", REGISTERED_BY[r.channel == WALK_IN])
        )
        timeline.sort(key=lambda entry: entry.at)
        return RegistrationView(
            id=r.id,
            ref=r.ref,
            status=r.status,
            status_words=labels.word(STATUS_WORDS, r.status),
            created_at=r.created_at,
            holder_code=r.holder_partner_code,
            holder=names.get(r.holder_partner_code or ""),
            assignee=users.get(r.assignee_user_id or 0),
            outcome=REGISTRATION_CLOSE_OUTCOMES.get(r.outcome or "") if r.outcome else None,
            name=name,
            answers=answers,
            consents=consents,
            share_partners=r.share_partners,
            referrals=referral_views,
            plan_due=plan_due(r),
            plan_overdue=plan_overdue(r, now),
            plan_agreed_on=r.plan_agreed_on,
            stay_intent=r.stay_intent,
            walk_in=r.channel == WALK_IN,
            timeline=timeline,
        )


def health_posts_of(services: Services, partner_code: str) -> list[tuple[str, str]]:
    """The border posts where `partner_code` runs a border health desk: (code, name)."""
    from ussd_app.partners.models import Partner, as_list

    with services.uow() as uow:
        posts = uow.session.scalar(
            select(Partner.border_health_posts).where(
                Partner.code == partner_code, Partner.active.is_(True)
            )
        )
    return [(p, BORDER_POSTS[p].name) for p in as_list(posts) if p in BORDER_POSTS]


def health_summary(services: Services, registration_id: int) -> tuple[str, str, list[str]]:
    """What a border health desk sees of a registration: ref, home district, needs in words.

    Never the name or number: the person is in front of the health worker, who needs only to
    know they are registered and what they asked for.
    """
    with services.uow() as uow:
        r = uow.session.get(Registration, registration_id)
        if r is None:
            raise LookupError(registration_id)
        return (
            r.ref,
            DISTRICTS.get(r.home_district or "", "Not given"),
            [labels.NEED_WORDS.get(n, n) for n in r.needs or []],
        )


def registration_number(services: Services, registration_id: int, partner_code: str) -> str | None:
    """The returnee's number, for the partner holding the registration only (None otherwise).

    The caller audits the look with its reason (DESIGN decision 13)."""
    with services.uow() as uow:
        reg = uow.session.get(Registration, registration_id)
        if reg is None or not partner_code or reg.holder_partner_code != partner_code:
            return None
        return services.cipher.decrypt(reg.phone_enc)


def find_registration_ref(services: Services, registration_id: int) -> str:
    with services.uow() as uow:
        return (
            uow.session.scalar(select(Registration.ref).where(Registration.id == registration_id))
            or ""
        )
