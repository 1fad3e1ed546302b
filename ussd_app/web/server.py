"""The production web server (Procfile `web`): granian, a Rust HTTP server, serving the WSGI app.

Measured on this service (README "Performance"), granian costs less CPU per hop than gunicorn's
sync workers and keeps the p99 down at 64 concurrent sessions. Defaults: 2 worker processes
(WEB_CONCURRENCY), 1 blocking thread each (a hop is short and holds a database connection; one
thread per process is the cheapest), bound to 0.0.0.0:$PORT, no access log (it cost a tenth of a
millisecond per hop and held the phone's digits to mask): request counts and latencies by route
are in `/metrics` instead (`http_requests_total`, `http_request_duration_seconds`).

With several worker processes, prometheus-client counts in files: this launcher sets
PROMETHEUS_MULTIPROC_DIR (default: a folder under the system's temporary directory), creates it,
and empties it of the previous run's files before the workers start, so `/metrics` adds up every
worker of THIS run, whichever worker answers the scrape.

Each worker builds the app with `serve_app`, which then freezes what start-up allocated out of
the cyclic garbage collector (`gc.freeze`): the menus, the ORM's mappings and the libraries are
some 185,000 objects that live as long as the process, and every full collection walked them all
(about 130 ms once every few thousand hops on this machine, 40 microseconds a hop on average,
and a pause in the p99). Objects made while serving are collected as before.
"""

from __future__ import annotations

import gc
import os
import shutil
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from flask import Flask

MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"
DEFAULT_WORKERS = 2
BLOCKING_THREADS = 1


def prepare_multiproc_dir(environ: dict[str, str] | os._Environ[str] = os.environ) -> Path:
    """Create the metrics folder (setting the variable if unset) and drop stale value files."""
    folder = Path(environ.get(MULTIPROC_ENV) or Path(tempfile.gettempdir()) / "ussd-app-metrics")
    folder.mkdir(parents=True, exist_ok=True)
    for stale in folder.glob("*.db"):  # prometheus-client's value files, nothing else
        stale.unlink(missing_ok=True)
    environ[MULTIPROC_ENV] = str(folder)
    return folder


def granian_command(
    environ: dict[str, str] | os._Environ[str] = os.environ, extra: Sequence[str] = ()
) -> list[str]:
    """The granian command line for the app factory, from WEB_CONCURRENCY, HOST and PORT."""
    binary = shutil.which("granian", path=os.path.dirname(sys.executable)) or "granian"
    return [
        binary,
        "--interface",
        "wsgi",
        "--factory",
        "--workers",
        str(int(environ.get("WEB_CONCURRENCY") or DEFAULT_WORKERS)),
        "--blocking-threads",
        str(BLOCKING_THREADS),
        "--host",
        environ.get("HOST") or "0.0.0.0",  # noqa: S104  (a platform's web process listens on all)
        "--port",
        str(int(environ.get("PORT") or 8000)),
        "--no-access-log",
        "--respawn-failed-workers",
        *extra,
        "ussd_app.web.server:serve_app",
    ]


def serve_app() -> Flask:
    """The app as a server worker runs it (granian's factory): built, then its start-up objects
    frozen out of the garbage collector's full collections (see the module docstring)."""
    from ussd_app import create_app

    app = create_app()
    gc.freeze()
    return app


def main(argv: Sequence[str] | None = None) -> None:
    """Prepare the metrics folder, then become granian (exec: signals go straight to it)."""
    prepare_multiproc_dir()
    cmd = granian_command(extra=list(sys.argv[1:] if argv is None else argv))
    os.execvp(cmd[0], cmd)  # noqa: S606  (fixed arguments, no shell)


if __name__ == "__main__":
    main()
