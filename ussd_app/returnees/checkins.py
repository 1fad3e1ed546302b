"""The follow-up check-in, 90 days after registration (issue 10, item 6): how is the person doing?

Four yes/no questions, each optional: earning an income, a place to live, able to get health
care, want more help. How it is asked follows how the person chose to be contacted:

    sms           one SMS with reply codes ("reply CHECK 1 2 1 2"), staged by the maintenance
                  sweep (`ussd_app.cases.checkin_sms`); the reply is parsed by the inbound CHECK
                  command. STOP ends it: no check-in SMS goes to a number that sent STOP, and an
                  open SMS check-in is marked stopped.
    call or NULL  due on the desk for the holding case worker (`checkin_due`, `desk_due`), who
                  records the answers from the call on the registration page.
    none          never asked.

One row per registration and round (round 1 is the 90-day check-in), created when it is asked
(SMS staged) or answered (desk), whichever comes first; it goes with the registration
(ON DELETE CASCADE, and delete-my-data deletes it explicitly). The answers are codes, safe for
statistics; they are never logged.
"""

from __future__ import annotations

import datetime as dt
import enum
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from sqlalchemy import (
    CheckConstraint,
    ColumnElement,
    ForeignKey,
    String,
    UniqueConstraint,
    and_,
    exists,
    or_,
    select,
)
from sqlalchemy.orm import Mapped, Session, mapped_column

from ussd_app.columns import CODE_LEN, check_in
from ussd_app.container import Services
from ussd_app.db import Base, TZDateTime, created_at, updated_at, utcnow
from ussd_app.returnees.models import Registration

CHECK_IN_AFTER = dt.timedelta(days=90)
FIRST_ROUND = 1

# The questions, in the order of the SMS reply codes. Keys are the column names.
QUESTIONS: tuple[str, ...] = ("earning", "housing", "health_care", "more_help")
QUESTION_WORDS: dict[str, str] = {
    "earning": "Earning an income",
    "housing": "A place to live",
    "health_care": "Able to get health care",
    "more_help": "Wants more help",
}
YES, NO = "yes", "no"
ANSWERS = (YES, NO)  # a skipped question is NULL
ANSWER_WORDS: dict[str | None, str] = {YES: "Yes", NO: "No", None: "Not answered"}
# The digits of an SMS reply: 1 yes, 2 no, 0 skip.
REPLY_CODES: dict[str, str | None] = {"1": YES, "2": NO, "0": None}


class CheckInChannel(enum.StrEnum):
    SMS = "sms"  # asked by SMS (reply codes)
    DESK = "desk"  # asked on a call, recorded on the desk


class CheckInStatus(enum.StrEnum):
    ASKED = "asked"  # the SMS is staged; no reply yet
    ANSWERED = "answered"  # answers recorded (any of them may be skipped)
    STOPPED = "stopped"  # the person sent STOP before answering


CHANNELS = tuple(c.value for c in CheckInChannel)
STATUSES = tuple(s.value for s in CheckInStatus)
STATUS_WORDS: dict[str, str] = {
    CheckInStatus.ASKED.value: "Asked by SMS, no reply yet",
    CheckInStatus.ANSWERED.value: "Answered",
    CheckInStatus.STOPPED.value: "Stopped by the person (STOP)",
}


