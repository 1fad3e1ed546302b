"""Held Redis writes (write-behind, `ussd_app.redis_wire`) for tests that look into Redis."""

from __future__ import annotations

from ussd_app import redis_wire


def flush_held_writes() -> None:
    """Send what every app in this process still holds, so Redis shows what the hops wrote
    (in production the flusher does so within HOP_WRITE_BEHIND_MS)."""
    for wire in list(redis_wire._LIVE):
        wire.flush_quietly()
