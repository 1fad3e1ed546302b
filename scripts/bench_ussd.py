"""Load benchmark of the USSD webhook, against a bare Flask + Redis baseline in the same run.

What it measures
----------------
Two targets, each under the SAME server (`--server granian`, the Procfile's: 2 workers, 1
blocking thread each, no access log; or `--server gunicorn`, sync workers) on 127.0.0.1:

* service:  the real app (`ussd_app.web.server:serve_app()`, as the Procfile runs it) on a
            PostgreSQL database (`--database-url`, default `bench`) and a Redis db
            (`--redis-url`, default db 12; flushed, so never a shared one: db 0 and db 9 are
            refused), `EMBEDDED_WORKER=no`, `SMS_BACKEND=console`
            (routing and send jobs are only enqueued; no worker runs), after `ussd-app db upgrade`
            and `ussd-app partners import partners.example.yaml`;
* baseline: scripts/baseline_app.py, a hand-written Flask hop doing one Redis GET + one SET
            (`baseline_app:serve_app()`: start-up objects frozen out of the collector, as the
            service's factory does).

For each user count (`--users 16,64`) and round (`--rounds`), baseline and service run back to
back, so each ratio compares two windows a few seconds apart on the same machine.

N closed-loop users (threads, one `requests.Session` each, zero think time) run complete
sessions back to back, alternating a returnee registration (11 hops: dial, language, 9 answers,
ending `END ... R-nnnnnn`) and a trafficking report (11 hops, ending `END ... T-nnnn`). Each
session has a unique `sessionId` and a fresh phone number; `text` accumulates with `*` as the
gateway sends it. Every reply must be HTTP 200 and start with `CON ` (`END ` on the last hop,
with the reference); anything else counts as an error and ends that session.

Each target gets a warm-up (not measured), then a measured window (`--seconds`, or until
`--sessions` sessions completed). Only hops that complete inside the window count.

How to read the table
---------------------
hops/s        hops completed in the window / window length (client and servers share 2 cores).
p50/p95/p99   per-hop latency seen by the client, ms.
srv ms/hop    CPU time (user+system) of all the server's processes over the window, divided
              by hops: what one hop costs the web tier. Moves much less than hops/s on a noisy
              machine; prefer it when comparing.
pg ms/hop     CPU of the PostgreSQL backends connected to the bench database (pooled, so they
              live for the whole window) per hop. The baseline has none.
redis ms/hop  CPU of the whole redis-server per hop, and redis cmds/hop: commands it processed
              per hop. SHARED with anyone else using that Redis: only trust them on a quiet box.
cli ms/hop    CPU of this load generator per hop (it competes with the servers for the cores).
sql/flow      SQL statements the service's web processes sent per completed session (its
              `db_statements_total` in /metrics); the routing jobs run later, in the worker.
other%        CPU the rest of the machine used during the window (other users' work), as a
              share of all cores; the run warns when it is high or the hypervisor steals time.
ratio         service / baseline for each column: how many baseline hops one service hop costs.

After the load, one session of each flow is run alone to count the SQL statements of its LAST
hop (the hop that stores the registration or the report).

The per-hop lines below it give the service's p50 by hop position ("3[5]": hop 3, the caller
typed 5). With many users a hop's latency is mostly queueing behind the other users' hops, so
run `--users 1` to see what each screen costs on its own (the DB hops: dial, language, last).

Run from the repository root:
    python scripts/bench_ussd.py --users 16,64 --rounds 8 --seconds 4 \
        --database-url postgresql://postgres@127.0.0.1:5432/bench --redis-url redis://127.0.0.1:6379/12
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import itertools
import math
import os
import platform
import random
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType
from typing import TextIO

import redis
import requests

REPO_ROOT = Path(__file__).resolve().parent.parent
SCRIPTS_DIR = REPO_ROOT / "scripts"
BIN_DIR = Path(sys.executable).parent
DEFAULT_DATABASE_URL = "postgresql://postgres@127.0.0.1:5432/bench"
DEFAULT_REDIS_URL = "redis://127.0.0.1:6379/12"
BENCH_REDIS_DB = 12  # the default Redis database of these scripts (flushed at the start)
REFUSED_REDIS_DBS = (0, 9)  # everyone's default, and CI's: never flushed
METRICS_TOKEN = "bench-metrics-token"
BUSY_OTHER_SHARE = 0.25  # other processes using more than this share of all cores: warn
BUSY_STEAL_SHARE = 0.05
CLK_TCK = os.sysconf("SC_CLK_TCK")
HOP_TIMEOUT_S = 10.0  # the gateway's own limit per hop
# The factories the servers run, as the Procfile's web process does (its launcher names the first).
SERVICE_FACTORY = "ussd_app.web.server:serve_app"
BASELINE_FACTORY = "baseline_app:serve_app"
MAX_PHASE_S = 600.0  # no phase of a run may last longer than this, whatever the options


# ------------------------------------------------------------------------------------ flows


@dataclass(frozen=True)
class Flow:
    """One complete USSD session: the answers typed after the first dial, and the final check."""

    name: str
    answers: tuple[str, ...]  # answers[0] is the language choice (skipped if remembered)
    reference: re.Pattern[str]


FLOWS: tuple[Flow, ...] = (
    # English, 1 Register, consent yes+partners, Maseru, Gauteng, Maseru Bridge, valid
    # passport, needs clinic+work, woman 18-35, a case worker may call (register_shortest_en).
    Flow(
        "registration",
        ("2", "1", "1", "5", "1", "1", "1", "13", "1", "1"),
        re.compile(r"\bR-\d{4,}"),
    ),
    # English, 2 Report, not in danger now, no child, flags 1+3, Maseru Bridge, today,
    # 2-5 people, vehicle skipped, number kept hidden (tests/functional REPORT_PATH).
    Flow(
        "report",
        ("2", "2", "2", "2", "13", "1", "2", "2", "1", "1"),
        re.compile(r"\bT-\d{4,}"),
    ),
)
MAIN_MENU_MARK = "Welcome. Choose:"  # the first screen when the phone's language is remembered
RESUME_MARK = "Welcome back"


def baseline_flow_lengths() -> str:
    """BASELINE_FLOW_LENGTHS for baseline_app: main-menu choice -> number of answers."""
    return ",".join(f"{flow.answers[1]}:{len(flow.answers)}" for flow in FLOWS)


# ------------------------------------------------------------------------- machine and env


def _run_quiet(cmd: Sequence[str], cwd: Path | None = None) -> str:
    try:
        out = subprocess.run(
            list(cmd), cwd=cwd, capture_output=True, text=True, timeout=10, check=False
        )
    except (OSError, subprocess.SubprocessError):
        return ""
    return out.stdout.strip()


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def _version(module: str) -> str:
    try:
        from importlib.metadata import version

        return version(module)
    except Exception:
        return "?"


def machine_header(title: str, redis_url: str, database_url: str | None) -> str:
    """Lines describing when and where the run happened, for the top of the report."""
    now = dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
    load = " ".join(f"{x:.2f}" for x in os.getloadavg())
    mem = ""
    with contextlib.suppress(OSError):
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal"):
                mem = f", {int(line.split()[1]) // 1024} MiB RAM"
    head = _run_quiet(["git", "rev-parse", "--short", "HEAD"], cwd=REPO_ROOT) or "?"
    dirty = _run_quiet(
        ["git", "--no-optional-locks", "status", "--porcelain", "--untracked-files=no"],
        cwd=REPO_ROOT,
    )
    redis_version = "?"
    with contextlib.suppress(redis.RedisError):
        conn = redis.Redis.from_url(redis_url, socket_timeout=2)
        redis_version = str(conn.info("server").get("redis_version", "?"))
        conn.close()
    pg_version = ""
    if database_url:
        pg_version = f", PostgreSQL {_pg_server_version(database_url)}"
    lines = [
        f"== {title} -- {now}",
        f"host {platform.node()}  {platform.system()} {platform.release()} {platform.machine()}",
        f"cpu  {_cpu_model()} x {os.cpu_count()} (nproc){mem}; load avg {load} at start",
        f"sw   Python {platform.python_version()}, granian {_version('granian')}, "
        f"gunicorn {_version('gunicorn')}, "
        f"Flask {_version('flask')}, SQLAlchemy {_version('sqlalchemy')}, "
        f"redis-py {_version('redis')}, rq {_version('rq')}, redis-server {redis_version}"
        f"{pg_version}",
        f"repo {REPO_ROOT} @ {head}{' (+ uncommitted changes)' if dirty else ''}",
    ]
    return "\n".join(lines)


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def tool(name: str) -> str:
    """An executable from this interpreter's virtualenv, else from PATH."""
    candidate = BIN_DIR / name
    if candidate.exists():
        return str(candidate)
    found = shutil.which(name)
    if found is None:
        raise SystemExit(f"{name} not found next to {sys.executable} nor on PATH")
    return found


