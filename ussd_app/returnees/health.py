"""Border health services: that a service was given to a registered returnee at a border post.

Only *that* a service was given is recorded (HIV test offered or done, TB screening, ART refill,
COVID-19 screening, vaccination), never a result: a test result is health data the service has
no need to hold (Data Protection Act 2011, sensitive data; domain-lesotho.md 3.1). Rows go with
the registration (delete-my-data) by their foreign key.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable

from sqlalchemy import CheckConstraint, ForeignKey, String, select
from sqlalchemy.orm import Mapped, mapped_column

from ussd_app.codes import BORDER_POSTS
from ussd_app.columns import CODE_LEN, check_in
from ussd_app.container import Services
from ussd_app.db import Base, created_at, utcnow
from ussd_app.references import normalise_reference
from ussd_app.returnees.models import Registration

# Service code -> words. Deliberately no field for a result.
HEALTH_SERVICES: dict[str, str] = {
    "hiv_test_offered": "HIV test offered",
    "hiv_test_done": "HIV test done",
    "tb_screening": "TB screening",
    "art_refill": "ART refill",
    "covid_screening": "COVID-19 screening",
    "vaccination": "Vaccination",
}


class HealthService(Base):
    """One service given to one registered returnee at one border post, by one desk user."""

    __tablename__ = "health_services"
    __table_args__ = (CheckConstraint(check_in("service", tuple(HEALTH_SERVICES)), name="service"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    registration_id: Mapped[int] = mapped_column(
        ForeignKey("registrations.id", ondelete="CASCADE"), index=True
    )
    service: Mapped[str] = mapped_column(String(CODE_LEN))
    border_post: Mapped[str] = mapped_column(String(CODE_LEN))
    partner_code: Mapped[str] = mapped_column(String(64))
    user_id: Mapped[int | None] = mapped_column()
    given_at: Mapped[dt.datetime] = mapped_column()
    created_at: Mapped[created_at]


def find_registration(services: Services, reference: str) -> tuple[int, str] | None:
    """(id, ref) of the registration a returnee names at the desk, or None."""
    ref = normalise_reference(reference)
    if ref is None:
        return None
    with services.uow() as uow:
        row = uow.session.execute(
            select(Registration.id, Registration.ref).where(Registration.ref == ref)
        ).first()
        return (row[0], row[1]) if row else None


def record_services(
    services: Services,
    registration_id: int,
    codes: Iterable[str],
    *,
    border_post: str,
    partner_code: str,
    user_id: int | None,
    now: dt.datetime | None = None,
) -> int:
    """Record that each service in `codes` was given; returns how many rows were written."""
    wanted = [c for c in HEALTH_SERVICES if c in set(codes)]
    if not wanted:
        raise ValueError("choose at least one service given")
    if border_post not in BORDER_POSTS:
        raise ValueError(f"unknown border post {border_post!r}")
    now = now or utcnow()
    with services.uow() as uow:
        if uow.session.get(Registration, registration_id) is None:
            raise LookupError(registration_id)
        for code in wanted:
            uow.session.add(
                HealthService(
                    registration_id=registration_id,
                    service=code,
                    border_post=border_post,
                    partner_code=partner_code,
                    user_id=user_id,
                    given_at=now,
                )
            )
        uow.commit()
    return len(wanted)


def services_given(services: Services, registration_id: int) -> list[tuple[dt.datetime, str, str]]:
    """(when, service words, post name) for a registration, oldest first."""
    with services.uow() as uow:
        rows = uow.session.scalars(
            select(HealthService)
            .where(HealthService.registration_id == registration_id)
            .order_by(HealthService.given_at, HealthService.id)
        ).all()
        return [
            (
                r.given_at,
                HEALTH_SERVICES.get(r.service, r.service),
                BORDER_POSTS[r.border_post].name if r.border_post in BORDER_POSTS else "",
            )
            for r in rows
        ]
