"""Rate limits on what a flood costs us, in Redis through `limits` (the library under
Flask-Limiter; moving windows shared by every web process).

A limit never drops a report: callers use it to withhold what a flood would buy (an SMS reply to
each of 2,000 STATUS guesses), and every hit is counted (`limit_hits_total{limit=...}`) and
logged. Redis being down opens the limit: a report or a reply is worth more than the limit.
"""

from __future__ import annotations

import logging

import redis
from limits import RateLimitItem, parse
from limits.storage import RedisStorage
from limits.strategies import MovingWindowRateLimiter

from ussd_app import metrics

log = logging.getLogger(__name__)


class RateLimits:
    """Named limits (`{"sms_replies": "20 per hour"}`) keyed by a digest (never a number)."""

    def __init__(self, conn: redis.Redis, limits: dict[str, str]) -> None:
        storage = RedisStorage("redis://", connection_pool=conn.connection_pool)
        self._limiter = MovingWindowRateLimiter(storage)
        self._items: dict[str, RateLimitItem] = {name: parse(v) for name, v in limits.items()}

    def allow(self, name: str, key: str) -> bool:
        """Count one event for `key` under limit `name`; False once the limit is used up."""
        try:
            allowed = self._limiter.hit(self._items[name], "ussd-limit", name, key)
        except (redis.exceptions.RedisError, OSError):
            log.warning("rate limit %s not checked: Redis unavailable (allowed)", name)
            return True
        if not allowed:
            metrics.limit_hit(name)
            log.warning("rate limit %s reached by one sender (possible flood or guessing)", name)
        return bool(allowed)