def redis_db_index(url: str) -> int:
    parsed = urllib.parse.urlsplit(url)
    path = parsed.path.strip("/")
    if path.isdigit():
        return int(path)
    query = urllib.parse.parse_qs(parsed.query)
    return int(query.get("db", ["0"])[0])


def flush_bench_redis(url: str) -> None:
    """Empty the bench Redis database; refuses db 0 and db 9 (shared, CI)."""
    if redis_db_index(url) in REFUSED_REDIS_DBS:
        raise SystemExit(f"refusing to flush {url}: use a Redis db of your own")
    conn = redis.Redis.from_url(url, socket_timeout=5)
    try:
        conn.flushdb()
    finally:
        conn.close()


def _pg_dsn(database_url: str) -> tuple[str, str]:
    """(libpq URL, database name) from a SQLAlchemy/Heroku-style URL."""
    url = database_url.replace("postgresql+psycopg://", "postgresql://").replace(
        "postgres://", "postgresql://"
    )
    name = urllib.parse.urlsplit(url).path.strip("/")
    return url, name


def _pg_server_version(database_url: str) -> str:
    try:
        import psycopg

        url, _ = _pg_dsn(database_url)
        with psycopg.connect(url, connect_timeout=3) as conn:
            row = conn.execute("show server_version").fetchone()
            return str(row[0]).split()[0] if row else "?"
    except Exception:
        return "?"


def ensure_database(database_url: str) -> None:
    """Create the bench database if it does not exist; never touches the `test` database."""
    import psycopg

    url, name = _pg_dsn(database_url)
    if not name or name in ("test", "postgres", "template0", "template1"):
        raise SystemExit(f"refusing to benchmark on database {name!r}; use your own (e.g. bench)")
    admin = urllib.parse.urlunsplit(urllib.parse.urlsplit(url)._replace(path="/postgres"))
    with psycopg.connect(admin, autocommit=True, connect_timeout=5) as conn:
        exists = conn.execute("select 1 from pg_database where datname = %s", (name,)).fetchone()
        if not exists:
            conn.execute(f'create database "{name}"')


def service_env(
    database_url: str,
    redis_url: str,
    instance_dir: Path,
    extra: dict[str, str] | None = None,
) -> dict[str, str]:
    """Environment for the service's processes (web, CLI, worker)."""
    env = dict(os.environ)
    for var in ("GATEWAY_TOKEN", "DATA_KEYS", "PHONE_HASH_KEY", "MENUS_PATH", "WEB_CONCURRENCY"):
        env.pop(var, None)
    env.update(
        {
            "APP_ENV": "development",
            "DATABASE_URL": database_url,
            "REDIS_URL": redis_url,
            "INSTANCE_DIR": str(instance_dir),
            "EMBEDDED_WORKER": "no",
            "SMS_BACKEND": "console",
            "SMS_LOG_PATH": str(instance_dir / "sms.log"),
            "LOG_LEVEL": env.get("LOG_LEVEL", "INFO"),
            "PYTHONUNBUFFERED": "1",
            # As in production: the load generator is "the gateway", on the allow-list, so its
            # one address carries every caller and the per-address limit does not apply to it.
            "GATEWAY_ALLOWED_IPS": "127.0.0.1/32",
        }
    )
    env.update(extra or {})
    return env


