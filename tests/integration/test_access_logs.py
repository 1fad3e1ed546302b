"""Access logs never carry the gateway token: the Procfile's real web command (granian) and
`ussd-app serve` (werkzeug), each as a real process, are called with `?token=...` and a
caller's number, and their whole console output is searched for both."""

from __future__ import annotations

import gc
import os
import re
import shlex
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest
import requests

ROOT = Path(__file__).resolve().parents[2]
# Variables of the app that the test environment may carry; the children get only ours.
APP_VARIABLES = ("APP_ENV", "INSTANCE_DIR", "DATABASE_URL", "REDIS_URL", "SMS_BACKEND")
APP_VARIABLES += ("DATA_KEYS", "PHONE_HASH_KEY", "GATEWAY_TOKEN", "GATEWAY_ALLOWED_IPS")

TOKEN = "Gw7tK2qZr9LmX4vB8nC1dF6hJ3sP0aE5yU-_oIwQeRt"  # as `ussd-app keys generate` makes them
PHONE = "+26658765432"
FORM = {
    "sessionId": "ATUid_access_log_test",
    "serviceCode": "*384*1234#",
    "phoneNumber": PHONE,
    "networkCode": "99999",
    "text": "",
}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def clean_env(**overrides: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in APP_VARIABLES}
    env.update(NO_PROXY="127.0.0.1,localhost", no_proxy="127.0.0.1,localhost", **overrides)
    return env


