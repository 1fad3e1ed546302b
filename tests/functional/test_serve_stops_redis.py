"""`ussd-app serve` on embedded defaults stops its redis-server on every exit path (issue 7, "No
orphans"): SIGTERM from a supervisor, Ctrl-C in a terminal, and a start-up that fails. Checked by
pid, found independently of what serve says: the daemonised redis-server's working directory is
its database folder inside the instance folder."""

from __future__ import annotations

import re
import signal
import socket
import subprocess
from pathlib import Path

import pytest
import requests

from tests.serve_process import (
    ROOT,
    ServeProcess,
    clean_env,
    cli_command,
    pid_alive,
    pids_with_cwd_under,
    wait_gone,
)

pytestmark = pytest.mark.slow


def _serve(tmp_path: Path, port: int | None = None) -> ServeProcess:
    env = clean_env(INSTANCE_DIR=str(tmp_path / "instance"), SWEEP_INTERVAL_S="60")
    return ServeProcess(env, tmp_path / "serve.log", port=port)


def _redis_pid(serve: ServeProcess, instance: Path) -> int:
    found = pids_with_cwd_under(instance / "redis")
    assert len(found) == 1, (found, serve.output())
    assert serve.embedded_redis_pid() == found[0], serve.output()
    return found[0]


@pytest.mark.parametrize(
    ("sig", "group"),
    [
        pytest.param(signal.SIGTERM, False, id="SIGTERM-to-serve"),
        pytest.param(signal.SIGINT, True, id="Ctrl-C-to-the-terminal's-process-group"),
    ],
)
def test_a_stopped_serve_leaves_no_redis_server(
    tmp_path: Path, sig: signal.Signals, group: bool
) -> None:
    instance = tmp_path / "instance"
    serve = _serve(tmp_path)
    try:
        serve.wait_healthy()
        redis_pid = _redis_pid(serve, instance)
        # An operator command beside serve shares its Redis and must leave it running.
        sweep = subprocess.run(
            [*cli_command(), "alerts", "sweep"],
            cwd=str(ROOT),
            env=serve.env,
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert sweep.returncode == 0, sweep.stdout + sweep.stderr
        assert pid_alive(redis_pid)
        assert requests.get(serve.base_url + "/healthz", timeout=5).status_code == 200
    finally:
        code = serve.stop(sig, group=group)
    out = serve.output()
    assert code == 0, out
    assert not pid_alive(redis_pid), out  # gone before serve exited, not eventually
    assert pids_with_cwd_under(instance) == []
    reason = "Ctrl-C" if sig == signal.SIGINT else "SIGTERM"
    assert f"stopping ({reason})" in out
    assert f"embedded Redis stopped (pid {redis_pid})" in out


def test_a_serve_that_cannot_start_stops_the_redis_it_started(tmp_path: Path) -> None:
    instance = tmp_path / "instance"
    with socket.socket() as busy:  # the port is taken: make_server fails after Redis started
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        serve = _serve(tmp_path, port=busy.getsockname()[1])
        code = serve.proc.wait(timeout=60)
    serve.stop()
    out = serve.output()
    assert code != 0, out
    assert "Address already in use" in out
    started = re.search(r"embedded Redis started \(pid (\d+)\)", out)
    assert started, out
    redis_pid = int(started.group(1))
    assert not pid_alive(redis_pid), out
    assert f"embedded Redis stopped (pid {redis_pid})" in out
    assert wait_gone(pids_with_cwd_under(instance), timeout=1) == []