def prepare_service_db(env: dict[str, str]) -> None:
    """`ussd-app db upgrade` and `ussd-app partners import partners.example.yaml`."""
    cli = tool("ussd-app")
    for args in (["db", "upgrade"], ["partners", "import", "partners.example.yaml"]):
        done = subprocess.run(
            [cli, *args], cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=120
        )
        if done.returncode != 0:
            raise SystemExit(f"ussd-app {' '.join(args)} failed:\n{done.stdout}\n{done.stderr}")
        print(f"   ussd-app {' '.join(args)}: {done.stdout.strip().splitlines()[-1:]}")


# ------------------------------------------------------------------------------- processes


class Managed:
    """A child process in its own process group, stopped (TERM, then KILL) on cleanup."""

    def __init__(
        self, name: str, cmd: Sequence[str], env: dict[str, str], cwd: Path, log_dir: Path
    ) -> None:
        self.name = name
        self.cmd = list(cmd)
        self.log_path = log_dir / f"{name}.log"
        self._log: TextIO = self.log_path.open("w")
        self.proc = subprocess.Popen(
            self.cmd,
            cwd=cwd,
            env=env,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    @property
    def pid(self) -> int:
        return self.proc.pid

    def alive(self) -> bool:
        return self.proc.poll() is None

    def log_tail(self, lines: int = 30) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""

    def stop(self, grace_s: float = 8.0) -> None:
        if self.proc.poll() is None:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout=grace_s)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError, PermissionError):
                    os.killpg(self.proc.pid, signal.SIGKILL)
                with contextlib.suppress(subprocess.TimeoutExpired):
                    self.proc.wait(timeout=5)
        else:
            # The leader is gone; make sure nothing it started is left in its group.
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(self.proc.pid, signal.SIGKILL)
        with contextlib.suppress(OSError):
            self._log.close()


class Cleanup:
    """Stops every registered process on exit, Ctrl-C, SIGTERM or error."""

    def __init__(self) -> None:
        self.procs: list[Managed] = []
        self.callbacks: list[Callable[[], None]] = []

    def add(self, proc: Managed) -> Managed:
        self.procs.append(proc)
        return proc

    def __enter__(self) -> Cleanup:
        def on_term(signum: int, frame: FrameType | None) -> None:
            raise SystemExit(128 + signum)

        signal.signal(signal.SIGTERM, on_term)
        signal.signal(signal.SIGHUP, on_term)
        # Ctrl-C must stop the run even when started in the background (SIGINT ignored).
        signal.signal(signal.SIGINT, signal.default_int_handler)
        return self

    def __exit__(self, *exc: object) -> None:
        for cb in reversed(self.callbacks):
            with contextlib.suppress(Exception):
                cb()
        for proc in reversed(self.procs):
            with contextlib.suppress(Exception):
                proc.stop()


def start_gunicorn(
    name: str,
    app_spec: str,
    env: dict[str, str],
    log_dir: Path,
    workers: int,
    extra_args: Sequence[str] = (),
) -> tuple[Managed, str]:
    """Start gunicorn (sync workers) on a free 127.0.0.1 port; returns (process, base URL)."""
    port = free_port()
    cmd = [
        tool("gunicorn"),
        "-w",
        str(workers),
        "--bind",
        f"127.0.0.1:{port}",
        *extra_args,
        app_spec,
    ]
    return Managed(name, cmd, env, REPO_ROOT, log_dir), f"http://127.0.0.1:{port}"


def start_granian(
    name: str,
    app_spec: str,
    env: dict[str, str],
    log_dir: Path,
    workers: int,
) -> tuple[Managed, str]:
    """Start granian as the Procfile does (WSGI, `workers` x 1 blocking thread, no access log)."""
    port = free_port()
    cmd = [
        tool("granian"),
        "--interface",
        "wsgi",
        "--factory",
        "--workers",
        str(workers),
        "--blocking-threads",
        "1",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--no-access-log",
        app_spec,
    ]
    return Managed(name, cmd, env, REPO_ROOT, log_dir), f"http://127.0.0.1:{port}"


def start_server(
    server: str, name: str, factory: str, env: dict[str, str], log_dir: Path, workers: int
) -> tuple[Managed, str]:
    """`factory` is "module:function"; scripts/ is on the path for the baseline."""
    env = {**env, "PYTHONPATH": os.pathsep.join([str(SCRIPTS_DIR), str(REPO_ROOT)])}
    if server == "granian":
        return start_granian(name, factory, env, log_dir, workers)
    return start_gunicorn(name, factory + "()", env, log_dir, workers)


def wait_ready(proc: Managed, base_url: str, expect_workers: int, timeout_s: float = 60) -> None:
    """Wait for /healthz to answer 200 and for every gunicorn worker to be up."""
    deadline = time.monotonic() + timeout_s
    with requests.Session() as s:
        s.trust_env = False
        while time.monotonic() < deadline:
            if not proc.alive():
                raise SystemExit(f"{proc.name} exited early:\n{proc.log_tail()}")
            with contextlib.suppress(requests.RequestException):
                healthy = s.get(base_url + "/healthz", timeout=2).status_code == 200
                if healthy and len(process_tree(proc.pid)) >= expect_workers + 1:
                    # Every worker imports the app before it accepts; give stragglers a beat.
                    time.sleep(0.5)
                    return
            time.sleep(0.2)
    raise SystemExit(f"{proc.name} did not become ready in {timeout_s}s:\n{proc.log_tail()}")


