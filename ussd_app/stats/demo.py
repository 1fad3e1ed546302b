"""`ussd-app demo seed`: fictitious registrations and reports spread over districts, border posts
and weeks, for trying the statistics pages and for their tests. Refused in production.

Records are made through the real services (so they look exactly like real ones) and then
back-dated; reports made here alert nobody (`NoDemoAlerts` stages nothing, and says so once),
so a demo never floods partners' phones.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import logging
import random
from dataclasses import dataclass
from typing import Any

from sqlalchemy import update

from ussd_app.codes import (
    AGE_BAND,
    BORDER_POSTS,
    CAME_FROM,
    CHILD_INVOLVED,
    DISTRICTS,
    NEEDS,
    PERSONS_COUNT,
    RED_FLAGS,
    SEX,
    STAY_INTENT,
    TRAVEL_DOCUMENT,
    WHEN_SEEN,
)
from ussd_app.container import Services
from ussd_app.db import UnitOfWork, utcnow
from ussd_app.reports.intake import submit_report
from ussd_app.reports.models import TraffickingReport
from ussd_app.returnees.models import Registration
from ussd_app.returnees.registrations import register_returnee

log = logging.getLogger(__name__)

# Busier districts and posts weigh more, as in the real flows (Maseru, Leribe; Maseru Bridge).
DISTRICT_WEIGHTS = {"LS-A": 9, "LS-C": 6, "LS-D": 4, "LS-E": 3, "LS-F": 2, "LS-B": 2}
POST_WEIGHTS = {"maseru_bridge": 8, "maputsoe_bridge": 6, "van_rooyens_gate": 3, "caledonspoort": 2}


class NoDemoAlerts:
    """The demo's `AlertPort`: fictitious reports alert nobody."""

    def stage_report_alerts(self, services: Services, uow: UnitOfWork, report: Any) -> int:
        return 0

    def stage_registration_notices(
        self, services: Services, uow: UnitOfWork, registration: Any, phone: str
    ) -> None:
        return None


@dataclass(frozen=True)
class Seeded:
    registrations: int
    reports: int


def _weighted(rng: random.Random, weights: dict[str, int], others: list[str]) -> str:
    pool = [*weights, *others]
    return rng.choices(pool, weights=[*weights.values(), *([1] * len(others))])[0]


def seed(
    services: Services, *, registrations: int, reports: int, weeks: int = 26, seed: int = 1
) -> Seeded:
    """Make fictitious records over the last `weeks` weeks; the same `seed` makes the same data."""
    if services.settings.is_production:
        raise RuntimeError("demo data is refused when APP_ENV=production")
    rng = random.Random(seed)
    quiet = dataclasses.replace(services, alerts=NoDemoAlerts())
    now = utcnow()
    districts = [d for d in DISTRICTS if d not in DISTRICT_WEIGHTS]
    posts = [p for p in BORDER_POSTS if p not in POST_WEIGHTS]
    base = rng.randrange(1_000_000, 8_000_000)
    for i in range(registrations):
        answers = {
            "consent": "yes",
            "share_partners": rng.choice(["yes", "yes", "no"]),
            "home_district": _weighted(rng, DISTRICT_WEIGHTS, districts),
            "came_from": rng.choice(CAME_FROM),
            "stay_intent": rng.choice(STAY_INTENT),
            "entry_point": _weighted(rng, POST_WEIGHTS, posts),
            "travel_document": rng.choice(TRAVEL_DOCUMENT),
            "needs": sorted(set(rng.sample(NEEDS, rng.randint(1, 3)))),
            "sex": rng.choice(SEX),
            "age_band": rng.choice(AGE_BAND),
        }
        ref = register_returnee(
            quiet, phone=f"+2665{(base + i) % 10_000_000:07d}", language="en", answers=answers
        )
        _backdate(services, Registration, ref, now - dt.timedelta(days=rng.uniform(0, 7 * weeks)))
    for i in range(reports):
        danger = rng.random() < 0.3
        answers = {
            "danger_now": "yes" if danger else "no",
            "child_involved": rng.choice(CHILD_INVOLVED),
            "flags": sorted(rng.sample(list(RED_FLAGS), rng.randint(0, 3))),
            "place": _weighted(rng, {**POST_WEIGHTS, **DISTRICT_WEIGHTS}, [*posts, *districts]),
            "when_seen": rng.choice(WHEN_SEEN),
            "persons_count": rng.choice(PERSONS_COUNT),
            "callback_consent": rng.choice(["yes", "no", "no"]),
        }
        ref, _ = submit_report(
            quiet,
            phone=f"+2666{(base + i) % 10_000_000:07d}",
            language=rng.choice(["st", "en"]),
            answers=answers,
            idempotency_key=f"demo-{seed}-{i}",
        )
        _backdate(
            services, TraffickingReport, ref, now - dt.timedelta(days=rng.uniform(0, 7 * weeks))
        )
    log.info("demo data: %s registrations, %s reports", registrations, reports)
    return Seeded(registrations, reports)


def _backdate(
    services: Services, model: type[Registration] | type[TraffickingReport], ref: str, when: Any
) -> None:
    with services.uow() as uow:
        uow.session.execute(
            update(model)
            .where(model.ref == ref)
            .values(created_at=when, updated_at=when)
            .execution_options(synchronize_session=False)
        )
        uow.commit()
