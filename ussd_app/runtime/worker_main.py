"""The RQ worker process: alerts before anything else, scheduler on for retry backoff.

Jobs run in the worker process itself (RQ's SimpleWorker), not in a fork per job: a send is a
short, well-behaved call with its own timeouts, and forking threw away the warm connection pool
and compiled SQL on every job (measured: about 4x the CPU of a trivial job). SIGTERM still
finishes the current job before stopping; the job timeout still applies (SIGALRM, main thread).
"""

from __future__ import annotations

import logging

from rq import SimpleWorker
from sqlalchemy.orm import configure_mappers

import ussd_app.models  # noqa: F401  (every mapper, before the first job)
from ussd_app.bootstrap import bootstrap
from ussd_app.config import Settings
from ussd_app.logging_setup import configure_logging_for
from ussd_app.messaging.queues import QUEUE_NAMES
from ussd_app.runtime import jobs

log = logging.getLogger("worker")


def run_worker(settings: Settings, *, burst: bool = False) -> None:
    """Work the alerts and messages queues (in that order) until stopped (or empty, in burst)."""
    configure_logging_for(settings)
    container = bootstrap(settings)
    configure_logging_for(container.settings)  # now with the development secrets, if any
    jobs.configure(container)
    configure_mappers()
    queues = [container.dispatcher.queue(name) for name in QUEUE_NAMES]
    worker = SimpleWorker(queues, connection=container.redis)
    log.info("worker listening on %s", ", ".join(QUEUE_NAMES))
    worker.work(burst=burst, with_scheduler=True)
