"""Counts of outbound messages by purpose and state, read at scrape time by `/metrics`."""

from __future__ import annotations

from sqlalchemy import func, select

from ussd_app.container import Services
from ussd_app.messaging.models import OutboundSms


def messages_by_state(services: Services) -> list[tuple[str, str, int]]:
    """(purpose, state, count) for every purpose and state that has messages."""
    with services.uow() as uow:
        rows = uow.session.execute(
            select(OutboundSms.purpose, OutboundSms.status, func.count()).group_by(
                OutboundSms.purpose, OutboundSms.status
            )
        ).all()
    return [(str(purpose), str(status), int(count)) for purpose, status, count in rows]
