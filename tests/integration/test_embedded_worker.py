"""The embedded worker's bursts (`ussd-app serve`): each one ends at once, so a job enqueued
between two bursts runs in the next one, not a minute later."""

from __future__ import annotations

import redis
from rq import Queue

from ussd_app.runtime.embedded_worker import ThreadWorker


def test_bursts_take_no_pubsub_channel_and_run_each_new_job(redis_conn: redis.Redis) -> None:
    # RQ's pub/sub thread made every burst's teardown wait up to 60 s under redis-py 8
    # (2026-12-04: a P1 report's routing job sat queued); the burst worker opens none.
    queue = Queue("alerts", connection=redis_conn)
    for value in (1, 2, 3):
        job = queue.enqueue(abs, -value)
        worker = ThreadWorker([queue], connection=redis_conn)
        assert worker.work(burst=True, logging_level="WARNING") is True
        assert worker.pubsub_thread is None
        job.refresh()
        assert job.get_status() == "finished" and job.return_value() == value