# -------------------------------------------------------------------------------- CPU time


def _stat_fields(pid: int) -> list[str] | None:
    try:
        raw = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    # The command name is in parentheses and may contain spaces; fields follow the last ")".
    return raw.rsplit(")", 1)[1].split()


def proc_cpu_s(pid: int, *, children: bool = True) -> float:
    """utime+stime (plus cutime+cstime of reaped children) of one process, in seconds."""
    fields = _stat_fields(pid)
    if fields is None:
        return 0.0
    # After the ")": state ppid pgrp session tty tpgid flags minflt cminflt majflt cmajflt
    # utime(11) stime(12) cutime(13) cstime(14)
    ticks = int(fields[11]) + int(fields[12])
    if children:
        ticks += int(fields[13]) + int(fields[14])
    return ticks / CLK_TCK


def _children_map() -> dict[int, list[int]]:
    kids: dict[int, list[int]] = {}
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        fields = _stat_fields(int(entry.name))
        if fields is None:
            continue
        kids.setdefault(int(fields[1]), []).append(int(entry.name))
    return kids


def process_tree(root: int) -> list[int]:
    """root and all its live descendants."""
    kids = _children_map()
    out, todo = [], [root]
    while todo:
        pid = todo.pop()
        out.append(pid)
        todo.extend(kids.get(pid, []))
    return out


def tree_cpu_s(roots: Sequence[int]) -> float:
    """CPU seconds of every process under `roots`, including children they already reaped."""
    kids = _children_map()
    total, todo, seen = 0.0, list(roots), set()
    while todo:
        pid = todo.pop()
        if pid in seen:
            continue
        seen.add(pid)
        total += proc_cpu_s(pid)
        todo.extend(kids.get(pid, []))
    return total


class PgCpu:
    """CPU of PostgreSQL backends connected to one database (and, optionally, reaped ones).

    Live backends are found in pg_stat_activity and read from /proc (same machine). With
    `include_reaped`, the postmaster's cutime+cstime is added: backends that exited (short
    connections, e.g. RQ work horses with NullPool) -- of EVERY database, so it is shared.
    """

    def __init__(self, database_url: str, include_reaped: bool = False) -> None:
        import psycopg

        url, self.dbname = _pg_dsn(database_url)
        self._conn = psycopg.connect(url, autocommit=True, connect_timeout=5)
        self.include_reaped = include_reaped
        row = self._conn.execute("select pg_backend_pid()").fetchone()
        self._own = int(row[0]) if row else -1
        fields = _stat_fields(self._own)
        self._postmaster = int(fields[1]) if fields else -1
        self.available = fields is not None

    def snapshot(self) -> dict[int, float]:
        """{backend pid: cpu seconds}, plus key -1 for the postmaster's reaped children."""
        rows = self._conn.execute(
            "select pid from pg_stat_activity where datname = %s and pid <> pg_backend_pid()",
            (self.dbname,),
        ).fetchall()
        snap = {int(r[0]): proc_cpu_s(int(r[0]), children=False) for r in rows}
        if self.include_reaped and self._postmaster > 0:
            fields = _stat_fields(self._postmaster)
            if fields is not None:
                snap[-1] = (int(fields[13]) + int(fields[14])) / CLK_TCK
        return snap

    @staticmethod
    def delta(before: dict[int, float], after: dict[int, float]) -> float:
        return sum(max(0.0, cpu - before.get(pid, 0.0)) for pid, cpu in after.items())

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self._conn.close()


def redis_counters(conn: redis.Redis) -> tuple[float, int]:
    """(redis-server CPU seconds, commands processed) -- for the whole server, shared."""
    try:
        cpu = conn.info("cpu")
        stats = conn.info("stats")
    except redis.RedisError:
        return 0.0, 0
    return (
        float(cpu.get("used_cpu_user", 0.0)) + float(cpu.get("used_cpu_sys", 0.0)),
        int(stats.get("total_commands_processed", 0)),
    )


@dataclass
class CpuSample:
    server_s: float
    pg: dict[int, float]
    redis_s: float
    redis_cmds: int
    client_s: float


class CpuProbe:
    """Takes CPU samples of a server tree, its database backends, Redis, and this process."""

    def __init__(self, roots: Sequence[int], redis_conn: redis.Redis, pg: PgCpu | None) -> None:
        self.roots = list(roots)
        self.redis = redis_conn
        self.pg = pg

    def sample(self) -> CpuSample:
        t = os.times()
        redis_s, cmds = redis_counters(self.redis)
        return CpuSample(
            server_s=tree_cpu_s(self.roots),
            pg=self.pg.snapshot() if self.pg is not None else {},
            redis_s=redis_s,
            redis_cmds=cmds,
            client_s=t.user + t.system,
        )


def machine_cpu() -> tuple[float, float, float]:
    """(busy, steal, total) CPU seconds of the whole machine since boot, from /proc/stat."""
    try:
        fields = Path("/proc/stat").read_text().splitlines()[0].split()[1:]
    except (OSError, IndexError):
        return 0.0, 0.0, 0.0
    ticks = [int(x) for x in fields[:8]]
    idle, iowait, steal = ticks[3], ticks[4], ticks[7]
    total = sum(ticks)
    busy = total - idle - iowait
    return busy / CLK_TCK, steal / CLK_TCK, total / CLK_TCK


def scrape_statements(base_url: str) -> float | None:
    """The service's db_statements_total, summed over its workers (None if unreadable)."""
    try:
        res = requests.get(
            base_url + "/metrics",
            headers={"Authorization": f"Bearer {METRICS_TOKEN}"},
            timeout=10,
        )
    except requests.RequestException:
        return None
    if res.status_code != 200:
        return None
    found = re.findall(r"^db_statements_total(?:\{[^}]*\})? (\S+)$", res.text, re.M)
    return sum(float(v) for v in found) if found else None


# ---------------------------------------------------------------------------------- driver


