"""Rate limits on what a flood costs us, in Redis through `limits` (the library under
Flask-Limiter; moving windows shared by every web process and worker).

A limit never drops a report: callers use it to withhold what a flood would buy (an SMS reply to
each of 2,000 STATUS guesses, one partner alert per report), and every hit is counted
(`limit_hits_total{limit=...}`) and logged, never with a number. Redis being down opens the
limit: a report or a reply is worth more than the limit.

Keys are keyed digests (`digests.RATE_LIMIT`) of a phone number, a gateway session id or a
client address, never the value itself (README "Security and privacy"). The limits are named
(`Settings.rate_limits`): `sms_replies`, `reports`, `ussd_starts`, `ussd_phone_hops`,
`ussd_session_hops`, `reference_checks`, `webhook_address`.
"""

from __future__ import annotations

import logging
import secrets

import redis
from limits import RateLimitItem, parse
from limits.storage import RedisStorage
from limits.strategies import MovingWindowRateLimiter

from ussd_app import metrics
from ussd_app.digests import RATE_LIMIT, keyed_digest

log = logging.getLogger(__name__)

# Redis key (+ the phone's digest) naming the current flood batch of a phone: a random token,
# kept for one window of the `reports` limit from the first report over it.
FLOOD_BATCH_KEY = "ussd-limit:flood-batch:"


def record_hit(name: str) -> None:
    """Count and log one event over limit `name` (never its key: it stands for a sender)."""
    metrics.limit_hit(name)
    log.warning("rate limit %s reached by one sender (possible flood or guessing)", name)


def phone_key(secret: str, e164: str) -> str:
    """The limit key of a phone number (the same for USSD and SMS)."""
    return keyed_digest(secret, RATE_LIMIT, e164)


def session_key(secret: str, session_id: str) -> str:
    """The limit key of a gateway session id."""
    return keyed_digest(secret, RATE_LIMIT, "session:" + session_id)


def address_key(secret: str, address: str) -> str:
    """The limit key of a client address (a webhook caller)."""
    return keyed_digest(secret, RATE_LIMIT, "address:" + address)


class RateLimits:
    """Named limits (`{"sms_replies": "20 per hour"}`) keyed by a digest (never a number)."""

    def __init__(self, conn: redis.Redis, limits: dict[str, str]) -> None:
        storage = RedisStorage("redis://", connection_pool=conn.connection_pool)
        self._redis = conn
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
            record_hit(name)
        return bool(allowed)

    def describe(self, name: str) -> str:
        """The limit in words, e.g. "5 per 1 hour" (for the duty desk's flood alert)."""
        return str(self._items[name])

    def window(self, name: str) -> tuple[int, int] | None:
        """(amount, seconds) of limit `name` (see `Limiter.window`)."""
        item = self._items[name]
        return int(item.amount), int(item.get_expiry())

    def flood_batch(self, key: str) -> str:
        """The token of `key`'s current flood batch: the reports one phone made over the
        `reports` limit within one window of it share it (one batch alert to the duty desk).

        A random token, not derived from the phone, so a stored batch links reports to each
        other, never to a number. Made atomically (SET NX), so two web processes storing two
        reports of one flood at the same moment agree. Redis down: a batch of its own.
        """
        token = secrets.token_hex(16)
        ttl = self._items["reports"].get_expiry()
        try:
            if self._redis.set(FLOOD_BATCH_KEY + key, token, nx=True, ex=ttl):
                return token
            current = self._redis.get(FLOOD_BATCH_KEY + key)
        except (redis.exceptions.RedisError, OSError):
            log.warning("flood batch not looked up: Redis unavailable (a batch of its own)")
            return token
        if isinstance(current, bytes):
            return current.decode()
        return token  # expired between the two calls: this report starts a new batch


class OpenLimits:
    """No limits (operator commands without Redis): everything is allowed, nothing counted."""

    def allow(self, name: str, key: str) -> bool:
        return True

    def describe(self, name: str) -> str:
        return "no limit"

    def window(self, name: str) -> tuple[int, int] | None:
        return None

    def flood_batch(self, key: str) -> str:
        return secrets.token_hex(16)
