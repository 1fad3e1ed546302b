"""The SMS side of the 90-day check-in (issue 10, item 6): the sweep that asks, and the reply.

The sweep (`send_due`) is run by the periodic maintenance pass as often as it likes: each
registration due gets its round-1 `CheckIn` row and its SMS in one transaction, the row is
unique per registration and round and the SMS has an idempotency key, so however many sweepers
run, and however often, one check-in SMS goes to each person. A number that sent STOP gets no
SMS: its check-in is recorded as stopped instead.

Why one SMS answered in one reply: on a basic phone every SMS is typed on a keypad and may cost
the sender; a sequence of four questions would need four replies, keep state between them, and
lose the later answers whenever the person stops halfway. One message that carries its own
example ("CHECK 1 2 1 2") and accepts fewer answers (the rest are skipped), bare digits, or
digits without spaces asks the least of the person and is complete as soon as it arrives.
"""

from __future__ import annotations

import datetime as dt
import logging

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from ussd_app.cases.texts import returnee_checkin_text
from ussd_app.container import Services
from ussd_app.db import UnitOfWork, utcnow
from ussd_app.messaging import outbox
from ussd_app.messaging.models import SmsOptOut, SmsPurpose
from ussd_app.returnees import checkins
from ussd_app.returnees.models import Registration

log = logging.getLogger(__name__)


def send_due(services: Services, now: dt.datetime | None = None) -> int:
    """Stage the check-in SMS for every SMS chooser 90 days after registering; returns how many."""
    now = now or utcnow()
    with services.uow() as uow:
        due = uow.session.scalars(
            select(Registration.id).where(checkins.sms_due(now)).order_by(Registration.id)
        ).all()
    sent = 0
    for registration_id in due:
        try:
            sent += _ask_one(services, registration_id, now)
        except IntegrityError:
            # Another sweeper asked the same registration a moment ago: it is asked once.
            continue
    if sent:
        log.info("check-in SMS staged for %d registrations", sent)
    return sent


def _ask_one(services: Services, registration_id: int, now: dt.datetime) -> bool:
    with services.uow() as uow:
        reg = uow.session.get(Registration, registration_id)
        if reg is None or reg.contact_by != "sms":
            return False
        stopped = uow.session.scalar(
            select(SmsOptOut.id).where(SmsOptOut.phone_hash == reg.phone_hash)
        )
        row = checkins.mark_asked(uow.session, reg.id, now, stopped=stopped is not None)
        if row is None:
            return False
        staged = None
        if stopped is None:
            staged = outbox.stage(
                uow,
                services,
                to=services.cipher.decrypt(reg.phone_enc),
                body=returnee_checkin_text(reg.ref, reg.language),
                purpose=SmsPurpose.CONFIRMATION,
                key=f"checkin:{reg.id}:{checkins.FIRST_ROUND}",
                registration_id=reg.id,
            )
        uow.commit()
    return staged is not None


def registration_of(uow: UnitOfWork, services: Services, sender: str) -> Registration | None:
    """The registration made from `sender`'s phone (matched by its keyed hash), if any."""
    return uow.session.scalar(
        select(Registration).where(Registration.phone_hash == services.hash_phone(sender))
    )


def answerable(uow: UnitOfWork, registration: Registration) -> checkins.CheckIn | None:
    """The SMS check-in this person may answer (or correct) by SMS; None if there is none."""
    row = checkins.first_check_in(uow.session, registration.id)
    if row is None or row.channel != checkins.CheckInChannel.SMS.value:
        return None
    if row.status == checkins.CheckInStatus.STOPPED.value:
        return None
    return row


def record_reply(
    uow: UnitOfWork, registration: Registration, answers: list[str | None]
) -> checkins.CheckIn:
    """Store the person's CHECK reply in the inbound message's transaction."""
    return checkins.record_answers(
        uow.session, registration, answers, answered_by=checkins.CheckInChannel.SMS
    )


def stop(uow: UnitOfWork, services: Services, sender: str) -> bool:
    """STOP from a returnee's phone ends a check-in still waiting for their reply."""
    reg = registration_of(uow, services, sender)
    return reg is not None and checkins.stop_open(uow.session, reg.id)
