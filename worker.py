"""RQ worker entry point (the Procfile's `worker:` process): `python worker.py [--burst]`.

Sends alerts before anything else, with the scheduler on for retry backoff. Scale by running more
of them; each job opens its own database session. See ussd_app/alerts/worker_main.py.
"""

from __future__ import annotations

import sys

from ussd_app.config import ConfigError, Settings
from ussd_app.runtime.worker_main import run_worker


def main() -> int:
    try:
        settings = Settings.from_env()
    except ConfigError as exc:
        print(f"configuration: {exc}", file=sys.stderr)
        return 2
    run_worker(settings, burst="--burst" in sys.argv[1:])
    return 0


if __name__ == "__main__":
    sys.exit(main())
