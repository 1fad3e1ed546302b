"""Run the real `ussd-app` as operating-system processes, the way an operator or a gateway meets it.

Used by the browser tests (a live server for Chromium) and by the tests that prove `serve` stops
its embedded Redis on every exit path. Everything here is plain subprocess and /proc work, so it
keeps working whatever the package layout under `ussd_app/` becomes.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Mapping
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parents[1]

# Variables that would point a child `ussd-app` at something other than what a test chose.
APP_VARIABLES = (
    "APP_ENV",
    "INSTANCE_DIR",
    "DATABASE_URL",
    "REDIS_URL",
    "SMS_BACKEND",
    "DATA_KEYS",
    "PHONE_HASH_KEY",
    "GATEWAY_TOKEN",
    "EMBEDDED_WORKER",
    "SWEEP_INTERVAL_S",
    "AT_BASE_URL",
    "AT_API_KEY",
    "SMS_LOG_PATH",
)


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def cli_command() -> list[str]:
    """The installed `ussd-app` script beside this interpreter (or `python -m ussd_app.cli`)."""
    exe = shutil.which("ussd-app", path=str(Path(sys.executable).parent))
    return [exe] if exe else [sys.executable, "-m", "ussd_app.cli"]


def clean_env(**overrides: str) -> dict[str, str]:
    """This process's environment without the app's own variables, plus `overrides`.

    Local HTTP must never go through a proxy, so 127.0.0.1 is always in NO_PROXY.
    """
    env = {k: v for k, v in os.environ.items() if k not in APP_VARIABLES}
    no_proxy = ",".join(p for p in ("127.0.0.1", "localhost", env.get("NO_PROXY", "")) if p)
    env.update(NO_PROXY=no_proxy, no_proxy=no_proxy)
    env.update(overrides)
    return env


def pid_alive(pid: int) -> bool:
    """True while `pid` is a running process (a zombie counts as gone: it runs nothing)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except (FileNotFoundError, ProcessLookupError):
        return False
    # The state follows the parenthesised command name, which may itself hold spaces.
    return stat.rsplit(")", 1)[-1].split()[0] not in ("Z", "X")


def pids_with_cwd_under(directory: Path) -> list[int]:
    """Processes whose working directory is `directory` or below it.

    The embedded redis-server daemonises and changes into its database folder, so this finds it
    by what it is doing, not by what `serve` says about it.
    """
    target = str(directory.resolve())
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            cwd = os.readlink(entry / "cwd")
        except OSError:
            continue
        if (cwd == target or cwd.startswith(target + os.sep)) and pid_alive(int(entry.name)):
            found.append(int(entry.name))
    return sorted(found)


def wait_gone(pids: list[int], timeout: float = 10.0) -> list[int]:
    """Wait until every pid has exited; returns those still running after `timeout`."""
    deadline = time.monotonic() + timeout
    alive = [p for p in pids if pid_alive(p)]
    while alive and time.monotonic() < deadline:
        time.sleep(0.05)
        alive = [p for p in alive if pid_alive(p)]
    return alive


class ServeProcess:
    """`ussd-app serve` on 127.0.0.1 in its own session, with its console captured to a file."""

    def __init__(self, env: Mapping[str, str], log_path: Path, port: int | None = None) -> None:
        self.port = port or free_port()
        self.base_url = f"http://127.0.0.1:{self.port}"
        self.env = dict(env)
        self.log_path = log_path
        self._log = log_path.open("w")
        self.proc = subprocess.Popen(
            [*cli_command(), "serve", "--host", "127.0.0.1", "--port", str(self.port)],
            cwd=str(ROOT),
            env=self.env,
            stdin=subprocess.DEVNULL,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group, like a job in a terminal
        )

    def output(self) -> str:
        """Everything `serve` printed so far (stdout and stderr)."""
        if not self._log.closed:
            self._log.flush()
        return self.log_path.read_text(errors="replace")

    def wait_healthy(self, timeout: float = 60.0) -> None:
        """Block until GET /healthz answers 200; raise with the console if it never does."""
        deadline = time.monotonic() + timeout
        last = "no answer"
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(
                    f"serve exited with {self.proc.returncode} before it was healthy:\n"
                    + self.output()
                )
            try:
                res = requests.get(self.base_url + "/healthz", timeout=2)
                if res.status_code == 200:
                    return
                last = f"HTTP {res.status_code}: {res.text[:200]}"
            except requests.RequestException as exc:
                last = type(exc).__name__
            time.sleep(0.1)
        raise RuntimeError(f"serve not healthy after {timeout:.0f} s ({last}):\n" + self.output())

    def embedded_redis_pid(self) -> int | None:
        """The redis-server pid that `serve` announced on its console, if it runs one."""
        match = re.search(r"embedded Redis \(pid (\d+)", self.output())
        return int(match.group(1)) if match else None

    def stop(self, sig: signal.Signals = signal.SIGTERM, *, group: bool = False) -> int:
        """Send `sig` (to the whole process group when `group`, as Ctrl-C in a terminal does)
        and wait for the exit code; a server that does not stop in 20 s is killed and that is
        an error."""
        if self.proc.poll() is None:
            if group:
                os.killpg(self.proc.pid, sig)
            else:
                self.proc.send_signal(sig)
        try:
            code = self.proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(timeout=10)
            raise RuntimeError("serve did not stop within 20 s:\n" + self.output()) from None
        finally:
            self._log.close()
        return code
