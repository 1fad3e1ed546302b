"""The RQ worker process: alerts before anything else, scheduler on for retry backoff."""

from __future__ import annotations

import logging

from rq.worker import HerokuWorker
from sqlalchemy.orm import configure_mappers

import ussd_app.models  # noqa: F401  (every mapper, before the fork)
from ussd_app.alerts import jobs
from ussd_app.alerts.queues import QUEUE_NAMES
from ussd_app.bootstrap import bootstrap
from ussd_app.config import Settings
from ussd_app.logging_setup import configure_logging

log = logging.getLogger("worker")


def run_worker(settings: Settings, *, burst: bool = False) -> None:
    """Work the alerts and messages queues (in that order) until stopped (or empty, in burst)."""
    configure_logging(settings.log_level)
    container = bootstrap(settings, for_worker=True)
    jobs.configure(container)
    configure_mappers()  # so forked work horses do not redo it
    queues = [container.dispatcher.queue(name) for name in QUEUE_NAMES]
    worker = HerokuWorker(queues, connection=container.redis)
    log.info("worker listening on %s", ", ".join(QUEUE_NAMES))
    worker.work(burst=burst, with_scheduler=True)
