"""`ussd-app demo seed`: fictitious registrations and reports spread over districts, border posts
and weeks, for trying the statistics pages and for their tests. Refused in production.

Records are made through the real services (so they look exactly like real ones) and then
back-dated; reports made here alert nobody (`NoDemoAlerts` stages nothing, and says so once),
so a demo never floods partners' phones.

The follow-up the statistics count is added after, back-dated the same way: some reports and
registrations taken by a partner (an `acknowledged` case event, as the state machine writes
it), referrals of returnees' needs at each stage (`returnees.referrals`), and end-of-session
notifications, completed or abandoned, in Sesotho and English. These rows are written directly,
as the state machine would have left them: a demo has no partner contact to act through SMS.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import logging
import random
import uuid
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select, update

from ussd_app.cases.models import CaseEvent
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
from ussd_app.partners.models import Partner
from ussd_app.reports.intake import submit_report
from ussd_app.reports.models import TraffickingReport
from ussd_app.returnees.models import Registration
from ussd_app.returnees.referrals import Referral
from ussd_app.returnees.registrations import register_returnee
from ussd_app.ussd.models import UssdSessionEvent
from ussd_app.ussd.session_events import session_event_id

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
    _follow_up(services, random.Random(seed * 7919 + 1), now)
    log.info("demo data: %s registrations, %s reports", registrations, reports)
    return Seeded(registrations, reports)


# Where an abandoned demo session ended (never reg_consent: the browser test dials its own).
ABANDON_SCREENS = ("language", "main", "reg_district", "reg_needs", "report_where", "report_flags")
# A referral's stage and how likely the demo makes it.
REFERRAL_STAGES = {"referred": 3, "accepted": 2, "delivered": 4, "declined": 1, "unreachable": 1}
REPORT_TAKERS = ("lmps-atu-desk", "lmps-maseru-bridge")
REGISTRATION_TAKERS = ("iom-lesotho", "skillshare-lesotho", "mwa-lesotho")
ACK_HOURS = {"P1": 0.5, "P2": 6.0, "P3": 30.0}  # typical time to take a report, by priority


def _follow_up(services: Services, rng: random.Random, now: dt.datetime) -> None:
    """Partners taking cases, referrals and USSD sessions for the records just seeded."""
    with services.uow() as uow:
        codes = list(uow.session.scalars(select(Partner.code).order_by(Partner.code)))
        # Reports are taken by the police desks that get most (as routing would send them);
        # registrations by the reintegration partners, else by anyone.
        police = [c for c in REPORT_TAKERS if c in codes] or codes
        helpers = [c for c in REGISTRATION_TAKERS if c in codes] or codes
        regs = list(
            uow.session.scalars(
                select(Registration).where(Registration.status == "new").order_by(Registration.id)
            )
        )
        for reg in regs:
            if rng.random() < 0.3:
                continue  # not taken yet
            taken = min(now, reg.created_at + dt.timedelta(hours=rng.uniform(0.5, 96)))
            partner = rng.choice(helpers) if helpers else None
            reg.status, reg.holder_partner_code = "contacted", partner
            uow.session.add(
                CaseEvent(
                    registration_id=reg.id,
                    action="acknowledged",
                    channel="sms",
                    partner_code=partner,
                    created_at=taken,
                )
            )
            for need in reg.needs or []:
                if rng.random() < 0.35:
                    continue  # not referred yet
                _refer(uow, rng, reg, need, taken, now)
        reports = list(
            uow.session.scalars(
                select(TraffickingReport)
                .where(TraffickingReport.acknowledged_at.is_(None))
                .order_by(TraffickingReport.id)
            )
        )
        for report in reports:
            if rng.random() < 0.3 or not police:
                continue
            hours = rng.expovariate(1 / ACK_HOURS.get(report.priority, 12.0))
            taken = min(now, report.created_at + dt.timedelta(hours=hours))
            partner = rng.choice(police)
            report.status, report.acknowledged_at = "acknowledged", taken
            report.holder_partner_code = partner
            uow.session.add(
                CaseEvent(
                    report_id=report.id,
                    action="acknowledged",
                    channel="sms",
                    partner_code=partner,
                    created_at=taken,
                )
            )
        _sessions(services, uow, rng, len(regs), len(reports), now)
        uow.commit()


def _refer(
    uow: UnitOfWork,
    rng: random.Random,
    reg: Registration,
    need: str,
    taken: dt.datetime,
    now: dt.datetime,
) -> None:
    stage = rng.choices(list(REFERRAL_STAGES), weights=list(REFERRAL_STAGES.values()))[0]
    referred = min(now, taken + dt.timedelta(days=rng.uniform(0.2, 10)))
    later = min(now, referred + dt.timedelta(days=rng.uniform(1, 30)))
    reg.status = "referred"
    uow.session.add(
        Referral(
            registration_id=reg.id,
            need=need,
            service="Demo service",
            status=stage,
            referred_at=referred,
            accepted_at=later if stage in ("accepted", "delivered") else None,
            ended_at=later if stage in ("delivered", "declined", "unreachable") else None,
            created_at=referred,
            updated_at=later,
        )
    )


def _sessions(
    services: Services,
    uow: UnitOfWork,
    rng: random.Random,
    registrations: int,
    reports: int,
    now: dt.datetime,
) -> None:
    """One completed session per record and about a third as many abandoned, over the weeks."""
    done = ["reg_done"] * registrations + ["report_done"] * reports
    abandoned = [rng.choice(ABANDON_SCREENS) for _ in range((registrations + reports) // 3)]
    start = min((r.created_at for r in uow.session.scalars(select(Registration))), default=now)
    for n, screen in enumerate(done + abandoned):
        status = "Success" if n < len(done) else rng.choice(["Incomplete", "Incomplete", "Failed"])
        language = None if screen == "language" else rng.choice(["st", "st", "en"])
        uow.session.add(
            UssdSessionEvent(
                session_id=session_event_id(services, f"demo-{uuid.uuid4().hex}"),
                status=status,
                hops=rng.randint(2, 12),
                last_screen=screen,
                language=language,
                received_at=start + (now - start) * rng.random(),
            )
        )


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