@dataclass
class UserRecord:
    """What one simulated user saw; written only by its own thread."""

    hops: list[tuple[float, float, str, int]] = field(default_factory=list)  # end, s, flow, idx
    sessions: list[tuple[float, str]] = field(default_factory=list)  # end, flow
    errors: list[str] = field(default_factory=list)


class LoadContext:
    def __init__(self, url: str, run_tag: str, phone_start: int) -> None:
        self.url = url
        self.run_tag = run_tag
        self.stop = threading.Event()
        self._lock = threading.Lock()
        self._phones: Iterator[int] = itertools.count(phone_start)
        self.window_start = float("inf")
        self.completed_in_window = 0

    def next_phone(self) -> str:
        with self._lock:
            n = next(self._phones)
        # Lesotho mobile numbers: +266 5xxxxxxx / 6xxxxxxx (8 digits); 20 million to go round.
        return f"+266{50_000_000 + n % 20_000_000}"

    def session_done(self, end: float) -> None:
        if end >= self.window_start:
            with self._lock:
                self.completed_in_window += 1


def run_session(
    ctx: LoadContext, s: requests.Session, rec: UserRecord, flow: Flow, sid: str
) -> None:
    """One complete session; records each hop, and the session if it ended as expected."""
    phone = ctx.next_phone()
    answers = list(flow.answers)
    text = ""
    index = 0
    while True:
        form = {
            "sessionId": sid,
            "serviceCode": "*384*1234#",
            "phoneNumber": phone,
            "networkCode": "99999",
            "text": text,
        }
        t0 = time.perf_counter()
        try:
            res = s.post(ctx.url, data=form, timeout=HOP_TIMEOUT_S)
            body = res.text
        except requests.RequestException as exc:
            rec.errors.append(f"{flow.name} hop {index}: {type(exc).__name__}: {exc}")
            return
        t1 = time.perf_counter()
        rec.hops.append((t1, t1 - t0, flow.name, index))
        if res.status_code != 200:
            rec.errors.append(f"{flow.name} hop {index}: HTTP {res.status_code}: {body[:80]!r}")
            return
        if index == 0 and body.startswith("CON ") and RESUME_MARK in body:
            rec.errors.append(f"{flow.name}: resume screen on first dial (phone reused?)")
            return
        if index == 0 and body.startswith("CON ") and MAIN_MENU_MARK in body and answers:
            answers.pop(0)  # the phone's language is remembered: no language screen
        if not answers:
            if not body.startswith("END "):
                rec.errors.append(f"{flow.name} last hop: expected END, got {body[:80]!r}")
            elif not flow.reference.search(body):
                rec.errors.append(f"{flow.name} last hop: no reference in {body[:100]!r}")
            else:
                rec.sessions.append((t1, flow.name))
                ctx.session_done(t1)
            return
        if not body.startswith("CON "):
            rec.errors.append(f"{flow.name} hop {index}: expected CON, got {body[:80]!r}")
            return
        if ctx.stop.is_set():
            return  # the run is over; leave this session unfinished
        answer = answers.pop(0)
        text = answer if text == "" else f"{text}*{answer}"
        index += 1


def user_loop(ctx: LoadContext, uid: int, rec: UserRecord, max_sessions: int) -> None:
    with requests.Session() as s:
        s.trust_env = False  # 127.0.0.1 only, never through a proxy
        for k in range(max_sessions):
            if ctx.stop.is_set():
                return
            flow = FLOWS[(uid + k) % len(FLOWS)]
            run_session(ctx, s, rec, flow, f"ATUid_bench{ctx.run_tag}u{uid:03d}s{k:07d}")
            if len(rec.errors) > 50:
                return  # something is badly wrong; the report will show it


@dataclass
class LoadResult:
    target: str
    users: int
    window_s: float
    hops: int
    sessions: int
    latencies_ms: list[float]
    by_hop_ms: dict[tuple[str, int], list[float]]
    errors: list[str]
    server_ms_per_hop: float
    pg_ms_per_hop: float | None
    redis_ms_per_hop: float
    redis_cmds_per_hop: float
    client_ms_per_hop: float
    sql_per_flow: float | None = None
    other_share: float = 0.0  # CPU of everything else on the machine, share of all cores
    steal_share: float = 0.0

    @property
    def hops_per_s(self) -> float:
        return self.hops / self.window_s if self.window_s > 0 else 0.0

    def pct(self, q: float) -> float:
        return percentile(self.latencies_ms, q)


