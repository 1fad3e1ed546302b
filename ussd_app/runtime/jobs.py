"""RQ job functions. They take ids, build nothing at import, and are safe to run twice."""

from __future__ import annotations

import dataclasses
import datetime as dt
import logging
import threading
from typing import TYPE_CHECKING

from ussd_app.cases import staging
from ussd_app.container import Enqueuer
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


class _SendHere:
    """An `Enqueuer` for the routing job: the sends it stages are delivered by the job itself,
    together (`outbox.deliver_many`), straight after the routing commit, instead of as one more
    RQ job each (measured: RQ's cost per job dominated the alert path). Scheduled retries and
    routing still go to the queue."""

    def __init__(self, queue: Enqueuer) -> None:
        self._queue = queue
        self.staged: list[int] = []

    def enqueue(
        self,
        outbound_id: int,
        purpose: str | None = None,
        *,
        replace: bool = False,
        at: dt.datetime | None = None,
    ) -> bool:
        if at is not None or replace:
            return self._queue.enqueue(outbound_id, purpose, replace=replace, at=at)
        self.staged.append(outbound_id)
        return True

    def enqueue_routing(self, subject: str, subject_id: int) -> bool:
        return self._queue.enqueue_routing(subject, subject_id)


# Other waiting rows a routing job takes with its own (`staging.route`): a burst is routed in
# a few transactions; small enough that one batch's sends stay well inside the job timeout.
ROUTE_WITH_OTHERS = 24


def route_subject(subject: str, subject_id: int) -> bool:
    """Stage the alerts of a committed report (or a registration's notices), and those of up to
    `ROUTE_WITH_OTHERS` others still waiting, mark them routed, then send what was staged.
    Safe to run twice: a routed row is left alone, and each send claims its row first. If the
    job dies after the routing commit, the rows are pending and the outbox sweeper enqueues
    them; the sweeper also routes any row whose job was lost."""
    container = get_container()
    here = _SendHere(container.services.enqueuer)
    routed = staging.route(
        dataclasses.replace(container.services, enqueuer=here),
        subject,
        subject_id,
        others=ROUTE_WITH_OTHERS,
    )
    try:
        outbox.deliver_many(
            container.services,
            container.sms_sender,
            here.staged,
            retry_delays=container.dispatcher.retry_delays,
        )
    except Exception:
        log.exception("sending sms id(s) %s after routing failed; the sweeper retries", here.staged)
    return routed