class CheckIn(Base):
    """One check-in of one registration: how it was asked, and the answers (NULL: skipped)."""

    __tablename__ = "check_ins"
    __table_args__ = (
        UniqueConstraint("registration_id", "round"),
        CheckConstraint(check_in("channel", CHANNELS), name="channel"),
        CheckConstraint(check_in("status", STATUSES), name="status"),
        *(
            CheckConstraint(f"{q} IS NULL OR {q} IN ('yes', 'no')", name=f"{q}_answer")
            for q in QUESTIONS
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    registration_id: Mapped[int] = mapped_column(
        ForeignKey("registrations.id", ondelete="CASCADE"), index=True
    )
    round: Mapped[int] = mapped_column(default=FIRST_ROUND)
    channel: Mapped[str] = mapped_column(String(8))
    status: Mapped[str] = mapped_column(String(16))
    asked_at: Mapped[dt.datetime | None] = mapped_column(TZDateTime())
    answered_at: Mapped[dt.datetime | None] = mapped_column(TZDateTime())
    answered_by: Mapped[str | None] = mapped_column(String(8))  # sms (the person) / desk
    recorded_by_user_id: Mapped[int | None] = mapped_column()  # staff_users.id for the desk
    earning: Mapped[str | None] = mapped_column(String(CODE_LEN))
    housing: Mapped[str | None] = mapped_column(String(CODE_LEN))
    health_care: Mapped[str | None] = mapped_column(String(CODE_LEN))
    more_help: Mapped[str | None] = mapped_column(String(CODE_LEN))
    created_at: Mapped[created_at]
    updated_at: Mapped[updated_at]

    def answers(self) -> dict[str, str | None]:
        return {q: getattr(self, q) for q in QUESTIONS}

    def __repr__(self) -> str:  # never the answers
        return f"<CheckIn {self.id} reg={self.registration_id} {self.status}>"


def _comparable(a: dt.datetime, b: dt.datetime) -> tuple[dt.datetime, dt.datetime]:
    if (a.tzinfo is None) != (b.tzinfo is None):
        return a.replace(tzinfo=None), b.replace(tzinfo=None)
    return a, b


def due_at(registration: Registration) -> dt.datetime:
    """When the first check-in falls due: 90 days after registration."""
    created = registration.created_at or utcnow()
    return created + CHECK_IN_AFTER


def asks_by(registration: Registration) -> CheckInChannel | None:
    """How this person's check-in is asked: SMS, a call (desk), or not at all ("none")."""
    if registration.contact_by == "none":
        return None
    if registration.contact_by == "sms":
        return CheckInChannel.SMS
    return CheckInChannel.DESK  # "call", or NULL (not asked: their screens promised a call)


def checkin_due(
    registration: Registration, now: dt.datetime, check_in: CheckIn | None = None
) -> bool:
    """Whether the 90-day check-in is due on the desk for this registration (its holder calls).

    True for a person who chose a call (or was never asked, NULL), 90 days or more after
    registering, whose first check-in (`check_in`, the round-1 row if any) is not answered yet.
    SMS choosers are asked by SMS (`sms_due`), "none" never. For desk lists, `desk_due` is the
    same rule as a query condition.
    """
    if asks_by(registration) is not CheckInChannel.DESK:
        return False
    if check_in is not None and check_in.status == CheckInStatus.ANSWERED.value:
        return False
    due, now = _comparable(due_at(registration), now)
    return due <= now


def _first_round_done(*statuses: str) -> ColumnElement[bool]:
    return exists().where(
        CheckIn.registration_id == Registration.id,
        CheckIn.round == FIRST_ROUND,
        CheckIn.status.in_(statuses),
    )


def desk_due(now: dt.datetime) -> ColumnElement[bool]:
    """`checkin_due` as a WHERE condition on `Registration` (for the desk's "due follow-ups").

    The caller adds its own scope (the holding partner, the assignee).
    """
    return and_(
        or_(Registration.contact_by.is_(None), Registration.contact_by == "call"),
        Registration.created_at <= now - CHECK_IN_AFTER,
        ~_first_round_done(CheckInStatus.ANSWERED.value),
    )


def sms_due(now: dt.datetime) -> ColumnElement[bool]:
    """Registrations whose SMS check-in should be staged now (the sweep adds the STOP check):
    chose SMS, 90 days or more ago, and round 1 not yet asked, answered or stopped."""
    return and_(
        Registration.contact_by == "sms",
        Registration.sms_opt_in.is_(True),
        Registration.created_at <= now - CHECK_IN_AFTER,
        ~_first_round_done(*STATUSES),
    )


def first_check_in(session: Session, registration_id: int) -> CheckIn | None:
    return session.scalar(
        select(CheckIn).where(
            CheckIn.registration_id == registration_id, CheckIn.round == FIRST_ROUND
        )
    )


def open_sms_check_in(session: Session, registration_id: int) -> CheckIn | None:
    """The SMS check-in this registration may still answer (asked, not answered or stopped)."""
    found = first_check_in(session, registration_id)
    if found is None or found.status != CheckInStatus.ASKED.value:
        return None
    return found


class BadAnswers(ValueError):
    """Answers that are not yes, no or skipped, or name an unknown question."""


def parse_reply_codes(text: str) -> list[str | None] | None:
    """The answers in an SMS reply's digits ("1 2 1 2", "1212", "1,2,0"), or None if it is not
    1 to 4 codes of 0, 1, 2. Fewer than 4: the rest are skipped."""
    digits = [c for c in text if not c.isspace() and c not in ",.;:*#-"]
    if not 1 <= len(digits) <= len(QUESTIONS) or any(d not in REPLY_CODES for d in digits):
        return None
    return [REPLY_CODES[d] for d in digits]


def _clean(answers: Mapping[str, str | None] | Sequence[str | None]) -> dict[str, str | None]:
    if isinstance(answers, Mapping):
        unknown = set(answers) - set(QUESTIONS)
        if unknown:
            raise BadAnswers(f"unknown questions {sorted(unknown)}")
        values = {q: answers.get(q) or None for q in QUESTIONS}
    else:
        if len(answers) > len(QUESTIONS):
            raise BadAnswers("more answers than questions")
        padded = list(answers) + [None] * (len(QUESTIONS) - len(answers))
        values = dict(zip(QUESTIONS, padded, strict=True))
    for value in values.values():
        if value is not None and value not in ANSWERS:
            raise BadAnswers("an answer must be yes, no or skipped")
    return values


def check_answers(answers: Mapping[str, str | None] | Sequence[str | None]) -> None:
    """Raise BadAnswers unless `answers` could be recorded."""
    _clean(answers)


def mark_asked(
    session: Session, registration_id: int, now: dt.datetime, *, stopped: bool = False
) -> CheckIn | None:
    """Record that the SMS check-in was staged (in the sweep's transaction), or, `stopped`, that
    it was not sent because the number had sent STOP; None if round 1 exists already (asked,
    answered on the desk, or stopped): it is asked once."""
    if first_check_in(session, registration_id) is not None:
        return None
    row = CheckIn(
        registration_id=registration_id,
        round=FIRST_ROUND,
        channel=CheckInChannel.SMS.value,
        status=(CheckInStatus.STOPPED if stopped else CheckInStatus.ASKED).value,
        asked_at=None if stopped else now,
    )
    session.add(row)
    session.flush()
    return row


def record_answers(
    session: Session,
    registration: Registration,
    answers: Mapping[str, str | None] | Sequence[str | None],
    *,
    answered_by: CheckInChannel,
    user_id: int | None = None,
    now: dt.datetime | None = None,
) -> CheckIn:
    """Store the answers of the first check-in, from the person's SMS or the desk's form, in the
    caller's transaction. Answering again (a second reply, a correction on the desk) replaces
    them: the latest word of the person is what counts."""
    values = _clean(answers)
    now = now or utcnow()
    row = first_check_in(session, registration.id)
    if row is None:
        row = CheckIn(
            registration_id=registration.id,
            round=FIRST_ROUND,
            channel=answered_by.value,
            status=CheckInStatus.ANSWERED.value,
        )
        session.add(row)
    row.status = CheckInStatus.ANSWERED.value
    row.answered_at = now
    row.answered_by = answered_by.value
    row.recorded_by_user_id = user_id
    for question, value in values.items():
        setattr(row, question, value)
    session.flush()
    return row


def stop_open(session: Session, registration_id: int) -> bool:
    """STOP: an SMS check-in still waiting for a reply is stopped (no more check-in SMS)."""
    row = open_sms_check_in(session, registration_id)
    if row is None:
        return False
    row.status = CheckInStatus.STOPPED.value
    return True


ASKS_BY_WORDS: dict[CheckInChannel | None, str] = {
    CheckInChannel.SMS: "By SMS (reply codes), sent by the service",
    CheckInChannel.DESK: "By a call from the holding case worker, recorded here",
    None: "Not asked: the person chose not to be contacted",
}
ANSWERED_BY_WORDS = {"sms": "by the person, by SMS", "desk": "on the desk, from a call"}


@dataclass(frozen=True)
class CheckInView:
    """The 90-day check-in of one registration, in the desk's words."""

    asks_by: str
    by_desk: bool  # asked on a call: the holder may record the answers
    due_on: dt.date
    due_now: bool  # due on the desk (a call) and not yet answered
    status_words: str  # "Not asked yet", "Asked by SMS...", "Answered", "Stopped..."
    answered: str | None  # when and how it was answered
    # (question key, question words, answer words, answer code) in QUESTIONS order
    answers: list[tuple[str, str, str, str | None]]


def check_in_view(services: Services, registration_id: int, now: dt.datetime) -> CheckInView:
    """What the registration page shows of the check-in (answers in words, never codes)."""
    with services.uow() as uow:
        reg = uow.session.get(Registration, registration_id)
        if reg is None:
            raise LookupError(registration_id)
        row = first_check_in(uow.session, registration_id)
        channel = asks_by(reg)
        answered = None
        if row is not None and row.answered_at is not None:
            how = ANSWERED_BY_WORDS.get(row.answered_by or "", "")
            answered = f"{row.answered_at:%Y-%m-%d %H:%M} UTC, {how}"
        values = row.answers() if row is not None else dict.fromkeys(QUESTIONS)
        return CheckInView(
            asks_by=ASKS_BY_WORDS[channel],
            by_desk=channel is CheckInChannel.DESK,
            due_on=due_at(reg).date(),
            due_now=checkin_due(reg, now, row),
            status_words=STATUS_WORDS[row.status] if row is not None else "Not asked yet",
            answered=answered,
            answers=[(q, QUESTION_WORDS[q], ANSWER_WORDS[values[q]], values[q]) for q in QUESTIONS],
        )