def percentile(values: Sequence[float], q: float) -> float:
    """Nearest-rank percentile (q in 0..100); nan for no values."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    rank = max(1, min(len(ordered), math.ceil(q / 100 * len(ordered))))
    return ordered[rank - 1]


def drive(
    target: str,
    url: str,
    probe: CpuProbe,
    *,
    users: int,
    warmup_s: float,
    seconds: float | None,
    sessions: int | None,
    max_seconds: float,
    statements: Callable[[], float | None] | None = None,
) -> LoadResult:
    """Closed-loop load: warm up, then measure a window bounded in time (and sessions)."""
    run_tag = f"{random.randrange(16**6):06x}"
    ctx = LoadContext(url, run_tag, phone_start=random.randrange(20_000_000))
    records = [UserRecord() for _ in range(users)]
    threads = [
        threading.Thread(
            target=user_loop,
            args=(ctx, i, records[i], 1_000_000),
            name=f"user-{i}",
            daemon=True,
        )
        for i in range(users)
    ]
    for t in threads:
        t.start()
    try:
        ctx.stop.wait(warmup_s)
        sql_before = statements() if statements else None
        machine_before = machine_cpu()
        before = probe.sample()
        t_start = time.perf_counter()
        ctx.window_start = t_start
        limit = min(max_seconds, MAX_PHASE_S)
        if sessions is None:
            ctx.stop.wait(min(seconds or 15.0, limit))
        else:
            deadline = t_start + limit
            while ctx.completed_in_window < sessions and time.perf_counter() < deadline:
                if not any(t.is_alive() for t in threads):
                    break
                time.sleep(0.02)
        t_end = time.perf_counter()
        after = probe.sample()
        machine_after = machine_cpu()
        sql_after = statements() if statements else None
    finally:
        ctx.stop.set()
        for t in threads:
            t.join(timeout=HOP_TIMEOUT_S + 5)
    window = t_end - t_start
    hops = [h for r in records for h in r.hops if t_start <= h[0] <= t_end]
    done = [x for r in records for x in r.sessions if t_start <= x[0] <= t_end]
    by_hop: dict[tuple[str, int], list[float]] = {}
    for _end, lat, flow, idx in hops:
        by_hop.setdefault((flow, idx), []).append(lat * 1000)
    n = max(1, len(hops))
    pg_ms = None
    pg_s = 0.0
    if probe.pg is not None:
        pg_s = PgCpu.delta(before.pg, after.pg)
        pg_ms = pg_s * 1000 / n
    ours = (
        (after.server_s - before.server_s)
        + pg_s
        + (after.redis_s - before.redis_s)
        + (after.client_s - before.client_s)
    )
    busy = machine_after[0] - machine_before[0]
    total = max(1e-9, machine_after[2] - machine_before[2])
    sql_per_flow = None
    if sql_before is not None and sql_after is not None and done:
        sql_per_flow = (sql_after - sql_before) / len(done)
    return LoadResult(
        target=target,
        users=users,
        window_s=window,
        hops=len(hops),
        sessions=len(done),
        latencies_ms=[h[1] * 1000 for h in hops],
        by_hop_ms=by_hop,
        errors=[e for r in records for e in r.errors],
        server_ms_per_hop=(after.server_s - before.server_s) * 1000 / n,
        pg_ms_per_hop=pg_ms,
        redis_ms_per_hop=(after.redis_s - before.redis_s) * 1000 / n,
        redis_cmds_per_hop=(after.redis_cmds - before.redis_cmds) / n,
        client_ms_per_hop=(after.client_s - before.client_s) * 1000 / n,
        sql_per_flow=sql_per_flow,
        other_share=max(0.0, busy - ours) / total,
        steal_share=(machine_after[1] - machine_before[1]) / total,
    )


# ---------------------------------------------------------------------------------- report


def _fmt(value: float | None, digits: int = 1) -> str:
    if value is None or value != value:  # None or nan
        return "-"
    return f"{value:.{digits}f}"


def _ratio(a: float | None, b: float | None) -> str:
    if a is None or b is None or b == 0 or a != a or b != b:
        return "-"
    return f"x{a / b:.2f}"


COLUMNS = (
    "target",
    "users",
    "hops",
    "sess",
    "hops/s",
    "p50 ms",
    "p95 ms",
    "p99 ms",
    "srv ms/hop",
    "pg ms/hop",
    "redis ms/hop",
    "redis cmds/hop",
    "cli ms/hop",
    "sql/flow",
    "other%",
    "errors",
)


def result_row(r: LoadResult) -> list[str]:
    return [
        r.target,
        str(r.users),
        str(r.hops),
        str(r.sessions),
        _fmt(r.hops_per_s, 0),
        _fmt(r.pct(50), 2),
        _fmt(r.pct(95), 2),
        _fmt(r.pct(99), 2),
        _fmt(r.server_ms_per_hop, 2),
        _fmt(r.pg_ms_per_hop, 2),
        _fmt(r.redis_ms_per_hop, 3),
        _fmt(r.redis_cmds_per_hop, 1),
        _fmt(r.client_ms_per_hop, 2),
        _fmt(r.sql_per_flow, 1),
        _fmt(r.other_share * 100, 0),
        str(len(r.errors)),
    ]


def ratio_row(service: LoadResult, base: LoadResult) -> list[str]:
    return [
        "service/baseline",
        "",
        "",
        "",
        _ratio(service.hops_per_s, base.hops_per_s),
        _ratio(service.pct(50), base.pct(50)),
        _ratio(service.pct(95), base.pct(95)),
        _ratio(service.pct(99), base.pct(99)),
        _ratio(service.server_ms_per_hop, base.server_ms_per_hop),
        "",
        _ratio(service.redis_ms_per_hop, base.redis_ms_per_hop),
        _ratio(service.redis_cmds_per_hop, base.redis_cmds_per_hop),
        _ratio(service.client_ms_per_hop, base.client_ms_per_hop),
        "",
        "",
        "",
    ]


def table(rows: Sequence[Sequence[str]], header: Sequence[str]) -> str:
    widths = [max(len(str(x)) for x in col) for col in zip(header, *rows, strict=True)]
    lines = ["  ".join(str(h).rjust(w) for h, w in zip(header, widths, strict=True))]
    lines.append("  ".join("-" * w for w in widths))
    for row in rows:
        lines.append("  ".join(str(c).rjust(w) for c, w in zip(row, widths, strict=True)))
    return "\n".join(lines)


def per_hop_report(r: LoadResult) -> str:
    """p50 (and count) by hop position for each flow, e.g. to spot the hop that writes."""
    out = []
    for flow in FLOWS:
        cells = []
        for idx in range(len(flow.answers) + 1):
            lat = r.by_hop_ms.get((flow.name, idx))
            if not lat:
                continue
            typed = "dial" if idx == 0 else flow.answers[idx - 1]
            cells.append(f"{idx}[{typed}] {percentile(lat, 50):.1f}")
        out.append(f"  {r.target} {flow.name:12s} p50 ms by hop: " + "  ".join(cells))
    return "\n".join(out)


# ------------------------------------------------------------------------------------ main


def last_hop_statements(base_url: str, flow: Flow, phone: str, sid: str) -> float | None:
    """SQL statements of one flow's last hop, run alone: /metrics read around that hop (a
    scrape's own look-ups, measured by two scrapes in a row, are taken off)."""
    scrapes = [scrape_statements(base_url) for _ in range(4)]
    if any(x is None for x in scrapes):
        return None
    counts = [float(x or 0) for x in scrapes]
    per_scrape = min(b - a for a, b in itertools.pairwise(counts))  # a cold worker adds more
    answers = list(flow.answers)
    text = ""
    with requests.Session() as s:
        s.trust_env = False

        def hop(t: str) -> str:
            form = {
                "sessionId": sid,
                "serviceCode": "*384*1234#",
                "phoneNumber": phone,
                "networkCode": "99999",
                "text": t,
            }
            return s.post(base_url + "/ussd", data=form, timeout=HOP_TIMEOUT_S).text

        body = hop(text)
        if MAIN_MENU_MARK in body:
            answers.pop(0)
        while len(answers) > 1:
            answer = answers.pop(0)
            text = answer if text == "" else f"{text}*{answer}"
            hop(text)
        before = scrape_statements(base_url)
        text = f"{text}*{answers.pop(0)}"
        body = hop(text)
        after = scrape_statements(base_url)
    if before is None or after is None or not body.startswith("END "):
        print(f"!! {flow.name}: the probe's last hop answered {body[:80]!r}")
        return None
    return after - before - per_scrape


