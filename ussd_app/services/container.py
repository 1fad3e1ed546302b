"""The service layer's dependencies, built once by `ussd_app.bootstrap` and shared.

Handlers reach the database only through functions in `ussd_app.services.*`, which take this
container; nothing here knows about Flask or RQ.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from sqlalchemy.orm import Session, sessionmaker

from ussd_app.config import Settings
from ussd_app.crypto import Cipher
from ussd_app.db import UnitOfWork
from ussd_app.phones import normalise, phone_hash

if TYPE_CHECKING:
    pass

# Called inside the report's transaction to stage alert rows (the outbox); the alerts package
# provides the real one. The default stages nothing, for tests of the USSD core alone.
AlertStager = Callable[[UnitOfWork, Any], None]


def _no_alerts(uow: UnitOfWork, report: Any) -> None:
    return None


@dataclass
class Services:
    """Database access, encryption and hashing, shared by every service function."""

    settings: Settings
    session_factory: sessionmaker[Session]
    cipher: Cipher
    stage_alerts: AlertStager = field(default=_no_alerts)

    def uow(self) -> UnitOfWork:
        """A new unit of work: `with services.uow() as uow: ...; uow.commit()`."""
        return UnitOfWork(self.session_factory)

    def hash_phone(self, e164: str) -> str:
        return phone_hash(e164, self.settings.phone_hash_key)

    def normalise_phone(self, raw: str) -> str:
        return normalise(raw, self.settings.default_region)
