"""Delete-my-data across features: one call erases a phone from every table keyed by it.

Each feature that keeps something keyed by a phone offers an eraser with one signature,
`erase_phone(uow, services, e164, phone_hash)`, working inside the caller's transaction. They are
named here by path (as the RQ job is in `messaging.queues`), so `returnees.account` can run them
all without importing the features beside or above it. A new table keyed by a phone needs its
eraser listed here; `tests/integration/test_privacy.py` fails when one is missed.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from ussd_app.container import Services
    from ussd_app.db import UnitOfWork

ERASERS = (
    "ussd_app.messaging.retention",  # replies and confirmations, inbound senders, STOP
    "ussd_app.reports.retention",  # reporter contacts still holding the number
    "ussd_app.ussd.retention",  # language choice, session-event phone hashes
)


class PhoneEraser(Protocol):
    def __call__(self, uow: UnitOfWork, services: Services, e164: str, phone_hash: str) -> int:
        """Erase the phone from this feature's tables; returns how many rows changed."""
        ...


def erase_phone_everywhere(uow: UnitOfWork, services: Services, e164: str, phone_hash: str) -> int:
    """Run every feature's eraser in `uow`; returns how many rows changed (the caller commits)."""
    total = 0
    for path in ERASERS:
        eraser: PhoneEraser = importlib.import_module(path).erase_phone
        total += eraser(uow, services, e164, phone_hash)
    return total