def run_until_called(
    command: list[str],
    env: dict[str, str],
    log_path: Path,
    port: int,
    then: Callable[[str], None] | None = None,
) -> str:
    """Start `command`, wait for /healthz, make the calls, stop it (SIGTERM to its process
    group) and return everything it printed."""
    with log_path.open("w") as log:
        proc = subprocess.Popen(
            command,
            cwd=ROOT,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        try:
            base_url = f"http://127.0.0.1:{port}"
            deadline = time.monotonic() + 60
            while True:
                assert proc.poll() is None, log_path.read_text()
                try:
                    if requests.get(base_url + "/healthz", timeout=2).status_code == 200:
                        break
                except requests.RequestException:
                    pass
                assert time.monotonic() < deadline, log_path.read_text()
                time.sleep(0.2)
            call_with_token(base_url)
            if then is not None:
                then(base_url)
        finally:
            os.killpg(proc.pid, signal.SIGTERM)
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(timeout=10)
    return log_path.read_text(errors="replace")


def procfile_command(process: str) -> str:
    """The command the Procfile gives `process`, as an operator's platform would run it."""
    for line in (ROOT / "Procfile").read_text().splitlines():
        name, _, command = line.partition(":")
        if name.strip() == process:
            return command.strip()
    raise AssertionError(f"no {process}: line in the Procfile")


def call_with_token(base_url: str) -> None:
    """What the gateway and an attacker do: good token, wrong token, a health probe."""
    res = requests.post(f"{base_url}/ussd?token={TOKEN}", data=FORM, timeout=10)
    assert res.status_code == 200 and res.text.startswith("CON "), res.text
    bad = requests.post(f"{base_url}/ussd?token=wrong-{TOKEN[:5]}", data=FORM, timeout=10)
    assert bad.status_code == 403
    assert requests.get(f"{base_url}/healthz?token={TOKEN}", timeout=10).status_code == 200


def assert_nothing_leaked(output: str) -> None:
    assert TOKEN not in output
    assert TOKEN[:12] not in output and "wrong-" not in output  # no part of any query string
    assert PHONE[-8:] not in output
    # The last four digits on their own (a mask of old), not inside a timestamp or a port.
    assert not re.search(rf"(?<![\d:]){PHONE[-4:]}(?!\d)", output)


@pytest.mark.slow
def test_granian_from_the_procfile_logs_no_token_and_counts_every_worker(
    tmp_path: Path, redis_url: str
) -> None:
    """The Procfile's web process (granian, 2 workers, no access log): nothing leaks to its
    output, and /metrics adds up the requests of both workers whichever one answers."""
    port = free_port()
    command = procfile_command("web")
    assert command == "python -m ussd_app.web.server"
    bin_dir = str(Path(sys.executable).parent)
    metrics_dir = tmp_path / "metrics"
    metrics_dir.mkdir()
    (metrics_dir / "counter_999999.db").write_bytes(b"stale")  # a previous run's file
    env = clean_env(
        INSTANCE_DIR=str(tmp_path / "instance"),
        DATABASE_URL=f"sqlite:///{tmp_path / 'web.db'}",
        REDIS_URL=redis_url,
        GATEWAY_TOKEN=TOKEN,
        METRICS_TOKEN="metrics-" + TOKEN[:8],
        PROMETHEUS_MULTIPROC_DIR=str(metrics_dir),
        EMBEDDED_WORKER="no",
        LOG_FORMAT="json",
        HOST="127.0.0.1",
        PORT=str(port),
        WEB_CONCURRENCY="2",
        PATH=bin_dir + os.pathsep + os.environ.get("PATH", ""),
    )
    subprocess.run(
        [sys.executable, "-m", "ussd_app.cli", "db", "upgrade"],
        cwd=ROOT,
        env=env,
        check=True,
        capture_output=True,
    )
    scraped: list[str] = []

    def more_calls(base_url: str) -> None:
        for _ in range(9):  # 10 good /ussd posts in all, spread over the two workers
            with requests.Session() as s:  # a new connection each: any worker may take it
                res = s.post(f"{base_url}/ussd?token={TOKEN}", data=FORM, timeout=10)
                assert res.status_code == 200
        headers = {"Authorization": "Bearer metrics-" + TOKEN[:8]}
        for _ in range(4):
            with requests.Session() as s:
                scraped.append(s.get(f"{base_url}/metrics", headers=headers, timeout=10).text)

    output = run_until_called(
        ["bash", "-c", "exec " + command], env, tmp_path / "web.log", port, more_calls
    )
    assert_nothing_leaked(output)
    assert "/ussd" not in output  # no access log line
    pattern = r'http_requests_total\{route="/ussd",status="2xx"\} (\S+)'
    for body in scraped:  # every scrape, whichever worker: the sum over both
        counts = [float(v) for v in re.findall(pattern, body)]
        assert sum(counts) == 10.0, body
    assert not (metrics_dir / "counter_999999.db").exists()


@pytest.mark.slow
def test_serve_logs_no_token(tmp_path: Path) -> None:
    env = clean_env(
        INSTANCE_DIR=str(tmp_path / "instance"), GATEWAY_TOKEN=TOKEN, EMBEDDED_WORKER="no"
    )
    port = free_port()
    command = [sys.executable, "-m", "ussd_app.cli", "serve", "--port", str(port)]
    output = run_until_called(command, env, tmp_path / "serve.log", port)
    assert_nothing_leaked(output)
    assert '"POST /ussd HTTP/1.1" 200' in output, output
    assert '"POST /ussd HTTP/1.1" 403' in output
    assert '"GET /healthz HTTP/1.1" 200' in output


def test_the_procfile_server_has_no_access_log_and_two_workers() -> None:
    """Request counts and latencies are in /metrics; the hot path writes no access line."""
    from ussd_app.web.server import granian_command

    cmd = granian_command({"PORT": "8000"})
    assert "--no-access-log" in cmd
    assert cmd[cmd.index("--workers") + 1] == "2"
    assert cmd[cmd.index("--blocking-threads") + 1] == "1"
    assert shlex.split(procfile_command("web")) == ["python", "-m", "ussd_app.web.server"]
    assert cmd[-1] == "ussd_app.web.server:serve_app"


def test_a_server_worker_freezes_its_start_up_objects_out_of_the_collector(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """serve_app (granian's factory) builds the app, then gc.freeze()s what start-up made."""
    from ussd_app.web import server

    monkeypatch.setattr("ussd_app.create_app", lambda: "the app")
    before = gc.get_freeze_count()
    try:
        assert server.serve_app() == "the app"
        assert gc.get_freeze_count() > before
    finally:
        gc.unfreeze()
