"""Keyed digests, one key per purpose, so that no two stored values can be joined.

Every identifier the service must find again but never read back (a gateway session id, a
report's idempotency key, the names of Redis keys about a phone, a reporter's abuse-control tag)
is stored as an HMAC-SHA256 under a key derived from PHONE_HASH_KEY and a purpose label. Each
purpose has its own key, so a value stored for one purpose never equals the one stored for
another, nor the phone hash itself: a session-events row, a report and a Redis key cannot be
matched to each other, or to a registration, without PHONE_HASH_KEY (README "Security and
privacy").
"""

from __future__ import annotations

import datetime as dt
import functools
import hashlib
import hmac

# Purposes. Changing a label changes every digest made for it (stored values stop matching).
REPORT_KEY = "report idempotency key v1"
SESSION_EVENT = "ussd session event id v1"
REDIS_SLOT = "redis key name v1"
LANGUAGE = "language preference v1"  # of the phone hash
ABUSE_TAG = "reporter abuse tag v1"  # + the day: the tag rotates every day (UTC)
RATE_LIMIT = "rate limit key v1"  # of the number, for the moving windows in Redis (ttl: window)


@functools.lru_cache(maxsize=64)
def purpose_key(secret: str, purpose: str) -> bytes:
    """The key for one purpose: HMAC(PHONE_HASH_KEY, purpose)."""
    if not secret:
        raise ValueError("PHONE_HASH_KEY is empty")
    return hmac.new(secret.encode(), purpose.encode(), hashlib.sha256).digest()


def keyed_digest(secret: str, purpose: str, value: str) -> str:
    """HMAC-SHA256 (hex, 64 characters) of `value` under the key for `purpose`."""
    return hmac.new(purpose_key(secret, purpose), value.encode(), hashlib.sha256).hexdigest()


def abuse_tag(secret: str, e164: str, day: dt.date) -> str:
    """A reporter's tag for `day`: equal for two reports from one number on one day, unrelated
    from one day to the next and to every other stored digest (so it cannot be followed)."""
    return keyed_digest(secret, f"{ABUSE_TAG} {day.isoformat()}", e164)
