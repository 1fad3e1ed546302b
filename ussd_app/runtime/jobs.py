"""RQ job functions. They take ids, build nothing at import, and are safe to run twice."""

from __future__ import annotations

import logging
import threading
from typing import TYPE_CHECKING

from ussd_app.cases import staging
from ussd_app.messaging import outbox

if TYPE_CHECKING:
    from ussd_app.bootstrap import Container

log = logging.getLogger(__name__)

_container: Container | None = None
_lock = threading.Lock()


def configure(container: Container) -> None:
    """Use this container for jobs run in this process (the worker and tests set it)."""
    global _container
    _container = container


def get_container() -> Container:
    """The process's container, built from the environment on first use in a worker."""
    global _container
    with _lock:
        if _container is None:
            from ussd_app.bootstrap import bootstrap
            from ussd_app.config import Settings

            _container = bootstrap(Settings.from_env(), for_worker=True)
        return _container


def send_outbound_sms(outbound_id: int) -> str:
    """Send one outbox row. A transient failure is retried at the row's `next_attempt_at`, for
    which `outbox.deliver` has already fed the queue; RQ keeps no retry clock of its own."""
    container = get_container()
    result = outbox.deliver(
        container.services,
        container.sms_sender,
        outbound_id,
        retry_delays=container.dispatcher.retry_delays,
    )
    return result.value


def route_subject(subject: str, subject_id: int) -> bool:
    """Stage the alerts of a committed report (or a registration's notices) and mark it routed.
    Safe to run twice: a routed row is left alone. The sweeper runs the same function for any
    row whose job was lost."""
    return staging.route(get_container().services, subject, subject_id)
