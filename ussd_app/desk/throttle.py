"""Sign-in throttling that slows an attacker without letting anyone lock a colleague out.

Three layers, all in Redis through `limits` (the library under Flask-Limiter; used directly so
the per-account key can come from the form and only failures count):

- per address: every sign-in POST from one client address counts (`DESK_ADDRESS_LIMIT`);
- per account: failed attempts against one account count (`DESK_ACCOUNT_LIMIT`), and from the
  third failure on each attempt waits a growing delay (1, 2, 4 ... seconds, capped at
  `DESK_SIGNIN_MAX_DELAY_S`);
- a browser that has signed in to an account before carries a "known device" cookie
  (a random token; Redis keeps its digest for 90 days). For that account it is exempt from the
  address and account limits and the delay, and has its own account-sized limit instead. So an
  attacker hammering a colleague's username from elsewhere slows only themselves; the colleague
  signs in from their usual browser as normal (OWASP's device-cookie scheme).

Limits are moving windows, so nobody is blocked for longer than the window (15 minutes by
default).
"""

from __future__ import annotations

import hashlib
import math
import secrets
import time
from dataclasses import dataclass

import redis
from limits import RateLimitItem, parse
from limits.storage import RedisStorage
from limits.strategies import MovingWindowRateLimiter

DEVICE_COOKIE = "desk_device"
DEVICE_TTL_S = 90 * 24 * 3600
FAILURES_KEY = "desk:signin-failures:"
DEVICES_KEY = "desk:devices:"
FAILURE_MEMORY_S = 15 * 60


def _h(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()


@dataclass(frozen=True)
class Attempt:
    """Who is trying: the client address, the account (if known) and whether this browser is a
    known device of that account."""

    address: str
    user_id: int | None
    device_token: str | None
    trusted: bool


class SignInThrottle:
    """The throttle of one app; built by `ussd_app.desk.init_desk` on the app's Redis."""

    def __init__(
        self,
        conn: redis.Redis,
        *,
        address_limit: str,
        account_limit: str,
        max_delay_s: float,
    ) -> None:
        self.redis = conn
        storage = RedisStorage("redis://", connection_pool=conn.connection_pool)
        self._limiter = MovingWindowRateLimiter(storage)
        self.address_limit: RateLimitItem = parse(address_limit)
        self.account_limit: RateLimitItem = parse(account_limit)
        self.max_delay_s = max_delay_s

    # Known devices -------------------------------------------------------------------------

    def attempt(self, address: str, user_id: int | None, device_token: str | None) -> Attempt:
        trusted = bool(
            user_id is not None
            and device_token
            and len(device_token) < 100
            and self.redis.sismember(f"{DEVICES_KEY}{user_id}", _h(device_token))
        )
        return Attempt(address, user_id, device_token, trusted)

    def remember_device(self, user_id: int, device_token: str | None) -> str:
        """After a full sign-in: keep (or issue) this browser's device token; returns it."""
        token = device_token if device_token and len(device_token) < 100 else None
        token = token or secrets.token_urlsafe(32)
        key = f"{DEVICES_KEY}{user_id}"
        pipe = self.redis.pipeline()
        pipe.sadd(key, _h(token))
        pipe.expire(key, DEVICE_TTL_S)
        pipe.execute()
        return token

    def forget_devices(self, user_id: int) -> None:
        """Forget every known device of the account (disabled, 2FA reset)."""
        self.redis.delete(f"{DEVICES_KEY}{user_id}")

    # Limits --------------------------------------------------------------------------------

    def _account_ids(self, a: Attempt) -> tuple[str, ...] | None:
        if a.trusted and a.device_token:
            return ("desk-device", _h(a.device_token))
        if a.user_id is not None:
            return ("desk-account", str(a.user_id))
        return None

    def _wait(self, item: RateLimitItem, *ids: str) -> int:
        stats = self._limiter.get_window_stats(item, *ids)
        return max(1, math.ceil(stats.reset_time - time.time()))

    def retry_after(self, a: Attempt) -> int | None:
        """Seconds to wait before this attempt may be made, or None if it may go ahead."""
        addr_ids = ("desk-address", _h(a.address))
        if not a.trusted and not self._limiter.test(self.address_limit, *addr_ids):
            return self._wait(self.address_limit, *addr_ids)
        account_ids = self._account_ids(a)
        if account_ids and not self._limiter.test(self.account_limit, *account_ids):
            return self._wait(self.account_limit, *account_ids)
        return None

    def count_attempt(self, a: Attempt) -> None:
        """Count a POST against the address (trusted devices are not counted there)."""
        if not a.trusted:
            self._limiter.hit(self.address_limit, "desk-address", _h(a.address))

    def delay_s(self, a: Attempt) -> float:
        """The growing delay this attempt waits before its password or code is checked."""
        if a.trusted or a.user_id is None or self.max_delay_s <= 0:
            return 0.0
        failures = int(self.redis.get(f"{FAILURES_KEY}{a.user_id}") or 0)
        if failures < 3:
            return 0.0
        return float(min(2 ** (failures - 3), self.max_delay_s))

    def wait_delay(self, a: Attempt) -> None:
        delay = self.delay_s(a)
        if delay > 0:
            time.sleep(delay)

    def failed(self, a: Attempt) -> None:
        """A wrong password or code: counts against the account (or the known device)."""
        account_ids = self._account_ids(a)
        if account_ids:
            self._limiter.hit(self.account_limit, *account_ids)
        if a.user_id is not None and not a.trusted:
            key = f"{FAILURES_KEY}{a.user_id}"
            pipe = self.redis.pipeline()
            pipe.incr(key)
            pipe.expire(key, FAILURE_MEMORY_S)
            pipe.execute()

    def succeeded(self, a: Attempt) -> None:
        """A full sign-in: the account's failure memory starts again."""
        if a.user_id is not None:
            self.redis.delete(f"{FAILURES_KEY}{a.user_id}")
            self._limiter.clear(self.account_limit, "desk-account", str(a.user_id))
