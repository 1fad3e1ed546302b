"""Alert-path benchmark: report committed -> RQ worker -> Africa's Talking (local stand-in).

What it measures
----------------
The in-process AT stand-in (`tests.standin.AtStandIn`, 127.0.0.1) plays the SMS gateway;
the service is pointed at it (`SMS_BACKEND=africastalking`, `AT_BASE_URL=<stand-in>`,
`AT_API_KEY=bench`, `AT_USERNAME=sandbox`). K real RQ workers (`python worker.py`, default 2,
the Procfile's `worker:`) run on PostgreSQL database `bench` and Redis db 12 (flushed first).

real path   M reports (default 200) are filed by calling `ussd_app.reports.intake.submit_report`
            on a container bootstrapped in this process, from `--submitters` threads: exactly what
            the webhook's last hop does (the report alone in one transaction, its routing job
            enqueued after the commit). The routing job (in the workers) stages one alert per
            recipient (2-4 with the example partners) and sends them itself, together
            (one claim, one gateway request per distinct text, one record). Each report is
            timestamped right after its commit (the after-commit hook); the stand-in timestamps
            each message it accepts: the latency is commit -> accepted, routing included.
baseline    the same workers run as many trivial RQ jobs (`time.time`: no DB, no HTTP), all
            enqueued at once on the same `alerts` queue.

How to read the table
---------------------
jobs        alerts accepted by the stand-in (real) or trivial jobs finished (baseline).
jobs/s      jobs / (first submit or enqueue -> last acceptance or finish): end-to-end rate.
drain/s     jobs / (first -> last acceptance or finish): the workers' rate once busy; for the real
            path this can still be limited by how fast reports are filed (see submit rate).
p50/p99     real: report commit -> alert accepted by the stand-in; baseline: enqueue -> job
            finished (RQ's enqueued_at/ended_at). Seconds are dominated by queueing whenever
            jobs arrive faster than workers drain them, so compare them with that in mind.
wrk ms/job  CPU of the worker processes (RQ's SimpleWorker: jobs run in the worker itself)
            per job: the most robust number here. The ratio real/baseline is what the alert
            path costs beyond RQ's own cost per job.
pg ms/job   CPU of PostgreSQL backends per job: live `bench` backends plus every backend that
            exited meanwhile. SHARED with other databases' short connections: trust it only on
            a quiet box.

Run from the repository root:  python scripts/bench_alerts.py [--workers 2] [--reports 200]
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime as dt
import os
import random
import sys
import tempfile
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import redis
from bench_ussd import (
    DEFAULT_DATABASE_URL,
    DEFAULT_REDIS_URL,
    MAX_PHASE_S,
    REFUSED_REDIS_DBS,
    REPO_ROOT,
    Cleanup,
    Managed,
    PgCpu,
    _pg_dsn,
    ensure_database,
    flush_bench_redis,
    machine_header,
    percentile,
    prepare_service_db,
    redis_db_index,
    service_env,
    table,
    tree_cpu_s,
)
from rq import Queue, Worker
from rq.job import Job, JobStatus

if TYPE_CHECKING:
    from tests.standin import AtStandIn
    from ussd_app.bootstrap import Container

# Answer sets for submit_report, as the USSD flow would produce them: a mix of places (border
# posts and districts route to different partners) and priorities.
PLACES = ("maseru_bridge", "maputsoe_bridge", "van_rooyens_gate", "LS-A", "LS-C", "LS-F")
FLAG_SETS: tuple[list[str], ...] = (["F1", "F3"], ["F2"], [], ["F1"])


def report_answers(i: int) -> dict[str, object]:
    return {
        "danger_now": "yes" if i % 10 == 0 else "no",
        "child_involved": ("no", "yes", "unsure")[i % 3],
        "flags": FLAG_SETS[i % len(FLAG_SETS)],
        "place": PLACES[i % len(PLACES)],
        "when_seen": ("today", "this_week", "now", "earlier")[i % 4],
        "persons_count": ("1", "2_5", "6p", "unsure")[i % 4],
        "callback_consent": "no",
    }


@dataclass
class PhaseResult:
    name: str
    jobs: int
    expected: int
    wall_s: float  # first submit/enqueue -> last done
    drain_s: float  # first done -> last done
    latencies_s: list[float]
    worker_cpu_s: float
    pg_cpu_s: float
    extra: str = ""

    @property
    def rate(self) -> float:
        return self.jobs / self.wall_s if self.wall_s > 0 else 0.0

    @property
    def drain_rate(self) -> float:
        return (self.jobs - 1) / self.drain_s if self.drain_s > 0 and self.jobs > 1 else 0.0

    def per_job_ms(self, cpu_s: float) -> float:
        return cpu_s * 1000 / self.jobs if self.jobs else float("nan")


def _ts(value: dt.datetime | None) -> float | None:
    """A datetime (RQ's may be naive UTC) as a POSIX timestamp."""
    if value is None:
        return None
    if value.tzinfo is None:
        value = value.replace(tzinfo=dt.UTC)
    return value.timestamp()


def run_real(
    container: Container,
    standin: AtStandIn,
    workers: Sequence[Managed],
    pg: PgCpu,
    *,
    reports: int,
    submitters: int,
    timeout_s: float,
) -> tuple[PhaseResult, str]:
    """File `reports` reports and wait for every alert they staged to reach the stand-in."""
    from sqlalchemy import select

    from ussd_app.messaging.models import OutboundSms
    from ussd_app.reports.intake import submit_report
    from ussd_app.reports.models import TraffickingReport

    original = container.services
    committed_at: dict[int, float] = {}  # report id -> time right after its commit
    lock = threading.Lock()

    class TimedEnqueuer:
        def enqueue(
            self,
            outbound_id: int,
            purpose: object = None,
            *,
            replace: bool = False,
            at: object = None,
        ) -> bool:
            return bool(
                original.enqueuer.enqueue(outbound_id, purpose, replace=replace, at=at)  # type: ignore[arg-type]
            )

        def enqueue_routing(self, subject: str, subject_id: int) -> bool:
            # The after-commit hook of the report: its alerts are staged by the routing job.
            with lock:
                committed_at.setdefault(subject_id, time.time())
            return bool(original.enqueuer.enqueue_routing(subject, subject_id))

    services = dataclasses.replace(original, enqueuer=TimedEnqueuer())
    refs: list[str] = []
    errors: list[str] = []
    counter = iter(range(reports))
    run_tag = random.randrange(10_000_000)

    def submitter() -> None:
        while True:
            with lock:
                i = next(counter, None)
            if i is None:
                return
            try:
                ref, _priority = submit_report(
                    services,
                    phone=f"+2665{(run_tag + i) % 10_000_000:07d}",
                    language="en",
                    answers=report_answers(i),
                    idempotency_key=f"bench-alerts-{run_tag}-{i}",
                )
                with lock:
                    refs.append(ref)
            except Exception as exc:  # report it, keep going
                with lock:
                    errors.append(f"report {i}: {type(exc).__name__}: {exc}")

    cpu0 = sum(tree_cpu_s([w.pid]) for w in workers)
    pg0 = pg.snapshot()
    already = len(standin.messages)
    t_first = time.time()
    threads = [threading.Thread(target=submitter, daemon=True) for _ in range(submitters)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=timeout_s)
    t_submitted = time.time()
    report_ids = list(committed_at)

    def routed_and_staged() -> tuple[int, int]:
        """(reports still unrouted, alert rows staged for the bench's reports)."""
        with services.uow() as uow:
            unrouted = len(
                uow.session.scalars(
                    select(TraffickingReport.id).where(
                        TraffickingReport.id.in_(report_ids), TraffickingReport.routed_at.is_(None)
                    )
                ).all()
            )
            staged = len(
                uow.session.scalars(
                    select(OutboundSms.id).where(OutboundSms.report_id.in_(report_ids))
                ).all()
            )
        return unrouted, staged

    deadline = time.monotonic() + timeout_s
    expected = 0
    while time.monotonic() < deadline:
        unrouted, expected = routed_and_staged()
        if unrouted == 0 and len(standin.messages) - already >= expected:
            break
        if not any(w.alive() for w in workers):
            errors.append("every worker exited")
            break
        time.sleep(0.1)
    cpu1 = sum(tree_cpu_s([w.pid]) for w in workers)
    pg1 = pg.snapshot()

    accepted = {m.message_id: m for m in standin.messages[already:]}
    with services.uow() as uow:
        rows = uow.session.execute(
            select(OutboundSms.id, OutboundSms.report_id, OutboundSms.message_id).where(
                OutboundSms.report_id.in_(report_ids)
            )
        ).all()
    latencies, done_times = [], []
    for _row_id, report_id, message_id in rows:
        message = accepted.get(message_id) if message_id else None
        if message is None:
            continue
        at = message.at.timestamp()
        latencies.append(at - committed_at[int(report_id)])
        done_times.append(at)
    if len(done_times) < expected:
        errors.append(f"only {len(done_times)} of {expected} alerts accepted in {timeout_s:.0f}s")
    t_last = max(done_times) if done_times else time.time()
    result = PhaseResult(
        name="real alert path",
        jobs=len(done_times),
        expected=expected,
        wall_s=t_last - t_first,
        drain_s=(t_last - min(done_times)) if done_times else 0.0,
        latencies_s=latencies,
        worker_cpu_s=cpu1 - cpu0,
        pg_cpu_s=PgCpu.delta(pg0, pg1),
    )
    submit_rate = len(refs) / (t_submitted - t_first) if t_submitted > t_first else 0.0
    result.extra = (
        f"{len(refs)} reports filed by {submitters} thread(s) in {t_submitted - t_first:.2f}s "
        f"({submit_rate:.0f} reports/s, {expected / max(1, len(refs)):.2f} alerts/report)"
    )
    return result, "\n".join(errors)


def run_baseline(
    conn: redis.Redis, workers: Sequence[Managed], pg: PgCpu, *, jobs: int, timeout_s: float
) -> tuple[PhaseResult, str]:
    """Enqueue `jobs` trivial jobs on the alerts queue and wait until all finished."""
    queue = Queue("alerts", connection=conn)
    cpu0 = sum(tree_cpu_s([w.pid]) for w in workers)
    pg0 = pg.snapshot()
    t_first = time.time()
    ids = [queue.enqueue("time.time", result_ttl=600).id for _ in range(jobs)]
    deadline = time.monotonic() + timeout_s
    finished: list[Job] = []
    errors: list[str] = []
    while time.monotonic() < deadline:
        fetched = [j for j in Job.fetch_many(ids, connection=conn) if j is not None]
        statuses = [j.get_status(refresh=False) for j in fetched]
        if all(s in (JobStatus.FINISHED, JobStatus.FAILED) for s in statuses):
            ok = JobStatus.FINISHED
            finished = [j for j, s in zip(fetched, statuses, strict=True) if s is ok]
            break
        time.sleep(0.1)
    else:
        errors.append(f"trivial jobs not finished within {timeout_s:.0f}s")
    cpu1 = sum(tree_cpu_s([w.pid]) for w in workers)
    pg1 = pg.snapshot()
    if len(finished) < jobs:
        errors.append(f"{jobs - len(finished)} trivial job(s) did not finish")
    ends = [_ts(j.ended_at) for j in finished]
    latencies = [
        e - s
        for j, e in zip(finished, ends, strict=True)
        if e is not None and (s := _ts(j.enqueued_at)) is not None
    ]
    done = [e for e in ends if e is not None]
    t_last = max(done) if done else time.time()
    return (
        PhaseResult(
            name="baseline: trivial job",
            jobs=len(done),
            expected=jobs,
            wall_s=t_last - t_first,
            drain_s=(t_last - min(done)) if done else 0.0,
            latencies_s=latencies,
            worker_cpu_s=cpu1 - cpu0,
            pg_cpu_s=PgCpu.delta(pg0, pg1),
        ),
        "\n".join(errors),
    )


def retire_backlog(database_url: str) -> None:
    """Mark as routed what earlier runs left unrouted in the bench database (bench_ussd runs no
    worker, and this script flushes the Redis that held their jobs): a routing job takes the
    rows waiting with its own (`cases.staging`), so a backlog would be routed, and its alerts
    sent, inside this run's burst and measured as its latency."""
    import psycopg

    url, _name = _pg_dsn(database_url)
    with psycopg.connect(url, autocommit=True, connect_timeout=5) as conn:
        counts = {
            table: conn.execute(
                f"UPDATE {table} SET routed_at = now() WHERE routed_at IS NULL"
            ).rowcount
            for table in ("trafficking_reports", "registrations")
        }
    if any(counts.values()):
        print(
            "   marked routed, left unrouted by earlier runs: "
            + ", ".join(f"{n} {table}" for table, n in counts.items())
        )


def wait_for_workers(conn: redis.Redis, workers: Sequence[Managed], timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        for w in workers:
            if not w.alive():
                raise SystemExit(f"{w.name} exited early:\n{w.log_tail()}")
        if len(Worker.all(connection=conn)) >= len(workers):
            time.sleep(0.5)  # let each finish its first poll
            return
        time.sleep(0.2)
    raise SystemExit(f"workers not registered within {timeout_s:.0f}s")


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        description=(
            "Alert throughput and latency through real RQ workers to a local Africa's Talking "
            "stand-in, against trivial RQ jobs on the same workers, in the same run."
        ),
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    p.add_argument("--workers", type=int, default=2, help="RQ worker processes (python worker.py)")
    p.add_argument("--reports", type=int, default=200, help="reports to file")
    p.add_argument("--submitters", type=int, default=2, help="threads filing reports")
    p.add_argument(
        "--baseline-jobs",
        type=int,
        default=0,
        help="trivial jobs for the baseline (0: as many as alerts were accepted)",
    )
    p.add_argument("--timeout", type=float, default=120.0, help="max seconds per phase")
    p.add_argument("--database-url", default=DEFAULT_DATABASE_URL)
    p.add_argument("--redis-url", default=DEFAULT_REDIS_URL, help="your own Redis db (flushed)")
    p.add_argument(
        "--instance-dir",
        default=str(Path(tempfile.gettempdir()) / "ussd-bench-instance"),
        help="INSTANCE_DIR shared by this process and the workers (dev secrets)",
    )
    p.add_argument("--log-level", default="INFO", help="LOG_LEVEL for the workers")
    p.add_argument("--keep-logs", action="store_true", help="keep the worker logs directory")
    args = p.parse_args(argv)
    if not 1 <= args.workers <= 16:
        p.error("--workers must be 1..16")
    if not 1 <= args.reports <= 20_000:
        p.error("--reports must be 1..20000")
    if not 1 <= args.submitters <= 32:
        p.error("--submitters must be 1..32")
    if not 0 < args.timeout <= MAX_PHASE_S:
        p.error(f"--timeout must be in (0, {MAX_PHASE_S:.0f}]")
    if redis_db_index(args.redis_url) in REFUSED_REDIS_DBS:
        p.error("--redis-url must be a Redis db of your own (it is flushed), not db 0 or 9")
    return args


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    print(machine_header("bench_alerts", args.redis_url, args.database_url))
    print(
        f"plan: {args.workers} RQ worker(s); {args.reports} reports via submit_report from "
        f"{args.submitters} thread(s); then the same number of trivial jobs on the same workers"
    )
    import shutil

    from tests.standin import AtStandIn

    log_dir = Path(tempfile.mkdtemp(prefix="bench_alerts_"))
    instance_dir = Path(args.instance_dir)
    errors: list[str] = []
    with Cleanup() as cleanup:
        if not args.keep_logs:
            cleanup.callbacks.append(lambda: shutil.rmtree(log_dir, ignore_errors=True))
        ensure_database(args.database_url)
        flush_bench_redis(args.redis_url)
        standin = AtStandIn(api_key="bench", username="sandbox").start()
        cleanup.callbacks.append(standin.stop)
        env = service_env(
            args.database_url,
            args.redis_url,
            instance_dir,
            {
                "SMS_BACKEND": "africastalking",
                "AT_BASE_URL": standin.url,
                "AT_API_KEY": "bench",
                "AT_USERNAME": "sandbox",
                "LOG_LEVEL": args.log_level,
            },
        )
        print(f"-- AT stand-in at {standin.url}; preparing the database")
        prepare_service_db(env)
        retire_backlog(args.database_url)

        # The submitting container: same settings as the workers, built in this process.
        for var in [k for k in os.environ if k not in env]:
            del os.environ[var]  # e.g. GATEWAY_TOKEN, DATA_KEYS: the workers do not have them
        os.environ.update(env)
        import logging

        from ussd_app.bootstrap import bootstrap
        from ussd_app.config import Settings

        logging.basicConfig(level=logging.WARNING)
        container = bootstrap(Settings.from_env())
        cleanup.callbacks.append(container.close)

        workers = [
            cleanup.add(
                Managed(f"worker{i}", [sys.executable, "worker.py"], env, REPO_ROOT, log_dir)
            )
            for i in range(args.workers)
        ]
        conn = redis.Redis.from_url(args.redis_url, socket_timeout=5)
        cleanup.callbacks.append(conn.close)
        wait_for_workers(conn, workers, 60)
        print(f"-- {len(workers)} worker(s) up: pids {' '.join(str(w.pid) for w in workers)}")
        pg = PgCpu(args.database_url, include_reaped=True)
        cleanup.callbacks.append(pg.close)

        print("-- real path ...", flush=True)
        real, err = run_real(
            container,
            standin,
            workers,
            pg,
            reports=args.reports,
            submitters=args.submitters,
            timeout_s=args.timeout,
        )
        if err:
            errors.append(err)
        jobs = args.baseline_jobs or max(1, real.jobs)
        print(f"-- baseline: {jobs} trivial jobs ...", flush=True)
        base, err = run_baseline(conn, workers, pg, jobs=jobs, timeout_s=args.timeout)
        if err:
            errors.append(err)

        header = (
            "phase",
            "jobs",
            "wall s",
            "jobs/s",
            "drain/s",
            "p50 s",
            "p99 s",
            "wrk ms/job",
            "pg ms/job",
        )

        def row(r: PhaseResult) -> list[str]:
            return [
                r.name,
                f"{r.jobs}/{r.expected}",
                f"{r.wall_s:.2f}",
                f"{r.rate:.1f}",
                f"{r.drain_rate:.1f}",
                f"{percentile(r.latencies_s, 50):.3f}",
                f"{percentile(r.latencies_s, 99):.3f}",
                f"{r.per_job_ms(r.worker_cpu_s):.1f}",
                f"{r.per_job_ms(r.pg_cpu_s):.1f}",
            ]

        def ratio(a: float, b: float) -> str:
            return f"x{a / b:.2f}" if b and a == a and b == b else "-"

        ratios = [
            "real/baseline",
            "",
            "",
            ratio(real.rate, base.rate),
            ratio(real.drain_rate, base.drain_rate),
            ratio(percentile(real.latencies_s, 50), percentile(base.latencies_s, 50)),
            ratio(percentile(real.latencies_s, 99), percentile(base.latencies_s, 99)),
            ratio(real.per_job_ms(real.worker_cpu_s), base.per_job_ms(base.worker_cpu_s)),
            ratio(real.per_job_ms(real.pg_cpu_s), base.per_job_ms(base.pg_cpu_s)),
        ]
        print()
        print(table([row(real), row(base), ratios], header))
        print(f"real path: {real.extra}")
        print(
            "real p50/p99 = report commit -> alert accepted by the stand-in; baseline = "
            "enqueue -> finished"
        )
        dead = [w.name for w in workers if not w.alive()]
        if dead:
            errors.append(f"worker(s) died: {', '.join(dead)}")
        if errors:
            print("\nerrors:\n" + "\n".join(errors))
        print(f"\nload avg at end: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
        if args.keep_logs:
            print(f"worker logs: {log_dir}")
    return 1 if errors else 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except KeyboardInterrupt:
        print("\ninterrupted; workers and stand-in stopped", file=sys.stderr)
        sys.exit(130)
