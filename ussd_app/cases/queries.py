"""What the staff desk reads about cases: the inbox and one case with its timeline.

Every query is scoped to one partner on the server (DESIGN decision 12): a partner sees a case
only if it was alerted to it or holds it (`authority.may_see`). Nothing here returns a reporter's
number; `reporter_number` is the one way to it, for a consenting reporter only, and its caller
audits the look. Results are plain dataclasses with words, not codes, ready for a template.
"""

from __future__ import annotations

import datetime as dt
import enum
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Select, func, select
from sqlalchemy.orm import Session

from ussd_app.cases import labels
from ussd_app.cases.authority import ALERTING_PURPOSES, may_see, visible_to
from ussd_app.cases.machine import CLOSE_OUTCOMES
from ussd_app.cases.models import CaseEvent
from ussd_app.codes import BORDER_POSTS, DISTRICTS
from ussd_app.container import Services
from ussd_app.db import utcnow
from ussd_app.messaging.models import OutboundSms
from ussd_app.partners.models import Partner, PartnerContact
from ussd_app.phones import mask
from ussd_app.references import normalise_reference
from ussd_app.reports.models import ReporterContact, TraffickingReport
from ussd_app.staff.models import StaffUser

INBOX_LIMIT = 200
TIMELINE_PURPOSES = (*ALERTING_PURPOSES, "notice")


class Folder(enum.StrEnum):
    UNASSIGNED = "unassigned"  # open, nobody of ours is assigned (taken or not)
    MINE = "mine"  # open and assigned to me
    ALL = "all"  # every open case of my partner
    CLOSED = "closed"


AGES: dict[str, dt.timedelta] = {
    "1h": dt.timedelta(hours=1),
    "24h": dt.timedelta(hours=24),
    "7d": dt.timedelta(days=7),
    "30d": dt.timedelta(days=30),
}


@dataclass(frozen=True)
class InboxFilter:
    folder: Folder = Folder.UNASSIGNED
    priority: str | None = None  # P1 / P2 / P3
    status: str | None = None  # a report status
    place: str | None = None  # a district code or a border post code
    age: str | None = None  # a key of AGES: created within
    incomplete: bool = False


@dataclass(frozen=True)
class CaseRow:
    ref: str
    priority: str
    place: str
    flags: list[str]
    status: str
    created_at: dt.datetime
    acknowledged_at: dt.datetime | None
    holder: str | None
    assignee: str | None
    overdue: bool
    incomplete: bool
    child: bool
    possible_flood: bool = False  # over REPORT_LIMIT from one number (cases/floods.py)


@dataclass(frozen=True)
class TimelineEntry:
    at: dt.datetime
    what: str
    who: str = ""
    note: str | None = None


@dataclass(frozen=True)
class CaseView:
    id: int
    ref: str
    priority: str
    priority_words: str
    status: str
    status_words: str
    channel: str
    incomplete: bool
    created_at: dt.datetime
    acknowledged_at: dt.datetime | None
    closed_at: dt.datetime | None
    holder_code: str | None
    holder: str | None
    assignee: str | None
    assignee_id: int | None
    outcome: str | None
    overdue: bool
    answers: list[tuple[str, str]]
    flags: list[tuple[str, str]]  # (code, words), with the legend
    sms_words: str | None
    callback_consent: bool
    timeline: list[TimelineEntry] = field(default_factory=list)
    # Over REPORT_LIMIT from one number: how many reports share its flood batch (0: not one).
    flood_size: int = 0


def ack_deadline(services: Services, report: TraffickingReport) -> dt.datetime | None:
    """When an unacknowledged report becomes overdue (None for P3)."""
    minutes = {"P1": services.settings.p1_ack_minutes, "P2": services.settings.p2_ack_minutes}
    if report.priority not in minutes:
        return None
    return report.created_at + dt.timedelta(minutes=minutes[report.priority])


def is_overdue(services: Services, report: TraffickingReport, now: dt.datetime) -> bool:
    deadline = ack_deadline(services, report)
    return (
        deadline is not None
        and report.acknowledged_at is None
        and report.status != "closed"
        and now > deadline
    )


