"""RQ job functions. They take ids, build nothing at import, and are safe to run twice."""

from __future__ import annotations

import dataclasses
import datetime as dt
import logging
import threading
import time
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
        self.staged: list[tuple[int, str | None]] = []  # (outbox id, purpose)

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
        self.staged.append((outbound_id, purpose))
        return True

    def enqueue_routing(self, subject: str, subject_id: int) -> bool:
        return self._queue.enqueue_routing(subject, subject_id)


# Other waiting rows a routing job takes with its own (`staging.route`): a burst is routed in
# a few transactions.
ROUTE_WITH_OTHERS = 24
# What the job sends itself: rows claimed and recorded together (a crash resends at most these),
# and no gateway request started after this many seconds: what is left goes to the queue as
# sends of their own. With the SDK's (3 s, 10 s) timeouts the job ends well inside its
# JOB_TIMEOUT_S (60 s), so a timeout never cuts a send short (it would be sent again).
SEND_CHUNK = 12
SEND_BUDGET_S = 20.0


def route_subject(subject: str, subject_id: int) -> bool:
    """Stage the alerts of a committed report (or a registration's notices), and those of up to
    `ROUTE_WITH_OTHERS` others still waiting, mark them routed, then send what was staged.
    Safe to run twice: a routed row is left alone, and each send claims its row first. If the
    job dies after the routing commit, the rows are pending and the outbox sweeper enqueues
    them; the sweeper also routes any row whose job was lost."""
    container = get_container()
    here = _SendHere(container.services.enqueuer)
    try:
        return staging.route(
            dataclasses.replace(container.services, enqueuer=here),
            subject,
            subject_id,
            others=ROUTE_WITH_OTHERS,
        )
    finally:
        # Even when its own row failed: the others routed alone meanwhile are sent now.
        _send_staged(container, here.staged)


def _send_staged(container: Container, staged: list[tuple[int, str | None]]) -> None:
    """Send what the routing committed, `SEND_CHUNK` rows at a time, within `SEND_BUDGET_S`;
    hand the rest to the queue. Never raises: what is not sent is found by the sweeper."""
    deadline = time.monotonic() + SEND_BUDGET_S
    for start in range(0, len(staged), SEND_CHUNK):
        chunk = staged[start : start + SEND_CHUNK]
        if time.monotonic() >= deadline:
            for outbound_id, purpose in staged[start:]:
                container.services.enqueuer.enqueue(outbound_id, purpose)
            log.warning("routing job out of time: %s sms queued", len(staged) - start)
            return
        ids = [outbound_id for outbound_id, _purpose in chunk]
        try:
            outbox.deliver_many(
                container.services,
                container.sms_sender,
                ids,
                retry_delays=container.dispatcher.retry_delays,
                deadline=deadline,
            )
        except Exception:
            log.exception("sending sms id(s) %s after routing failed; the sweeper retries", ids)