def busy_warnings(r: LoadResult) -> list[str]:
    out = []
    if r.other_share > BUSY_OTHER_SHARE:
        out.append(
            f"!! busy machine during {r.target} ({r.users} users): other processes used "
            f"{r.other_share:.0%} of all cores; compare ratios of the same round only"
        )
    if r.steal_share > BUSY_STEAL_SHARE:
        out.append(f"!! the hypervisor stole {r.steal_share:.0%} of the CPU during {r.target}")
    return out


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        description=(
            "Closed-loop USSD load test: the real service vs a bare Flask+Redis baseline, "
            "both under the same server (granian or gunicorn) on 127.0.0.1, in the same run."
        ),
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    p.add_argument(
        "--users", default="16,64", help="concurrent simulated users (threads), comma-separated"
    )
    p.add_argument("--seconds", type=float, default=10.0, help="measured window per target")
    p.add_argument(
        "--sessions",
        type=int,
        default=None,
        help="instead of --seconds: measure until this many sessions completed (per target)",
    )
    p.add_argument("--max-seconds", type=float, default=120.0, help="cap on a --sessions window")
    p.add_argument("--warmup", type=float, default=2.0, help="unmeasured seconds before a window")
    p.add_argument(
        "--rounds", type=int, default=3, help="baseline+service rounds (servers stay up)"
    )
    p.add_argument("--workers", type=int, default=2, help="server workers per target")
    p.add_argument(
        "--server",
        choices=("granian", "gunicorn"),
        default="granian",
        help="the server both targets run under (granian: as in the Procfile)",
    )
    p.add_argument(
        "--targets",
        default="baseline,service",
        help="comma-separated subset of: baseline, service",
    )
    p.add_argument("--database-url", default=DEFAULT_DATABASE_URL)
    p.add_argument(
        "--redis-url", default=DEFAULT_REDIS_URL, help="a Redis db of your own: it is flushed"
    )
    p.add_argument(
        "--instance-dir",
        default=str(Path(tempfile.gettempdir()) / "ussd-bench-instance"),
        help="INSTANCE_DIR for the service (dev secrets live here)",
    )
    p.add_argument("--log-level", default="WARNING", help="LOG_LEVEL for the service")
    p.add_argument("--keep-logs", action="store_true", help="keep the server logs directory")
    args = p.parse_args(argv)
    try:
        args.user_counts = [int(u) for u in str(args.users).split(",") if u.strip()]
    except ValueError:
        p.error("--users takes numbers, e.g. 16,64")
    if not args.user_counts or any(u < 1 or u > 512 for u in args.user_counts):
        p.error("--users must be 1..512")
    if args.rounds < 1 or args.rounds > 10:
        p.error("--rounds must be 1..10")
    if not 0 < args.seconds <= MAX_PHASE_S:
        p.error(f"--seconds must be in (0, {MAX_PHASE_S:.0f}]")
    if args.sessions is not None and args.sessions < 1:
        p.error("--sessions must be positive")
    targets = [t.strip() for t in args.targets.split(",") if t.strip()]
    if not targets or any(t not in ("baseline", "service") for t in targets):
        p.error("--targets takes baseline and/or service")
    args.target_list = targets
    if redis_db_index(args.redis_url) in REFUSED_REDIS_DBS:
        p.error(f"--redis-url must not be Redis db {' or '.join(map(str, REFUSED_REDIS_DBS))}")
    return args