def _visible(partner_code: str) -> Select[Any]:
    return visible_to(partner_code, TraffickingReport)


def inbox(
    services: Services, partner_code: str, user_id: int, filters: InboxFilter
) -> list[CaseRow]:
    """The partner's cases in one folder, most urgent first, then longest waiting."""
    now = utcnow()
    stmt = _visible(partner_code)
    closed = TraffickingReport.status == "closed"
    stmt = stmt.where(closed) if filters.folder is Folder.CLOSED else stmt.where(~closed)
    if filters.folder is Folder.MINE:
        stmt = stmt.where(TraffickingReport.assignee_user_id == user_id)
    elif filters.folder is Folder.UNASSIGNED:
        stmt = stmt.where(TraffickingReport.assignee_user_id.is_(None))
    if filters.priority in ("P1", "P2", "P3"):
        stmt = stmt.where(TraffickingReport.priority == filters.priority)
    if filters.status in labels.STATUS_WORDS:
        stmt = stmt.where(TraffickingReport.status == filters.status)
    if filters.place in DISTRICTS:
        stmt = stmt.where(TraffickingReport.district == filters.place)
    elif filters.place in BORDER_POSTS:
        stmt = stmt.where(TraffickingReport.place == filters.place)
    if filters.age in AGES:
        stmt = stmt.where(TraffickingReport.created_at >= now - AGES[filters.age])
    if filters.incomplete:
        stmt = stmt.where(TraffickingReport.incomplete.is_(True))
    stmt = stmt.order_by(TraffickingReport.priority, TraffickingReport.created_at).limit(
        INBOX_LIMIT
    )
    with services.uow() as uow:
        reports = list(uow.session.scalars(stmt))
        names = _partner_names(uow.session)
        users = _user_names(uow.session, {r.assignee_user_id for r in reports})
        return [
            CaseRow(
                ref=r.ref,
                priority=r.priority,
                place=labels.place_name(r.place),
                flags=labels.flag_words(r.flags),
                status=labels.word(labels.STATUS_WORDS, r.status),
                created_at=r.created_at,
                acknowledged_at=r.acknowledged_at,
                holder=names.get(r.holder_partner_code or ""),
                assignee=users.get(r.assignee_user_id or 0),
                overdue=is_overdue(services, r, now),
                incomplete=r.incomplete,
                child=r.child_involved == "yes",
                possible_flood=r.possible_flood,
            )
            for r in reports
        ]


def latest_case_id(services: Services, partner_code: str) -> int:
    """The newest case id the partner can see (the inbox polls this to show new cases)."""
    with services.uow() as uow:
        stmt = _visible(partner_code).order_by(TraffickingReport.id.desc()).limit(1)
        report = uow.session.scalars(stmt).first()
        return report.id if report else 0


def find_report_id(services: Services, reference: str, partner_code: str) -> int | None:
    """The case's id if `partner_code` may see it; None otherwise (answer 404, never 403)."""
    ref = normalise_reference(reference)
    if ref is None:
        return None
    with services.uow() as uow:
        report = uow.session.scalars(
            select(TraffickingReport).where(TraffickingReport.ref == ref)
        ).first()
        if report is None or not may_see(uow.session, report, partner_code):
            return None
        return report.id


