"""The first-run experience, as a person meets it: `ussd-app serve` with nothing configured
(SQLite file, embedded Redis, in-process worker, SMS on the console), and a report made with
`ussd-app simulate` shows its alerts in the serve terminal."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests

ROOT = Path(__file__).resolve().parents[2]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _cli() -> list[str]:
    exe = shutil.which("ussd-app", path=str(Path(sys.executable).parent))
    return [exe] if exe else [sys.executable, "-m", "ussd_app.cli"]


@pytest.mark.slow
def test_serve_on_embedded_defaults_then_a_simulated_report_alerts_on_the_console(
    tmp_path: Path,
) -> None:
    port = _free_port()
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in ("DATABASE_URL", "REDIS_URL", "SMS_BACKEND", "APP_ENV", "DATA_KEYS")
    }
    env.update(INSTANCE_DIR=str(tmp_path / "instance"), SWEEP_INTERVAL_S="2", NO_PROXY="127.0.0.1")
    log = (tmp_path / "serve.log").open("w")
    serve = subprocess.Popen(
        [*_cli(), "serve", "--port", str(port)],
        cwd=str(ROOT),
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        base = f"http://127.0.0.1:{port}"
        for _ in range(150):
            try:
                if requests.get(base + "/healthz", timeout=1).status_code == 200:
                    break
            except requests.ConnectionError:
                time.sleep(0.2)
        else:
            pytest.fail("serve did not come up: " + (tmp_path / "serve.log").read_text())
        first = requests.post(
            base + "/ussd",
            data={
                "sessionId": "ATUid_first",
                "serviceCode": "*384*1234#",
                "phoneNumber": "+26658000009",
                "networkCode": "99999",
                "text": "",
            },
            timeout=10,
        )
        assert first.status_code == 200 and first.text.startswith("CON ")
        assert "English" in first.text
        # English, report, danger yes, child yes, flags 1 and 8, Maputsoe Bridge, now, 2-5,
        # skip vehicle, no call-back.
        answers = "2\n2\n1\n1\n18\n2\n1\n2\n1\n1\n"
        sim = subprocess.run(
            [*_cli(), "simulate", "--url", base + "/ussd", "--phone", "+26658000010"],
            input=answers,
            capture_output=True,
            text=True,
            env=env,
            timeout=60,
        )
        assert sim.returncode == 0, sim.stdout + sim.stderr
        assert "Do not confront anyone" in sim.stdout
        assert "notification (Success) posted: HTTP 200" in sim.stdout
        for _ in range(100):
            if (tmp_path / "serve.log").read_text().count("[SMS to") >= 5:
                break
            time.sleep(0.2)
        out = (tmp_path / "serve.log").read_text()
        assert "loaded partners.example.yaml" in out
        alerts = [line for line in out.splitlines() if line.startswith("[SMS to")]
        assert len(alerts) == 5, out
        assert all("P1 ALERT" in line for line in alerts)
        assert "+26658000010" not in out  # never the reporter's number, even locally
        assert (tmp_path / "instance" / "ussd_app.db").exists()
    finally:
        os.killpg(serve.pid, signal.SIGINT)
        try:
            serve.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(serve.pid, signal.SIGKILL)
        log.close()
