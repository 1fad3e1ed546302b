"""Access logs never carry the gateway token: the Procfile's real gunicorn command and
`ussd-app serve` (werkzeug), each as a real process, are called with `?token=...` and a
caller's number, and their whole console output is searched for both."""

from __future__ import annotations

import json
import os
import re
import shlex
import signal
import socket
import subprocess
import sys
import time
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


def run_until_called(command: list[str], env: dict[str, str], log_path: Path, port: int) -> str:
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
def test_gunicorn_from_the_procfile_logs_no_token(tmp_path: Path, redis_url: str) -> None:
    port = free_port()
    command = procfile_command("web").replace("0.0.0.0", "127.0.0.1")
    assert "--logger-class ussd_app.logging_setup.GunicornLogger" in command
    bin_dir = str(Path(sys.executable).parent)
    env = clean_env(
        INSTANCE_DIR=str(tmp_path / "instance"),
        DATABASE_URL=f"sqlite:///{tmp_path / 'web.db'}",
        REDIS_URL=redis_url,
        GATEWAY_TOKEN=TOKEN,
        EMBEDDED_WORKER="no",
        LOG_FORMAT="json",
        PORT=str(port),
        WEB_CONCURRENCY="1",
        PATH=bin_dir + os.pathsep + os.environ.get("PATH", ""),
    )
    subprocess.run(
        [sys.executable, "-m", "ussd_app.cli", "db", "upgrade"],
        cwd=ROOT,
        env=env,
        check=True,
        capture_output=True,
    )
    output = run_until_called(["bash", "-c", "exec " + command], env, tmp_path / "web.log", port)
    assert_nothing_leaked(output)
    access = [
        json.loads(line)
        for line in output.splitlines()
        if line.startswith("{") and '"gunicorn.access"' in line
    ]
    ussd = [a for a in access if a["path"] == "/ussd"]
    assert sorted(a["status"] for a in ussd) == [200, 403], output
    assert all("?" not in a["event"] and a["method"] == "POST" for a in ussd)
    assert any(a["path"] == "/healthz" and a["status"] == 200 for a in access)


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


def test_the_procfile_still_asks_for_an_access_log() -> None:
    """The logger class writes access lines only when gunicorn is told to keep them."""
    assert "--access-logfile -" in shlex.join(shlex.split(procfile_command("web")))