def case_view(services: Services, report_id: int) -> CaseView:
    """Every answer in words and the timeline of every message and action."""
    now = utcnow()
    cipher = services.cipher
    with services.uow() as uow:
        r = uow.session.get(TraffickingReport, report_id)
        if r is None:
            raise LookupError(report_id)
        names = _partner_names(uow.session)
        events = list(
            uow.session.scalars(
                select(CaseEvent).where(CaseEvent.report_id == r.id).order_by(CaseEvent.id)
            )
        )
        users = _user_names(
            uow.session, {r.assignee_user_id} | {e.user_id for e in events if e.user_id}
        )
        answers = [
            ("Danger now", _yes_no(r.danger_now)),
            ("Child involved", labels.word(labels.CHILD_WORDS, r.child_involved)),
            ("Where", labels.place_name(r.place)),
            ("When seen", labels.word(labels.WHEN_WORDS, r.when_seen)),
            ("How many people", labels.word(labels.PERSONS_WORDS, r.persons_count)),
            (
                "Vehicle or route",
                cipher.decrypt(r.vehicle_enc) if r.vehicle_enc else "Not given",
            ),
            ("Reported by", "SMS" if r.channel == "sms" else "USSD"),
            ("Call-back agreed", "Yes" if r.callback_consent else "No"),
        ]
        timeline = _message_entries(uow.session, r.id, names) + [
            _event_entry(e, names, users, cipher.decrypt(e.note_enc) if e.note_enc else None)
            for e in events
        ]
        timeline.insert(0, TimelineEntry(r.created_at, "Report filed", "by the reporter"))
        timeline.sort(key=lambda entry: entry.at)
        return CaseView(
            id=r.id,
            ref=r.ref,
            priority=r.priority,
            priority_words=labels.word(labels.PRIORITY_WORDS, r.priority),
            status=r.status,
            status_words=labels.word(labels.STATUS_WORDS, r.status),
            channel=r.channel,
            incomplete=r.incomplete,
            created_at=r.created_at,
            acknowledged_at=r.acknowledged_at,
            closed_at=r.closed_at,
            holder_code=r.holder_partner_code,
            holder=names.get(r.holder_partner_code or ""),
            assignee=users.get(r.assignee_user_id or 0),
            assignee_id=r.assignee_user_id,
            outcome=CLOSE_OUTCOMES.get(r.outcome or "") if r.outcome else None,
            overdue=is_overdue(services, r, now),
            answers=answers,
            flags=[(code, labels.RED_FLAG_WORDS.get(code, code)) for code in r.flags or []],
            sms_words=cipher.decrypt(r.sms_text_enc) if r.sms_text_enc else None,
            callback_consent=r.callback_consent,
            timeline=timeline,
            flood_size=_flood_size(uow.session, r),
        )


def _flood_size(session: Session, report: TraffickingReport) -> int:
    """How many reports share `report`'s flood batch (0 when it is not a possible flood)."""
    if not report.possible_flood or report.flood_batch is None:
        return 0
    count = session.scalar(
        select(func.count(TraffickingReport.id)).where(
            TraffickingReport.flood_batch == report.flood_batch
        )
    )
    return int(count or 1)


class NumberState(enum.StrEnum):
    SHOWN = "shown"
    NO_CONSENT = "no_consent"
    ERASED = "erased"


def reporter_number(services: Services, report_id: int) -> tuple[NumberState, str | None]:
    """The reporter's number, only when they agreed to a call-back and it is not yet erased."""
    with services.uow() as uow:
        report = uow.session.get(TraffickingReport, report_id)
        if report is None or not report.callback_consent:
            return NumberState.NO_CONSENT, None
        contact = uow.session.scalars(
            select(ReporterContact).where(ReporterContact.report_id == report_id)
        ).first()
        if contact is None or not contact.callback_consent:
            return NumberState.NO_CONSENT, None
        if contact.phone_enc is None:
            return NumberState.ERASED, None
        return NumberState.SHOWN, services.cipher.decrypt(contact.phone_enc)


def ref_of(services: Services, report_id: int) -> str:
    with services.uow() as uow:
        ref = uow.session.scalar(
            select(TraffickingReport.ref).where(TraffickingReport.id == report_id)
        )
        return ref or ""


def transfer_targets(services: Services, partner_code: str) -> list[tuple[str, str]]:
    """Partners a case may be transferred to: (code, name), active, not the holder itself."""
    with services.uow() as uow:
        rows = uow.session.execute(
            select(Partner.code, Partner.name)
            .where(Partner.active, Partner.code != partner_code)
            .order_by(Partner.name)
        ).all()
        return [(code, name) for code, name in rows]


def colleagues(services: Services, partner_id: int) -> list[tuple[int, str]]:
    """Active staff of one partner, for assigning: (user id, display name)."""
    with services.uow() as uow:
        rows = uow.session.execute(
            select(StaffUser.id, StaffUser.display_name)
            .where(StaffUser.partner_id == partner_id, StaffUser.active)
            .order_by(StaffUser.display_name)
        ).all()
        return [(uid, name) for uid, name in rows]


