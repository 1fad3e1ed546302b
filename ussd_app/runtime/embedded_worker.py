"""The in-process worker for `ussd-app serve` on embedded defaults (DESIGN decision 9).

One background thread drains the RQ queues with a non-forking worker, moves due retries from the
scheduled registry back onto the queues, and runs the periodic maintenance (sweeper, escalation,
abandoned urgent sessions). Production runs `worker.py` and `ussd-app alerts sweep` instead; the
job code is the same.
"""

from __future__ import annotations

import logging
import threading
import time
from typing import Any

from rq import SimpleWorker
from rq.scheduler import RQScheduler
from rq.timeouts import TimerDeathPenalty

from ussd_app.bootstrap import Container
from ussd_app.messaging.queues import QUEUE_NAMES
from ussd_app.runtime import jobs
from ussd_app.runtime.maintenance import run_maintenance

log = logging.getLogger(__name__)


class BurstWorker(SimpleWorker):
    """A SimpleWorker for short bursts (this in-process worker, the tests' `drain`): no pub/sub
    channel for remote commands (stop, kill), since a burst is stopped by its caller.

    Why not RQ's: with redis-py 8 its pub/sub thread's stop() joins a thread that waits up to
    60 s for a message, so a burst's teardown could hold the alerts back for up to a minute
    (measured 2026-12-04: a P1 report's routing job left queued while the worker sat in
    PubSubWorkerThread.stop; in CI, a test's report found 15 minutes old "after 14"). The
    long-running `worker.py` keeps the channel: it subscribes once."""

    def subscribe(self) -> None:
        return None

    def unsubscribe(self) -> None:
        return None


class ThreadWorker(BurstWorker):
    """A BurstWorker that can run off the main thread (signals belong to the main thread),
    so job timeouts use a timer instead of SIGALRM."""

    death_penalty_class = TimerDeathPenalty

    def _install_signal_handlers(self) -> None:
        return None


class EmbeddedWorker:
    """Runs jobs and maintenance in a daemon thread until stopped."""

    def __init__(self, container: Container, poll_s: float = 0.5) -> None:
        self._container = container
        self._poll = poll_s
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="embedded-worker", daemon=True)

    def start(self) -> EmbeddedWorker:
        jobs.configure(self._container)
        self._thread.start()
        log.info("embedded worker started (alerts are sent from this process)")
        return self

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=10)

    def _run(self) -> None:
        conn = self._container.redis
        queues = [self._container.dispatcher.queue(name) for name in QUEUE_NAMES]
        scheduler = RQScheduler(list(QUEUE_NAMES), connection=conn)
        next_maintenance = 0.0
        while not self._stop.is_set():
            try:
                scheduler.acquire_locks()  # type: ignore[no-untyped-call]
                scheduler.prepare_registries(list(QUEUE_NAMES))
                scheduler.enqueue_scheduled_jobs()  # type: ignore[no-untyped-call]
                ThreadWorker(queues, connection=conn).work(burst=True, logging_level="WARNING")
                if time.monotonic() >= next_maintenance:
                    run_maintenance(self._container)
                    next_maintenance = time.monotonic() + self._container.settings.sweep_interval_s
            except Exception:
                log.exception("embedded worker loop failed; retrying")
            self._stop.wait(self._poll)


def start_embedded_worker(container: Any) -> EmbeddedWorker | None:
    """Start the embedded worker if the settings ask for it."""
    if not container.settings.embedded_worker:
        return None
    return EmbeddedWorker(container).start()
