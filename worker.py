"""RQ worker: sends alerts before anything else, with the scheduler on for retry backoff.

Run `python worker.py` (the Procfile's `worker:` process). Scale by running more of them. Each
job opens its own database session; the engine uses NullPool so nothing crosses a fork.
"""

from __future__ import annotations

import logging
import sys

from rq.worker import HerokuWorker
from sqlalchemy.orm import configure_mappers

import ussd_app.models  # noqa: F401  (every mapper, before the fork)
from ussd_app.alerts import jobs
from ussd_app.alerts.queues import QUEUE_NAMES
from ussd_app.bootstrap import bootstrap
from ussd_app.config import ConfigError, Settings
from ussd_app.logging_setup import configure_logging

log = logging.getLogger("worker")


def main(burst: bool = False) -> int:
    """Start a worker on the alerts and messages queues (in that order)."""
    try:
        settings = Settings.from_env()
    except ConfigError as exc:
        print(f"configuration: {exc}", file=sys.stderr)
        return 2
    configure_logging(settings.log_level)
    container = bootstrap(settings, for_worker=True)
    jobs.configure(container)
    # Preload what every job needs so forked work horses do not redo it.
    configure_mappers()
    queues = [container.dispatcher.queue(name) for name in QUEUE_NAMES]
    worker = HerokuWorker(queues, connection=container.redis)
    log.info("worker listening on %s", ", ".join(QUEUE_NAMES))
    worker.work(burst=burst, with_scheduler=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(burst="--burst" in sys.argv))