def summary(results: list[tuple[int, LoadResult]], user_counts: Sequence[int]) -> list[str]:
    """Median service/baseline ratios over the rounds, per user count, against the targets."""
    med = statistics.median
    out = []
    for users in user_counts:
        svc = [r for _, r in results if r.target == "service" and r.users == users]
        base = [r for _, r in results if r.target == "baseline" and r.users == users]
        if not svc or not base:
            continue
        cpu = med(r.server_ms_per_hop for r in svc) / med(r.server_ms_per_hop for r in base)
        p99 = med(r.pct(99) for r in svc) / med(r.pct(99) for r in base)
        hops = med(r.hops_per_s for r in svc) / med(r.hops_per_s for r in base)
        sql = [r.sql_per_flow for r in svc if r.sql_per_flow is not None]
        # Each round's own ratio too (service and baseline a few seconds apart): the two
        # estimates differ when the machine's speed changed between rounds.
        per_round = [
            s.server_ms_per_hop / b.server_ms_per_hop
            for s, b in zip(svc, base, strict=False)
            if b.server_ms_per_hop > 0
        ]
        rounds = ", ".join(f"x{x:.2f}" for x in per_round)
        out.append(
            f"{users:>3} users, medians of {len(svc)} round(s), service/baseline: "
            f"srv ms/hop x{cpu:.2f} (target <= 1.5; by round {rounds}, "
            f"median x{med(per_round) if per_round else float('nan'):.2f}), p99 x{p99:.2f}"
            f"{' (target <= 3)' if users >= 64 else ''}, hops/s x{hops:.2f}; "
            f"service {med(r.server_ms_per_hop for r in svc):.2f} ms/hop, "
            f"p99 {med(r.pct(99) for r in svc):.1f} ms, "
            f"{med(r.redis_cmds_per_hop for r in svc):.1f} Redis cmds/hop"
            + (f", {med(sql):.1f} SQL/flow" if sql else "")
        )
    return out


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    print(machine_header("bench_ussd", args.redis_url, args.database_url))
    mode = (
        f"{args.sessions} sessions (max {args.max_seconds:.0f}s)"
        if args.sessions
        else f"{args.seconds:.0f}s"
    )
    print(
        f"plan: users {args.user_counts}, warm-up {args.warmup:.0f}s, window {mode} per target, "
        f"{args.rounds} round(s); {args.server} x {args.workers} workers; "
        f"flows alternate registration ({len(FLOWS[0].answers) + 1} hops) / "
        f"report ({len(FLOWS[1].answers) + 1} hops)"
    )
    load1 = os.getloadavg()[0]
    if load1 > (os.cpu_count() or 1) * 0.75:
        print(f"!! the machine is busy before the run (load avg {load1:.2f}); figures are noisy")
    log_dir = Path(tempfile.mkdtemp(prefix="bench_ussd_"))
    instance_dir = Path(args.instance_dir)
    results: list[tuple[int, LoadResult]] = []
    last_hops: dict[str, float | None] = {}
    with Cleanup() as cleanup:
        if not args.keep_logs:
            cleanup.callbacks.append(lambda: shutil.rmtree(log_dir, ignore_errors=True))
        flush_bench_redis(args.redis_url)
        redis_conn = redis.Redis.from_url(args.redis_url, socket_timeout=5)
        cleanup.callbacks.append(redis_conn.close)
        servers: dict[str, tuple[Managed, str]] = {}
        pg: PgCpu | None = None
        if "service" in args.target_list:
            ensure_database(args.database_url)
            metrics_dir = log_dir / "metrics"
            metrics_dir.mkdir()
            env = service_env(
                args.database_url,
                args.redis_url,
                instance_dir,
                {
                    "LOG_LEVEL": args.log_level,
                    "METRICS_TOKEN": METRICS_TOKEN,
                    "PROMETHEUS_MULTIPROC_DIR": str(metrics_dir),
                },
            )
            print(f"-- preparing the service (database {_pg_dsn(args.database_url)[1]})")
            prepare_service_db(env)
            servers["service"] = start_server(
                args.server, "service", SERVICE_FACTORY, env, log_dir, args.workers
            )
            pg = PgCpu(args.database_url)
            cleanup.callbacks.append(pg.close)
        if "baseline" in args.target_list:
            env = dict(os.environ)
            env.update(
                {
                    "REDIS_URL": args.redis_url,
                    "BASELINE_FLOW_LENGTHS": baseline_flow_lengths(),
                }
            )
            servers["baseline"] = start_server(
                args.server, "baseline", BASELINE_FACTORY, env, log_dir, args.workers
            )
        for proc, _url in servers.values():
            cleanup.add(proc)
        for name, (proc, url) in servers.items():
            wait_ready(proc, url, args.workers)
            print(f"-- {name} up at {url} ({args.server} pid {proc.pid})")
        for users in args.user_counts:
            for rnd in range(1, args.rounds + 1):
                for name in args.target_list:
                    proc, url = servers[name]
                    probe = CpuProbe([proc.pid], redis_conn, pg if name == "service" else None)
                    print(f"-- {users} users, round {rnd}: {name} ...", flush=True)
                    result = drive(
                        name,
                        url + "/ussd",
                        probe,
                        users=users,
                        warmup_s=args.warmup,
                        seconds=args.seconds,
                        sessions=args.sessions,
                        max_seconds=args.max_seconds,
                        statements=(lambda u=url: scrape_statements(u))
                        if name == "service"
                        else None,
                    )
                    results.append((rnd, result))
                    for line in busy_warnings(result):
                        print(line)
                    if not proc.alive():
                        print(f"!! {name} died during the run:\n{proc.log_tail()}")
        if "service" in servers:
            _proc, url = servers["service"]
            for k, flow in enumerate(FLOWS):
                last_hops[flow.name] = last_hop_statements(
                    url, flow, f"+2665{random.randrange(10_000_000):07d}", f"ATUid_probe{k}"
                )
        print()
        rows = []
        for users in args.user_counts:
            for rnd in range(1, args.rounds + 1):
                current = {r.target: r for n, r in results if n == rnd and r.users == users}
                for name in args.target_list:
                    rows.append(result_row(current[name]))
                if "service" in current and "baseline" in current:
                    rows.append(ratio_row(current["service"], current["baseline"]))
        print(table(rows, COLUMNS))
        print()
        for line in summary(results, args.user_counts):
            print(line)
        for flow_name, count in last_hops.items():
            shown = "-" if count is None else f"{count:.0f}"
            print(f"SQL statements on the last hop of a {flow_name}: {shown} (target <= 5)")
        print()
        for _, r in results:
            if r.target == "service":
                print(per_hop_report(r))
        errors = [(r.target, e) for _, r in results for e in r.errors]
        if errors:
            print(f"\n{len(errors)} error(s); first ones:")
            for target, e in errors[:10]:
                print(f"  [{target}] {e}")
        print(f"\nload avg at end: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
        if args.keep_logs:
            print(f"server logs: {log_dir}")
    return 1 if errors else 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except KeyboardInterrupt:
        print("\ninterrupted; servers stopped", file=sys.stderr)
        sys.exit(130)