def _yes_no(value: bool | None) -> str:
    if value is None:
        return "Not answered"
    return "Yes" if value else "No"


def _partner_names(session: Session) -> dict[str, str]:
    return {code: name for code, name in session.execute(select(Partner.code, Partner.name))}


def _user_names(session: Session, ids: set[int | None]) -> dict[int, str]:
    wanted = {i for i in ids if i}
    if not wanted:
        return {}
    rows = session.execute(
        select(StaffUser.id, StaffUser.display_name).where(StaffUser.id.in_(wanted))
    )
    return {uid: name for uid, name in rows}


def _message_entries(
    session: Session, report_id: int, names: dict[str, str]
) -> list[TimelineEntry]:
    """Each alert, escalation and notice: queued, sent, delivered, failed, rerouted, with times.

    The recipient is shown by partner and masked number; a reporter's own messages never appear.
    """
    return _message_entries_for(session, OutboundSms.report_id, report_id, names)


def _message_entries_for(
    session: Session, column: Any, case_id: int, names: dict[str, str]
) -> list[TimelineEntry]:
    """`_message_entries` for the case whose id is in `column` (a report's or registration's)."""
    rows = session.execute(
        select(OutboundSms, PartnerContact.name, PartnerContact.phone)
        .outerjoin(PartnerContact, PartnerContact.id == OutboundSms.contact_id)
        .where(column == case_id, OutboundSms.purpose.in_(TIMELINE_PURPOSES))
        .order_by(OutboundSms.id)
    ).all()
    out: list[TimelineEntry] = []
    seen_partners: set[tuple[str, str]] = set()
    for row, contact_name, contact_phone in rows:
        partner = names.get(row.partner_code or "", "")
        to = ", ".join(p for p in (partner, contact_name, mask(contact_phone or "")) if p)
        purpose = labels.word(labels.PURPOSE_WORDS, row.purpose)
        key = (row.purpose, row.partner_code or "")
        rerouted = row.purpose == "alert" and key in seen_partners and row.partner_code
        seen_partners.add(key)
        queued = f"{purpose} queued" + (" (rerouted to next contact)" if rerouted else "")
        out.append(TimelineEntry(row.created_at, queued, to))
        if row.sent_at:
            out.append(TimelineEntry(row.sent_at, f"{purpose} sent", to))
        if row.delivered_at:
            out.append(TimelineEntry(row.delivered_at, f"{purpose} delivered", to))
        if row.failed_at:
            reason = row.gateway_status or "failed"
            out.append(TimelineEntry(row.failed_at, f"{purpose} failed ({reason})", to))
        if row.status == "cancelled":
            out.append(TimelineEntry(row.updated_at, f"{purpose} cancelled: not needed", to))
    return out


def _event_entry(
    event: CaseEvent, names: dict[str, str], users: dict[int, str], note: str | None
) -> TimelineEntry:
    what = labels.word(labels.EVENT_WORDS, event.action)
    if event.action == "closed" and event.outcome:
        what += f": {CLOSE_OUTCOMES.get(event.outcome, event.outcome)}"
    if event.action == "transferred" and event.detail:
        what += f" to {names.get(event.detail, event.detail)}"
    if event.action == "referred" and event.detail and ":" in event.detail:
        need, _, status = event.detail.partition(":")
        what += f": {need}, {status}"
    if event.action == "refused" and event.detail:
        what += f" ({labels.word(labels.EVENT_WORDS, event.detail)})"
    if event.action == "assigned" and event.detail and event.detail.startswith("user:"):
        uid = int(event.detail.split(":", 1)[1])
        what += f" to {users.get(uid, 'a colleague')}"
    by = [names.get(event.partner_code or "", "")] if event.partner_code else []
    if event.user_id:
        by.append(users.get(event.user_id, ""))
    channel = {"sms": "by SMS", "desk": "on the desk", "system": "by the service"}
    who = " · ".join(p for p in (*by, channel.get(event.channel, "")) if p)
    return TimelineEntry(event.created_at, what, who, note)
