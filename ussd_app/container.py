"""The service layer's dependencies, built once by `ussd_app.bootstrap` and shared.

Handlers reach the database only through functions in `ussd_app.services.*`, which take this
container; nothing here knows about Flask or RQ.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.orm import Session, sessionmaker

from ussd_app.config import Settings
from ussd_app.crypto import Cipher
from ussd_app.db import UnitOfWork
from ussd_app.phones import normalise, phone_hash

# Hooks the alerts package fills in (ussd_app.cases.alerts); the defaults do nothing, so the
# USSD core can be tested alone and a missing enqueue is repaired by the sweeper.
# stage_alerts: inside a report's transaction, stage its alert messages in the outbox.
AlertStager = Callable[[UnitOfWork, Any], None]
# on_registration: inside a registration's transaction (registration row, caller's E.164).
RegistrationHook = Callable[[UnitOfWork, Any, str], None]
# enqueue_sms: after commit, put outbox row `id` on the queue; True if it was enqueued.
SmsEnqueuer = Callable[..., bool]
# on_sms_failed: a message failed for good; e.g. try the partner's next contact.
SmsFailureHook = Callable[[UnitOfWork, Any], None]


def _no_alerts(uow: UnitOfWork, report: Any) -> None:
    return None


def _no_registration_hook(uow: UnitOfWork, registration: Any, phone: str) -> None:
    return None


def _no_enqueue(outbound_id: int, purpose: Any = None, *, replace: bool = False) -> bool:
    return False


def _no_failure_hook(uow: UnitOfWork, row: Any) -> None:
    return None


@dataclass
class Services:
    """Database access, encryption and hashing, shared by every service function."""

    settings: Settings
    session_factory: sessionmaker[Session]
    cipher: Cipher
    stage_alerts: AlertStager = field(default=_no_alerts)
    on_registration: RegistrationHook = field(default=_no_registration_hook)
    enqueue_sms: SmsEnqueuer = field(default=_no_enqueue)
    on_sms_failed: SmsFailureHook = field(default=_no_failure_hook)

    def uow(self) -> UnitOfWork:
        """A new unit of work: `with services.uow() as uow: ...; uow.commit()`."""
        return UnitOfWork(self.session_factory)

    def hash_phone(self, e164: str) -> str:
        return phone_hash(e164, self.settings.phone_hash_key)

    def normalise_phone(self, raw: str) -> str:
        return normalise(raw, self.settings.default_region)
