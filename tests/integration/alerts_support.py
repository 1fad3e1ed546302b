"""Shared pieces for the alert-path integration tests: a container wired to the AT stand-in,
a burst RQ worker that also moves due retries, and report helpers."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

from rq.registry import ScheduledJobRegistry
from rq.scheduler import RQScheduler
from sqlalchemy import select

from ussd_app.bootstrap import Container
from ussd_app.cases import staging
from ussd_app.db import utcnow
from ussd_app.messaging.models import OutboundSms
from ussd_app.messaging.queues import QUEUE_NAMES
from ussd_app.partners.routing import Recipient, facts_from_report, route_report
from ussd_app.partners.snapshot import load_directory
from ussd_app.reports.intake import submit_report
from ussd_app.reports.models import TraffickingReport
from ussd_app.runtime.embedded_worker import BurstWorker

PARTNERS_FILE = Path(__file__).resolve().parents[2] / "partners.example.yaml"
REPORTER = "+26658111222"

# A P1 report at Maputsoe Bridge with a child involved: desk, border and district focal points,
# the transit monitors and the child-protection partner all hear of it.
P1_ANSWERS: dict[str, Any] = {
    "danger_now": "yes",
    "child_involved": "yes",
    "flags": ["F1", "F3"],
    "place": "maputsoe_bridge",
    "when_seen": "now",
    "persons_count": "2_5",
    "vehicle": "A 123 BCD",
    "callback_consent": "no",
}


def drain(container: Container, rounds: int = 10) -> None:
    """Run a burst worker until no job is queued or scheduled (retries included). What the web
    process still holds (write-behind: a filed report's routing job) goes out first, as its
    flusher would send it within HOP_WRITE_BEHIND_MS."""
    container.store.flush()
    conn = container.redis
    queues = [container.dispatcher.queue(name) for name in QUEUE_NAMES]
    scheduler = RQScheduler(list(QUEUE_NAMES), connection=conn)
    for _ in range(rounds):
        scheduler.acquire_locks()
        scheduler.prepare_registries(list(QUEUE_NAMES))
        scheduler.enqueue_scheduled_jobs()
        BurstWorker(queues, connection=conn).work(burst=True)
        scheduled = sum(
            len(ScheduledJobRegistry(name, connection=conn).get_job_ids()) for name in QUEUE_NAMES
        )
        if scheduled == 0 and all(q.count == 0 for q in queues):
            return


def file_report(container: Container, answers: dict[str, Any] | None = None, **kw: Any) -> str:
    """Submit a report and run its routing job straight away (as the worker would, first thing:
    the job is also on the queue, where running it again does nothing)."""
    ref, _priority = submit_report(
        container.services,
        phone=kw.pop("phone", REPORTER),
        language=kw.pop("language", "en"),
        answers=answers if answers is not None else P1_ANSWERS,
        **kw,
    )
    with container.services.uow() as uow:
        report_id = uow.session.scalar(
            select(TraffickingReport.id).where(TraffickingReport.ref == ref)
        )
    assert report_id is not None
    staging.route(container.services, "report", report_id)
    return ref


def report_row(container: Container, ref: str) -> TraffickingReport:
    with container.services.uow() as uow:
        report = uow.session.scalar(select(TraffickingReport).where(TraffickingReport.ref == ref))
        assert report is not None
        uow.session.expunge(report)
        return report


def expected_recipients(container: Container, ref: str) -> list[Recipient]:
    with container.services.uow() as uow:
        report = uow.session.scalar(select(TraffickingReport).where(TraffickingReport.ref == ref))
        return route_report(facts_from_report(report), load_directory(uow.session))


def outbox_rows(container: Container, **filters: Any) -> list[OutboundSms]:
    with container.services.uow() as uow:
        query = select(OutboundSms).order_by(OutboundSms.id)
        for key, value in filters.items():
            query = query.where(getattr(OutboundSms, key) == value)
        rows = list(uow.session.scalars(query).all())
        for row in rows:
            uow.session.expunge(row)
        return rows


def later(minutes: float) -> dt.datetime:
    return utcnow() + dt.timedelta(minutes=minutes)


def time_passes(container: Container, minutes: float) -> None:
    """Move every outbox row's clock back by `minutes`, as if that much time had passed.

    Workers claim a row only when its `next_attempt_at` has come by their own clock, so a test
    that wants a back-off to be over moves the rows' times, not the worker's.
    """
    delta = dt.timedelta(minutes=minutes)
    with container.services.uow() as uow:
        for row in uow.session.scalars(select(OutboundSms)):
            row.next_attempt_at = row.next_attempt_at - delta
            row.updated_at = row.updated_at - delta
        uow.commit()


def session_clock_passes(container: Container, minutes: float) -> None:
    """As if `minutes` had passed on the one clock abandonment is measured on (Redis TIME):
    every urgent session's last-hop stamp is moved back by that much."""
    from ussd_app.ussd.session_store import URGENT_INDEX

    conn = container.redis
    for member, score in conn.zrange(URGENT_INDEX, 0, -1, withscores=True):
        conn.zadd(URGENT_INDEX, {member: score - minutes * 60})
