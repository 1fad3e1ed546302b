"""Counters and histograms for operators (README "Metrics"), incremented where things happen.

Labels are codes the service defines itself (screen ids, limit names, priorities, case kinds),
never anything a caller typed or a number: a label value becomes a time series name that every
dashboard and backup of the metrics store keeps for ever.

Under gunicorn each worker is its own process; with PROMETHEUS_MULTIPROC_DIR set (README), these
values go to files in that folder and `/metrics` adds them up across processes. Alert states and
queue depth are not counted here: `/metrics` reads them from the database and Redis at scrape
time (`ussd_app.web.metrics`), so they are right whichever process answers.
"""

from __future__ import annotations

from prometheus_client import Counter, Histogram

HOPS = Counter(
    "ussd_hops_total",
    "USSD hops answered, by the screen shown (retries answered from the cache included)",
    ["screen"],
)
HOP_ERRORS = Counter(
    "ussd_hop_errors_total",
    "USSD hops that failed inside (the caller got the apology), by the screen they were on "
    "(_new: a session's first hop; _busy: its lock stayed taken)",
    ["screen"],
)
LIMIT_HITS = Counter(
    "limit_hits_total",
    "Requests that went over a rate limit, by the limit's name",
    ["limit"],
)
HTTP_REQUESTS = Counter(
    "http_requests_total",
    "HTTP requests answered, by route (the URL rule, never the path typed) and status class",
    ["route", "status"],
)
HTTP_SECONDS = Histogram(
    "http_request_duration_seconds",
    "Time to answer an HTTP request inside the app, by route (replaces the access log)",
    ["route"],
    buckets=(0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0),
)
HELD_WRITES = Counter(
    "redis_held_writes_total",
    "Hop writes held after the reply (write-behind, ussd_app.redis_wire), by what sent them: "
    "next_command (in the same write as another command: no round trip of their own) or flush "
    "(the flusher, after HOP_WRITE_BEHIND_MS with no command to carry them, or a shutdown)",
    ["sent_by"],
)
DB_STATEMENTS = Counter(
    "db_statements_total",
    "SQL statements sent to the database by this process (scripts/bench_ussd.py divides it by "
    "the sessions completed)",
)
TIME_TO_ACKNOWLEDGE = Histogram(
    "case_time_to_acknowledge_seconds",
    "From a case being filed to a partner taking it (ACK by SMS or on the desk)",
    ["kind", "priority"],
    buckets=(60, 300, 900, 1800, 3600, 4 * 3600, 12 * 3600, 24 * 3600, 72 * 3600, 7 * 86400),
)


def request_done(route: str, status: int, seconds: float) -> None:
    """Count one answered request (`route` is the matched URL rule, e.g. "/ussd")."""
    HTTP_REQUESTS.labels(route=route, status=f"{status // 100}xx").inc()
    HTTP_SECONDS.labels(route=route).observe(seconds)


def count_statement(*_args: object) -> None:
    """A SQLAlchemy `before_cursor_execute` listener: one more statement sent."""
    DB_STATEMENTS.inc()


def limit_hit(limit: str) -> None:
    """Count one request over the limit named `limit` (a configured name, never a key)."""
    LIMIT_HITS.labels(limit=limit).inc()
