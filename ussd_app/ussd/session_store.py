"""USSD session state in Redis: per-session record with reply cache, a per-session lock, and the
per-phone resume snapshot.

Keys (all with a TTL, so nothing lingers):
- `ussd:s:<sessionId>`   the engine state, the gateway text seen last, and the reply sent for it
- `ussd:l:<sessionId>`   a short lock that serialises concurrent hops of one session
- `ussd:r:<phone hash>`  encrypted snapshot of an unfinished flow, offered on redial

The web process keeps nothing in memory between hops, so any process can serve any hop.
"""

from __future__ import annotations

import json
import secrets
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from typing import Any

import redis

from ussd_app.crypto import Cipher
from ussd_app.menu.types import SessionState

SESSION_PREFIX = "ussd:s:"
LOCK_PREFIX = "ussd:l:"
RESUME_PREFIX = "ussd:r:"
LANG_PREFIX = "ussd:g:"  # phone hash -> language code (a cache of phone_preferences)
LANG_CACHE_S = 30 * 24 * 3600
URGENT_INDEX = "ussd:urgent"  # sorted set: phone hash -> time of last hop
URGENT_PREFIX = "ussd:u:"  # phone hash -> encrypted {session, phone, state}


# Release a lock only if we still hold it (compare-and-delete).
_RELEASE_LUA = """
if redis.call('get', KEYS[1]) == ARGV[1] then
  return redis.call('del', KEYS[1])
end
return 0
"""


class SessionBusy(RuntimeError):
    """Another hop of the same session held the lock for longer than we can wait."""


@dataclass(frozen=True)
class SessionRecord:
    """What we remember about one gateway session between hops."""

    state: SessionState
    last_text: str
    reply: str
    started_at: float
    hops: int = 1

    def to_json(self) -> str:
        return json.dumps(
            {
                "state": self.state.to_dict(),
                "last_text": self.last_text,
                "reply": self.reply,
                "started_at": self.started_at,
                "hops": self.hops,
            },
            separators=(",", ":"),
        )

    @classmethod
    def from_json(cls, raw: str | bytes) -> SessionRecord:
        data: dict[str, Any] = json.loads(raw)
        return cls(
            state=SessionState.from_dict(data["state"]),
            last_text=str(data["last_text"]),
            reply=str(data["reply"]),
            started_at=float(data["started_at"]),
            hops=int(data.get("hops", 1)),
        )


class Hop:
    """One hop's view of Redis: what was read when the lock was taken, and what to write back.

    Everything is read in one round trip (lock + session + resume snapshot + cached language)
    and written in one (session + resume + language + unlock), so a hop costs two round trips.
    """

    def __init__(
        self,
        record: SessionRecord | None,
        resume_token: str | None,
        language: str | None,
    ) -> None:
        self.record = record
        self.resume_token = resume_token  # encrypted; see SessionStore.unseal_resume
        self.language = language
        self.save_record: SessionRecord | None = None
        self.resume_state: SessionState | None = None
        self.clear_resume = False
        self.remember_language: str | None = None


