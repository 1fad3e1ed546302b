"""RQ queues, job ids and the retry policy, declared once so web, worker and sweeper agree.

Alerts and escalations go on `alerts`, which workers drain before anything else; replies and
confirmations go on `messages`. A job carries only the outbox row id.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Sequence
from typing import Any

import redis
from rq import Queue
from rq.exceptions import DuplicateJobError, NoSuchJobError
from rq.job import Job, JobStatus

from ussd_app.messaging.models import SmsPurpose
from ussd_app.redis_wire import WriteBehind

log = logging.getLogger(__name__)

QUEUE_ALERTS = "alerts"
QUEUE_MESSAGES = "messages"
QUEUE_NAMES = (QUEUE_ALERTS, QUEUE_MESSAGES)  # in priority order
# The job, named by its path so this package never imports the process layer that runs it.
SEND_JOB = "ussd_app.runtime.jobs.send_outbound_sms"
ROUTE_JOB = "ussd_app.runtime.jobs.route_subject"
URGENT_PURPOSES = frozenset({SmsPurpose.ALERT, SmsPurpose.ESCALATION, SmsPurpose.ADMIN})
DEFAULT_RETRY_DELAYS: tuple[int, ...] = (10, 30, 120, 600, 1800)
JOB_TIMEOUT_S = 60  # the SDK call has its own (connect, read) timeout well inside this


def job_id(outbound_id: int, at: dt.datetime | None = None) -> str:
    """The send job's id: one per row, and one per scheduled retry time."""
    if at is None:
        return f"sms-{outbound_id}"
    return f"sms-{outbound_id}-at-{int(at.timestamp() * 1000)}"


def queue_for(purpose: SmsPurpose | str | None) -> str:
    if purpose is None:
        return QUEUE_ALERTS
    return QUEUE_ALERTS if SmsPurpose(purpose) in URGENT_PURPOSES else QUEUE_MESSAGES


class Dispatcher:
    """Puts outbox rows on the RQ queues. Never raises: a row that is not enqueued is swept."""

    def __init__(
        self,
        conn: redis.Redis,
        retry_delays: Sequence[int] = DEFAULT_RETRY_DELAYS,
        wire: WriteBehind | None = None,
    ) -> None:
        self._conn = conn
        # The web process's write-behind (redis_wire): the routing job of a report filed on a
        # hop goes out with the hop's own session save, not in a round trip of its own.
        self._wire = wire
        self.retry_delays = tuple(retry_delays)
        self._queues = {name: Queue(name, connection=conn) for name in QUEUE_NAMES}

    def queue(self, name: str) -> Queue:
        return self._queues[name]

    def enqueue(
        self,
        outbound_id: int,
        purpose: SmsPurpose | str | None = None,
        *,
        replace: bool = False,
        at: dt.datetime | None = None,
    ) -> bool:
        """Enqueue the send job for a row (at `at` for a retry, through RQ's scheduler).

        With `replace`, first drop a finished job of the same id (the sweeper found the row still
        pending). Never raises: a row that is not enqueued is found again by the sweeper.
        """
        jid = job_id(outbound_id, at)
        queue = self._queues[queue_for(purpose)]
        options: dict[str, Any] = {
            "job_id": jid,
            "job_timeout": JOB_TIMEOUT_S,
            "result_ttl": 3600,
            "failure_ttl": 7 * 24 * 3600,
        }
        try:
            if replace:
                self._drop_if_done(jid)
            if at is None:
                queue.enqueue(SEND_JOB, outbound_id, unique=True, **options)
            else:
                queue.enqueue_at(at, SEND_JOB, outbound_id, **options)
            return True
        except DuplicateJobError:
            return False  # already queued or running
        except redis.exceptions.RedisError as exc:
            log.warning(
                "could not enqueue sms id=%s (%s); the sweeper will retry", outbound_id, exc
            )
            return False

    def enqueue_routing(self, subject: str, subject_id: int) -> bool:
        """Enqueue the routing job of a report or registration just committed, on the alerts
        queue (drained first). Never raises: the sweeper routes what is still unrouted."""
        try:
            # On the caller's last hop. Built on a pipeline, RQ's enqueue is one transaction
            # (on its own it makes two round trips: the queue registry, then the job and the
            # push); with the write-behind it costs no round trip of its own. If it is lost
            # (the process dies before it goes out, Redis fails), the sweeper routes the row.
            with self._conn.pipeline() as pipe:
                self._queues[QUEUE_ALERTS].enqueue(
                    ROUTE_JOB,
                    subject,
                    subject_id,
                    job_timeout=JOB_TIMEOUT_S,
                    result_ttl=600,
                    failure_ttl=7 * 24 * 3600,
                    pipeline=pipe,
                )
                if self._wire is None:
                    pipe.execute()
                else:  # held, or sent at once by a write-through wire (workers, commands)
                    self._wire.defer_transaction(
                        [args for args, _options in pipe.command_stack], "routing job"
                    )
                    pipe.reset()
            return True
        except redis.exceptions.RedisError as exc:
            log.warning(
                "could not enqueue routing of %s id=%s (%s); the sweeper will route it",
                subject,
                subject_id,
                exc,
            )
            return False

    def _drop_if_done(self, jid: str) -> None:
        """Drop a job that blocks a unique re-enqueue of a row the sweeper found pending.

        The outbox row is the truth. A finished or failed job is done with; a "started" one
        belongs to a worker that died (a live worker would hold the row as 'sending', and the
        sweeper only frees claims older than the job timeout). Dropping is safe either way:
        only one job can win the row's atomic claim.
        """
        try:
            job = Job.fetch(jid, connection=self._conn)
        except NoSuchJobError:
            return
        if job.get_status(refresh=False) in (
            JobStatus.FINISHED,
            JobStatus.FAILED,
            JobStatus.STARTED,
            JobStatus.STOPPED,
            JobStatus.CANCELED,
        ):
            job.delete()


class LeaveForSweeper:
    """An enqueuer for processes without Redis (operator commands): rows stay pending and the
    sweeper (`ussd-app alerts sweep`, or the embedded worker) sends them within a minute."""

    def __init__(self) -> None:
        self.left: list[int] = []

    def enqueue(
        self,
        outbound_id: int,
        purpose: SmsPurpose | str | None = None,
        *,
        replace: bool = False,
        at: dt.datetime | None = None,
    ) -> bool:
        self.left.append(outbound_id)
        log.info("sms id=%s staged; the sweeper will send it", outbound_id)
        return False

    def enqueue_routing(self, subject: str, subject_id: int) -> bool:
        log.info("%s id=%s stored; the sweeper will route it", subject, subject_id)
        return False
