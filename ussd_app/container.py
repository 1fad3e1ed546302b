"""The service layer's context: database, encryption, hashing and the collaborators services call.

Built once by the composition root (`ussd_app.bootstrap`) and passed to every service function.
Collaborators are typed protocols, all required: a `Services` without the alert path, the queue
or the SMS observer cannot be built (`MissingCollaborator` names what is missing). Lower features
(reports, returnees, messaging) call these protocols; the features above implement them
(`ussd_app.cases.alerts`, `ussd_app.messaging.queues`), so no package imports one above it.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass, fields
from typing import Any, Protocol

from sqlalchemy.orm import Session, sessionmaker

from ussd_app.config import Settings
from ussd_app.crypto import Cipher
from ussd_app.db import UnitOfWork
from ussd_app.phones import normalise, phone_hash


class MissingCollaborator(TypeError):
    """A service context was built without one of the collaborators it needs."""


class AlertPort(Protocol):
    """Who hears of a new report or registration: staged inside the caller's transaction."""

    def stage_report_alerts(self, services: Services, uow: UnitOfWork, report: Any) -> int:
        """Stage one alert per recipient of `report`; returns how many."""
        ...

    def stage_registration_notices(
        self, services: Services, uow: UnitOfWork, registration: Any, phone: str
    ) -> None:
        """Stage what a new or updated registration sends (confirmation, partner notices)."""
        ...


class Enqueuer(Protocol):
    """Puts an outbox row on the queue after commit; never raises (the sweeper repairs)."""

    def enqueue(
        self,
        outbound_id: int,
        purpose: str | None = None,
        *,
        replace: bool = False,
        at: dt.datetime | None = None,
    ) -> bool:
        """True when the row's send job was enqueued (at `at`, when given)."""
        ...

    def enqueue_routing(self, subject: str, subject_id: int) -> bool:
        """Enqueue the job that stages a committed report's alerts (`subject` "report") or a
        registration's notices ("registration"); True when enqueued. Never raises: the
        sweeper routes whatever is still unrouted."""
        ...


class SmsObserver(Protocol):
    """What the rest of the service does when an outbound message moves on."""

    def still_needed(self, services: Services, uow: UnitOfWork, row: Any) -> bool:
        """False when the message should be cancelled before sending (e.g. case taken)."""
        ...

    def before_record(self, services: Services, uow: UnitOfWork, rows: Sequence[Any]) -> None:
        """`rows` are about to be recorded together: load what `on_sent` will need at once."""
        ...

    def on_sent(self, services: Services, uow: UnitOfWork, row: Any) -> None:
        """The gateway accepted the message."""
        ...

    def on_failed(self, services: Services, uow: UnitOfWork, row: Any) -> None:
        """The message failed for good (e.g. try the partner's next contact)."""
        ...


class Limiter(Protocol):
    """Named rate limits on Redis (`ussd_app.rate_limits.RateLimits`); see README "Limits"."""

    def allow(self, name: str, key: str) -> bool:
        """Count one event for `key` (a digest) under limit `name`; False when over it."""
        ...

    def describe(self, name: str) -> str:
        """The limit `name` in words ("5 per 1 hour")."""
        ...

    def flood_batch(self, key: str) -> str:
        """The random token shared by this key's reports over the `reports` limit, this window."""
        ...

    def window(self, name: str) -> tuple[int, int] | None:
        """(amount, seconds) of limit `name`, for a counter kept elsewhere (the USSD hop counts
        its limits inside its own Redis script); None when there are no limits."""
        ...


@dataclass(frozen=True)
class Services:
    """Database access, encryption, hashing and collaborators, shared by every service function."""

    settings: Settings
    session_factory: sessionmaker[Session]
    cipher: Cipher
    alerts: AlertPort
    enqueuer: Enqueuer
    sms_events: SmsObserver
    limits: Limiter

    def __post_init__(self) -> None:
        missing = [f.name for f in fields(self) if getattr(self, f.name) is None]
        if missing:
            raise MissingCollaborator(f"Services built without: {', '.join(missing)}")

    def uow(self) -> UnitOfWork:
        """A new unit of work: `with services.uow() as uow: ...; uow.commit()`."""
        return UnitOfWork(self.session_factory)

    def hash_phone(self, e164: str) -> str:
        return phone_hash(e164, self.settings.phone_hash_key)

    def normalise_phone(self, raw: str) -> str:
        return normalise(raw, self.settings.default_region)