class SessionStore:
    """Loads and saves session records, resume snapshots and locks in Redis."""

    def __init__(
        self,
        conn: redis.Redis,
        cipher: Cipher,
        *,
        session_ttl_s: int,
        resume_window_s: int,
        lock_timeout_s: float,
    ) -> None:
        self._redis = conn
        self._cipher = cipher
        self._session_ttl = session_ttl_s
        self._resume_window = resume_window_s
        self._lock_timeout = lock_timeout_s

    @contextmanager
    def hop(self, session_id: str, phone_hash: str) -> Iterator[Hop]:
        """Lock the session and read its state; write back what the hop set, then unlock.

        If the body raises, nothing is written and the lock is released.
        """
        token = secrets.token_hex(8)
        lock_key = LOCK_PREFIX + session_id
        lock_ms = int(max(self._lock_timeout * 2, 10) * 1000)  # a crashed holder frees it
        deadline = time.monotonic() + self._lock_timeout
        while True:
            with self._redis.pipeline(transaction=False) as pipe:
                pipe.set(lock_key, token, nx=True, px=lock_ms)
                pipe.get(SESSION_PREFIX + session_id)
                pipe.get(RESUME_PREFIX + phone_hash)
                pipe.get(LANG_PREFIX + phone_hash)
                got_lock, raw_record, raw_resume, raw_lang = pipe.execute()
            if got_lock:
                break
            if time.monotonic() >= deadline:
                raise SessionBusy(f"session lock busy for {self._lock_timeout}s")
            time.sleep(0.02)
        hop = Hop(
            self._parse_record(raw_record),
            _text(raw_resume),
            _text(raw_lang),
        )
        try:
            yield hop
        except BaseException:
            self._release(lock_key, token)
            raise
        with self._redis.pipeline(transaction=False) as pipe:
            if hop.save_record is not None:
                pipe.set(
                    SESSION_PREFIX + session_id, hop.save_record.to_json(), ex=self._session_ttl
                )
            if hop.resume_state is not None:
                pipe.set(
                    RESUME_PREFIX + phone_hash,
                    self._seal(hop.resume_state),
                    ex=self._resume_window,
                )
            elif hop.clear_resume and raw_resume is not None:
                pipe.delete(RESUME_PREFIX + phone_hash)
            if hop.remember_language is not None:
                pipe.set(LANG_PREFIX + phone_hash, hop.remember_language, ex=LANG_CACHE_S)
            # EVAL, not a registered Script: in a pipeline redis-py would first ask SCRIPT EXISTS,
            # an extra round trip on every hop; the script is a few bytes.
            pipe.eval(_RELEASE_LUA, 1, lock_key, token)
            pipe.execute()

    def unseal_resume(self, token: str | None) -> SessionState | None:
        """The resume snapshot read by `hop()`, decrypted (None if absent or unreadable)."""
        if token is None:
            return None
        try:
            return SessionState.from_dict(json.loads(self._cipher.decrypt(token)))
        except (ValueError, KeyError, TypeError):
            return None

    def _seal(self, state: SessionState) -> str:
        return self._cipher.encrypt(json.dumps(state.to_dict(), separators=(",", ":")))

    def _release(self, lock_key: str, token: str) -> None:
        with suppress(redis.exceptions.RedisError):
            self._redis.eval(_RELEASE_LUA, 1, lock_key, token)

    @staticmethod
    def _parse_record(raw: Any) -> SessionRecord | None:
        if raw is None:
            return None
        try:
            return SessionRecord.from_json(raw)
        except (ValueError, KeyError, TypeError):
            return None  # unreadable (e.g. older format): start afresh rather than fail

    def mark_urgent(
        self, phone_hash: str, session_id: str, phone: str, state: SessionState
    ) -> None:
        """Remember an unfinished report with danger now + a place, so it is never just lost."""
        sealed = self._cipher.encrypt(
            json.dumps({"session": session_id, "phone": phone, "state": state.to_dict()})
        )
        with self._redis.pipeline() as pipe:
            pipe.set(URGENT_PREFIX + phone_hash, sealed, ex=24 * 3600)
            # The one clock abandonment is measured on: the Redis server's (issue 7).
            pipe.zadd(URGENT_INDEX, {phone_hash: self.server_time()})
            pipe.execute()

    def clear_urgent(self, phone_hash: str, session_id: str | None = None) -> None:
        """Drop the phone's urgent marker; with `session_id`, only if it is still that
        session's (a redial may have marked a newer one, which must stay)."""
        if session_id is not None:
            self._clear_urgent_of(phone_hash, session_id)
            return
        with self._redis.pipeline() as pipe:
            pipe.zrem(URGENT_INDEX, phone_hash)
            pipe.delete(URGENT_PREFIX + phone_hash)
            pipe.execute()

    def idle_urgent(self, older_than_s: float, now: float | None = None) -> list[str]:
        """Phone hashes whose urgent report has had no hop for `older_than_s` seconds, by the
        Redis server's clock (which stamped the hops): never by the caller's own clock, which
        may be skewed. `now` is for tests."""
        cutoff = (now if now is not None else self.server_time()) - older_than_s
        return [
            m.decode() if isinstance(m, bytes) else str(m)
            for m in self._redis.zrangebyscore(URGENT_INDEX, "-inf", cutoff)
        ]

    def load_urgent(self, phone_hash: str) -> tuple[str, str, SessionState] | None:
        """(session id, phone, state) of an unfinished urgent report, if any."""
        raw = self._redis.get(URGENT_PREFIX + phone_hash)
        if raw is None:
            return None
        try:
            token = raw.decode() if isinstance(raw, bytes) else str(raw)
            data = json.loads(self._cipher.decrypt(token))
            return str(data["session"]), str(data["phone"]), SessionState.from_dict(data["state"])
        except (ValueError, KeyError, TypeError):
            return None

    @staticmethod
    def now() -> float:
        return time.time()

    def server_time(self) -> float:
        """The Redis server's clock (TIME), shared by every process that talks to it."""
        seconds, micros = self._redis.time()
        return float(seconds) + micros / 1_000_000

    def _clear_urgent_of(self, phone_hash: str, session_id: str) -> None:
        """Compare-and-delete of the urgent marker (WATCH: retried if it changes meanwhile)."""
        key = URGENT_PREFIX + phone_hash
        with self._redis.pipeline() as pipe:
            for _ in range(5):
                try:
                    pipe.watch(key)  # type: ignore[no-untyped-call]
                    found = self.load_urgent(phone_hash)
                    if found is not None and found[0] != session_id:
                        pipe.unwatch()
                        return
                    pipe.multi()
                    pipe.zrem(URGENT_INDEX, phone_hash)
                    pipe.delete(key)
                    pipe.execute()
                    return
                except redis.exceptions.WatchError:
                    continue


def _text(raw: Any) -> str | None:
    if raw is None:
        return None
    return raw.decode() if isinstance(raw, bytes) else str(raw)
