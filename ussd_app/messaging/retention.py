"""Retention of SMS copies: what a message to a member of the public leaves behind.

A reply to an SMS command ("Thank you. Your reference is T-5307") or a confirmation to a
returnee is a copy of who wrote to us and, beside it, what we answered. Once the message is final
(sent, delivered, failed or cancelled) and older than `retention_policy.PUBLIC_SMS`, the purge
empties its recipient (`to_enc`, `to_hash`) and its text; the row stays as a count with its
state and times. Inbound messages keep their gateway id (the gateway's retries are answered
once) but lose their sender's hash after `retention_policy.INBOUND_SENDER`.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import delete, update

from ussd_app.container import Services
from ussd_app.db import UnitOfWork, utcnow
from ussd_app.messaging.models import InboundSms, OutboundSms, SmsOptOut, SmsPurpose, SmsStatus
from ussd_app.retention_policy import INBOUND_SENDER, PUBLIC_SMS

# Messages to whoever wrote or registered, as opposed to partner contacts (alerts, notices,
# escalations), whose numbers are directory data.
PUBLIC_PURPOSES = (SmsPurpose.REPLY.value, SmsPurpose.CONFIRMATION.value)
FINAL_STATES = tuple(
    s.value for s in (SmsStatus.SENT, SmsStatus.DELIVERED, SmsStatus.FAILED, SmsStatus.CANCELLED)
)
ERASED = ""  # what an erased recipient or text reads as (the columns are NOT NULL)


def purge_public_messages(services: Services, now: dt.datetime | None = None) -> int:
    """Erase recipient and text of final public messages past retention; returns how many."""
    cutoff = (now or utcnow()) - PUBLIC_SMS
    with services.uow() as uow:
        result = uow.session.execute(
            update(OutboundSms)
            .where(
                OutboundSms.purpose.in_(PUBLIC_PURPOSES),
                OutboundSms.status.in_(FINAL_STATES),
                OutboundSms.created_at <= cutoff,
                OutboundSms.to_hash != ERASED,
            )
            .values(to_enc=ERASED, to_hash=ERASED, body=ERASED)
            .execution_options(synchronize_session=False)
        )
        uow.commit()
    return int(getattr(result, "rowcount", 0) or 0)


def purge_inbound_senders(services: Services, now: dt.datetime | None = None) -> int:
    """Forget who sent inbound messages older than retention; returns how many."""
    cutoff = (now or utcnow()) - INBOUND_SENDER
    with services.uow() as uow:
        result = uow.session.execute(
            update(InboundSms)
            .where(InboundSms.received_at <= cutoff, InboundSms.from_hash.is_not(None))
            .values(from_hash=None)
            .execution_options(synchronize_session=False)
        )
        uow.commit()
    return int(getattr(result, "rowcount", 0) or 0)


def erase_phone(uow: UnitOfWork, services: Services, e164: str, phone_hash: str) -> int:
    """Delete-my-data: every reply and confirmation to this phone is deleted
    (a pending one is then never sent), its inbound messages lose their sender, and its STOP is
    forgotten with the rest (with no registration left, nothing is sent to it anyway)."""
    session = uow.session
    changed = 0
    for statement in (
        delete(OutboundSms).where(
            OutboundSms.to_hash == phone_hash,
            OutboundSms.purpose.in_(PUBLIC_PURPOSES),
            OutboundSms.contact_id.is_(None),
        ),
        update(InboundSms).where(InboundSms.from_hash == phone_hash).values(from_hash=None),
        delete(SmsOptOut).where(SmsOptOut.phone_hash == phone_hash),
    ):
        result = session.execute(statement.execution_options(synchronize_session=False))
        changed += int(getattr(result, "rowcount", 0) or 0)
    return changed
