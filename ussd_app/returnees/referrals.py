"""Referrals: one per need of a registration, each with its own small lifecycle.

A case worker refers a need (livelihood, skills, documents, clinic, other) to a service; the
referral then moves through the table below, and nothing else writes its status (DESIGN
decision 11). `advance` is the one function that applies a move; the staff action that calls it
(`ussd_app.cases.actions.refer`) checks authority and records the case event.

    referred     the need was passed to a service (a partner, a clinic, a ministry office)
    accepted     the service agreed to help the person
    delivered    the service was given (training started, documents issued, clinic visit)
    declined     the person or the service said no; final
    unreachable  the service could not reach the person; may be referred again
"""

from __future__ import annotations

import datetime as dt
import enum

from sqlalchemy import CheckConstraint, ForeignKey, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from ussd_app.columns import CODE_LEN, check_in
from ussd_app.db import Base, created_at, updated_at


class ReferralStatus(enum.StrEnum):
    REFERRED = "referred"
    ACCEPTED = "accepted"
    DELIVERED = "delivered"
    DECLINED = "declined"
    UNREACHABLE = "unreachable"


REFERRAL_STATUSES = tuple(s.value for s in ReferralStatus)

_R, _A, _D, _X, _U = (
    ReferralStatus.REFERRED.value,
    ReferralStatus.ACCEPTED.value,
    ReferralStatus.DELIVERED.value,
    ReferralStatus.DECLINED.value,
    ReferralStatus.UNREACHABLE.value,
)

# target status -> the statuses it may be reached from. A new referral starts at "referred"
# (from no status at all, written as None); delivered and declined are final.
REFERRAL_MOVES: dict[str, frozenset[str | None]] = {
    _R: frozenset({None, _U}),
    _A: frozenset({_R, _U}),
    _D: frozenset({_R, _A}),
    _X: frozenset({_R, _A, _U}),
    _U: frozenset({_R, _A}),
}

FINAL = frozenset({_D, _X})


def allowed(current: str | None, target: str) -> bool:
    """Whether a referral in `current` (None: not referred yet) may move to `target`."""
    return current in REFERRAL_MOVES.get(target, frozenset())


class Referral(Base):
    """One need of one registration referred to a service, and how far it has got."""

    __tablename__ = "referrals"
    __table_args__ = (
        UniqueConstraint("registration_id", "need"),
        CheckConstraint(check_in("status", REFERRAL_STATUSES), name="status"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    registration_id: Mapped[int] = mapped_column(
        ForeignKey("registrations.id", ondelete="CASCADE"), index=True
    )
    need: Mapped[str] = mapped_column(String(CODE_LEN))  # a code from ussd_app.codes.NEEDS
    service: Mapped[str | None] = mapped_column(String(120))  # to whom (a partner, a clinic)
    status: Mapped[str] = mapped_column(String(16), default=_R)
    referred_at: Mapped[dt.datetime] = mapped_column()
    accepted_at: Mapped[dt.datetime | None] = mapped_column()
    ended_at: Mapped[dt.datetime | None] = mapped_column()  # delivered, declined, unreachable
    created_at: Mapped[created_at]
    updated_at: Mapped[updated_at]

    def __repr__(self) -> str:
        return f"<Referral {self.id} {self.need} {self.status}>"


def advance(referral: Referral, target: str, now: dt.datetime) -> bool:
    """Move `referral` to `target` with its date; False (nothing changed) if not allowed."""
    if not allowed(referral.status, target):
        return False
    referral.status = target
    if target == _R:
        referral.referred_at = now
        referral.accepted_at = None
        referral.ended_at = None
    elif target == _A:
        referral.accepted_at = now
        referral.ended_at = None
    else:
        referral.ended_at = now
    return True


def new_referral(
    registration_id: int, need: str, service: str | None, now: dt.datetime
) -> Referral:
    """A fresh referral of `need`, in status "referred"."""
    return Referral(
        registration_id=registration_id,
        need=need,
        service=service,
        status=_R,
        referred_at=now,
    )
