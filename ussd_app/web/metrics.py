"""`GET /metrics` for Prometheus: counters from every process, states read at scrape time.

Protected: with METRICS_TOKEN set, only a request carrying `Authorization: Bearer <token>` gets
an answer (403 otherwise). Without it, only the machine itself (loopback) may scrape, and in
production nobody (404): an operator must choose a token.

What is counted where (README "Metrics"):
- hops and hop errors by screen, limit hits and time to acknowledge are counted in the process
  where they happen (`ussd_app.metrics`). Under gunicorn, set PROMETHEUS_MULTIPROC_DIR to an
  empty folder writable by every worker: each process then writes its values there, and this
  view adds them up whichever worker answers. Without it, each worker reports only its own.
- messages by purpose and state (the alerts) and RQ queue depth are read from the database and
  Redis at each scrape, so they need no multi-process bookkeeping and are never stale.
"""

from __future__ import annotations

import hmac
import ipaddress
import logging
import os
from collections.abc import Iterator
from typing import Any

from flask import Blueprint, Response, current_app, request
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    generate_latest,
    multiprocess,
)
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector
from rq.registry import ScheduledJobRegistry

from ussd_app.gateway import plain
from ussd_app.messaging.counts import messages_by_state
from ussd_app.messaging.queues import QUEUE_NAMES

log = logging.getLogger(__name__)
bp = Blueprint("metrics", __name__)

MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"


class StateCollector(Collector):
    """Reads the outbox and the RQ queues when scraped (nothing is kept between scrapes)."""

    def __init__(self, container: Any) -> None:
        self._container = container

    def collect(self) -> Iterator[GaugeMetricFamily]:
        messages = GaugeMetricFamily(
            "sms_messages",
            "Outbound SMS by purpose (alert, escalation, notice, reply...) and state",
            labels=["purpose", "state"],
        )
        up = GaugeMetricFamily(
            "metrics_source_up", "1 when this source answered the scrape", labels=["source"]
        )
        try:
            for purpose, state, count in messages_by_state(self._container.services):
                messages.add_metric([purpose, state], count)
            up.add_metric(["database"], 1)
        except Exception:
            log.warning("metrics: the database did not answer", exc_info=True)
            up.add_metric(["database"], 0)
        depth = GaugeMetricFamily(
            "rq_queue_jobs",
            "Jobs waiting in each RQ queue (queued: ready now; scheduled: a retry not yet due)",
            labels=["queue", "kind"],
        )
        try:
            conn = self._container.redis
            for name in QUEUE_NAMES:
                queue = self._container.dispatcher.queue(name)
                depth.add_metric([name, "queued"], queue.count)
                scheduled = ScheduledJobRegistry(name, connection=conn)  # type: ignore[no-untyped-call]
                depth.add_metric([name, "scheduled"], scheduled.count)
            up.add_metric(["redis"], 1)
        except Exception:
            log.warning("metrics: Redis did not answer", exc_info=True)
            up.add_metric(["redis"], 0)
        yield messages
        yield depth
        yield up


def _allowed() -> tuple[bool, int]:
    """(allowed, status to answer when not): the token, or loopback outside production."""
    settings = current_app.extensions["ussd"].settings
    token = settings.metrics_token
    if token:
        given = request.headers.get("Authorization", "")
        scheme, _, value = given.partition(" ")
        ok = scheme.lower() == "bearer" and hmac.compare_digest(
            value.strip().encode(), token.encode()
        )
        return ok, 403
    if settings.is_production:
        return False, 404
    try:
        return ipaddress.ip_address(request.remote_addr or "").is_loopback, 403
    except ValueError:
        return False, 403


@bp.get("/metrics")
def metrics() -> Response:
    allowed, status = _allowed()
    if not allowed:
        if status == 404:
            return plain("metrics are off: set METRICS_TOKEN\n", 404)
        return plain("forbidden\n", 403, headers={"WWW-Authenticate": "Bearer"})
    if os.environ.get(MULTIPROC_ENV):
        counted = CollectorRegistry()
        multiprocess.MultiProcessCollector(counted)  # type: ignore[no-untyped-call]
    else:
        counted = REGISTRY
    scraped = CollectorRegistry()
    scraped.register(StateCollector(current_app.extensions["ussd"]))
    body = generate_latest(counted) + generate_latest(scraped)
    return Response(body, mimetype=None, headers={"Content-Type": CONTENT_TYPE_LATEST})
