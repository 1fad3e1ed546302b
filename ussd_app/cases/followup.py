"""Registrations nobody has taken: notified once more after REGISTRATION_RENOTIFY_HOURS
(default 72, i.e. 3 days), to the same partners that were told of it first.

Run by the periodic maintenance pass (`ussd_app.runtime.maintenance`), as often as it likes:
the reminder is an `escalated` case event (level 1) applied through the state machine, and its
messages have idempotency keys, so a registration is re-notified once, whoever looks.
"""

from __future__ import annotations

import datetime as dt
import logging

from sqlalchemy import exists, select

from ussd_app.cases import machine
from ussd_app.cases.authority import SYSTEM
from ussd_app.cases.machine import CaseAction
from ussd_app.cases.models import CaseEvent
from ussd_app.cases.texts import registration_notice_text
from ussd_app.container import Services
from ussd_app.db import utcnow
from ussd_app.messaging import outbox
from ussd_app.messaging.models import OutboundSms, SmsPurpose
from ussd_app.partners.routing import facts_from_registration, route_registration
from ussd_app.partners.snapshot import load_directory
from ussd_app.returnees.models import Registration, RegistrationStatus

log = logging.getLogger(__name__)


def renotify_window(services: Services) -> dt.timedelta:
    return dt.timedelta(hours=services.settings.registration_renotify_hours)


def renotify_due(services: Services, now: dt.datetime | None = None) -> list[str]:
    """Re-notify every registration still new past its window, once; returns their refs."""
    now = now or utcnow()
    reminded = exists().where(
        CaseEvent.registration_id == Registration.id,
        CaseEvent.action == CaseAction.ESCALATED.value,
    )
    with services.uow() as uow:
        candidates = uow.session.scalars(
            select(Registration.id)
            .where(
                Registration.status == RegistrationStatus.NEW.value,
                Registration.created_at <= now - renotify_window(services),
                ~reminded,
            )
            .order_by(Registration.id)
        ).all()
    done: list[str] = []
    for registration_id in candidates:
        ref = _renotify_one(services, registration_id, now)
        if ref:
            done.append(ref)
    return done


def _renotify_one(services: Services, registration_id: int, now: dt.datetime) -> str | None:
    with services.uow() as uow:
        reg = uow.session.get(Registration, registration_id)
        if reg is None or reg.status != RegistrationStatus.NEW.value:
            return None
        told = set(
            uow.session.scalars(
                select(OutboundSms.partner_code).where(
                    OutboundSms.registration_id == reg.id,
                    OutboundSms.purpose == SmsPurpose.ALERT.value,
                )
            ).all()
        )
        if not told:
            return None  # nobody was told (no programme partner then): nothing to remind
        result = machine.apply(
            services, uow, reg, CaseAction.ESCALATED, SYSTEM, level=1, detail="renotified", now=now
        )
        if not result.done:
            return None
        # The same partners as first told, with what routing tells each of them today (a
        # partner since gone from the directory, or no longer taking those needs, is skipped).
        routed = route_registration(facts_from_registration(reg), load_directory(uow.session))
        for r in routed:
            if r.partner_code not in told:
                continue
            outbox.stage(
                uow,
                services,
                to=r.phone,
                body=registration_notice_text(reg.ref, reg.home_district, r.needs, reminder=True),
                purpose=SmsPurpose.ESCALATION,
                key=f"regremind:{reg.id}:1:{r.partner_code}",
                registration_id=reg.id,
                partner_code=r.partner_code,
                contact_id=r.contact_id,
                detail="brief",
            )
        uow.commit()
        ref = reg.ref
    log.warning("registration %s re-notified: not taken within the window", ref)
    return ref
