"""USSD session state in Redis: per-session record with reply cache, a per-session lock, and the
per-phone resume snapshot.

Keys (every one with a TTL, so nothing lingers). `<slot>` is never the session id or the phone
hash stored in the database but a keyed digest of it under its own purpose
(`ussd_app.digests.REDIS_SLOT`), so a Redis dump cannot be matched to a gateway's session log,
a report or a registration without PHONE_HASH_KEY:
- `ussd:s:<slot of session>`  sealed (AES-256-GCM, `crypto.Sealer`) engine state with the
  answers, the gateway text seen last and the reply sent for it
- `ussd:l:<slot of session>`  a short lock that serialises concurrent hops of one session
- `ussd:r:<slot of phone>`    sealed snapshot of an unfinished flow, offered on redial
- `ussd:g:<slot of phone>`    the phone's language code (a cache of phone_preferences)
- `ussd:u:<slot of phone>`    sealed unfinished urgent report; `ussd:urgent` indexes them by
  the time of their last hop (its members are slots too; the index expires with its last entry)

No value holds an answer, a text or a number in clear. The web process keeps nothing in memory
between hops, so any process can serve any hop.
"""

from __future__ import annotations

import json
import secrets
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from typing import Any

import redis

from ussd_app import digests, metrics, redis_wire
from ussd_app.crypto import Cipher
from ussd_app.menu.types import SessionState
from ussd_app.retention_policy import PHONE_PREFERENCE

SESSION_PREFIX = "ussd:s:"
LOCK_PREFIX = "ussd:l:"
RESUME_PREFIX = "ussd:r:"
LANG_PREFIX = "ussd:g:"  # phone slot -> language code (what the hop reads; see preferences.py)
# As long as the database copy is kept (retention_policy.PHONE_PREFERENCE): the hop reads the
# language only from here, never from the database.
LANG_CACHE_S = int(PHONE_PREFERENCE.total_seconds())
# Language choices waiting to be written to the database (list of "<preference key> <lang>"),
# pushed by the hop's write-back script and drained by the maintenance pass
# (`preferences.flush_pending`): the database copy is written off the caller's path.
LANG_PENDING = "ussd:gq"
LANG_PENDING_MAX = 100_000  # if nothing drains it, the oldest choices go first
LANG_PENDING_TTL_S = 7 * 24 * 3600  # every key expires; the Redis language key has the choice
URGENT_INDEX = "ussd:urgent"  # sorted set: phone slot -> time of last hop
URGENT_PREFIX = "ussd:u:"  # phone slot -> sealed {session, phone, state}
URGENT_TTL_S = 24 * 3600
# idle_urgent() returns slots marked with this prefix: a phone hash is hex, so never starts so.
_SLOT_MARK = "#"


# Release a lock only if we still hold it (compare-and-delete).
_RELEASE_LUA = """
if redis.call('get', KEYS[1]) == ARGV[1] then
  return redis.call('del', KEYS[1])
end
return 0
"""

# One command to start a hop: take the lock (SET NX PX) and, if taken, read the session record,
# the resume snapshot and the language, and count the hop under its limits (below). KEYS: lock,
# session, resume, language, then one counter key per limit; ARGV: token, ms, then per limit
# its amount, its window in seconds and "1" if it counts only a session's first hop.
#
# The limits are sliding-window counters (two fixed windows, the previous one weighted by how
# much of it still overlaps): O(1) per limit and exact enough for a flood guard. A hop over a
# limit is not counted in it (as `limits`' moving window does); the script answers which limits
# said no (1-based positions). The counters' own keys (`<key>:<window number>`) are derived here
# from the Redis clock, so they are not declared in KEYS: fine on a single Redis, not on Cluster.
_LOCK_LOAD_LUA = """
if not redis.call('set', KEYS[1], ARGV[1], 'NX', 'PX', ARGV[2]) then
  return {0}
end
local record = redis.call('get', KEYS[2])
local over = {}
if #KEYS > 4 then
  local t = redis.call('time')
  local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
  for i = 5, #KEYS do
    local a = 3 + (i - 5) * 3
    local amount, win = tonumber(ARGV[a]), tonumber(ARGV[a + 1])
    if ARGV[a + 2] == '0' or not record then
      local n = math.floor(now / win)
      local ck, pk = KEYS[i] .. ':' .. n, KEYS[i] .. ':' .. (n - 1)
      local used = tonumber(redis.call('get', ck) or '0')
      local before = tonumber(redis.call('get', pk) or '0')
      if before * (1 - (now - n * win) / win) + used < amount then
        redis.call('incr', ck)
        redis.call('expire', ck, win * 2)
      else
        over[#over + 1] = i - 4
      end
    end
  end
end
return {1, record, redis.call('get', KEYS[3]), redis.call('get', KEYS[4]), over}
"""
_LOCK_LOAD = redis_wire.Script(_LOCK_LOAD_LUA)

# One command to end a hop: write what it set and release the lock if still ours.
# KEYS: session, resume, language, lock, pending languages. ARGV: token, record, record ttl,
# resume op ("set" / "del" / ""), resume value, resume ttl, language ("" = unchanged), language
# ttl, pending entry for the database ("" = none), queue length cap, queue ttl.
_SAVE_UNLOCK_LUA = """
if ARGV[2] ~= '' then redis.call('set', KEYS[1], ARGV[2], 'EX', ARGV[3]) end
if ARGV[4] == 'set' then
  redis.call('set', KEYS[2], ARGV[5], 'EX', ARGV[6])
elseif ARGV[4] == 'del' then
  redis.call('del', KEYS[2])
end
if ARGV[7] ~= '' then redis.call('set', KEYS[3], ARGV[7], 'EX', ARGV[8]) end
if ARGV[9] ~= '' then
  redis.call('rpush', KEYS[5], ARGV[9])
  redis.call('ltrim', KEYS[5], -tonumber(ARGV[10]), -1)
  redis.call('expire', KEYS[5], ARGV[11])
end
if redis.call('get', KEYS[4]) == ARGV[1] then redis.call('del', KEYS[4]) end
return 1
"""
_SAVE_UNLOCK = redis_wire.Script(_SAVE_UNLOCK_LUA)


@dataclass(frozen=True)
class HopWindow:
    """A limit the hop counts inside its lock-and-load script (see `ussd_app.ussd.limits`)."""

    name: str  # the limit's name, as in `limit_hits_total{limit=...}`
    key: str  # a keyed digest, never a number or a session id
    amount: int
    seconds: int
    first_hop_only: bool = False  # counts only a session's first hop (a session start)


WINDOW_PREFIX = "ussd-limit:w:"  # + limit name + ":" + key + ":" + window number


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

    Everything is read with ONE command (EVALSHA of a Lua script: lock + session + resume
    snapshot + language + the hop's limit counters) and written with one (EVALSHA: session +
    resume + language + unlock). The write is held (write-behind, `redis_wire.WriteBehind`)
    and goes out with the next command the process sends, so an ordinary hop costs one round
    trip where a hand-written GET + SET hop costs two.
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
        self.over: tuple[str, ...] = ()  # names of the limits this hop was over
        self.save_record: SessionRecord | None = None
        self.resume_state: SessionState | None = None
        self.clear_resume = False
        self.remember_language: str | None = None
        # "<preference key> <lang>" to queue for the database copy (preferences.flush_pending).
        self.pending_language: str | None = None


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
        slot_secret: str = "",
        wire: redis_wire.WriteBehind | None = None,
    ) -> None:
        self._redis = conn
        # The hop's own commands: lock + load now, save + unlock write-behind (one round trip
        # per ordinary hop; see redis_wire). Built by hand without one, every write goes at once.
        self._wire = wire if wire is not None else redis_wire.WriteBehind(conn)
        self._cipher = cipher
        self._sealer = cipher.sealer()  # AES-GCM for what is sealed on every hop
        # Without PHONE_HASH_KEY (a store built by hand), slots are keyed per process.
        self._slot_secret = slot_secret or secrets.token_urlsafe(32)
        self._session_ttl = session_ttl_s
        self._resume_window = resume_window_s
        self._lock_timeout = lock_timeout_s

    @contextmanager
    def hop(
        self, session_id: str, phone_hash: str, windows: Sequence[HopWindow] = ()
    ) -> Iterator[Hop]:
        """Lock the session, read its state and count the hop under `windows`; write back what
        the hop set, then unlock. `Hop.over` names the windows the hop was over.

        If the body raises, nothing is written and the lock is released.
        """
        token = secrets.token_hex(8)
        session_slot = self._slot(session_id)
        session_key = SESSION_PREFIX + session_slot
        lock_key = LOCK_PREFIX + session_slot
        phone_slot = self._slot(phone_hash)
        lock_ms = int(max(self._lock_timeout * 2, 10) * 1000)  # a crashed holder frees it
        deadline = time.monotonic() + self._lock_timeout
        keys = [lock_key, session_key, RESUME_PREFIX + phone_slot, LANG_PREFIX + phone_slot]
        args: list[str | int] = [token, lock_ms]
        for window in windows:
            keys.append(f"{WINDOW_PREFIX}{window.name}:{window.key}")
            args += [window.amount, window.seconds, "1" if window.first_hop_only else "0"]
        while True:
            got = self._lock_and_load(keys, args)
            if int(got[0]) == 1:
                _got, raw_record, raw_resume, raw_lang, over = got
                break
            if time.monotonic() >= deadline:
                metrics.HOP_ERRORS.labels(screen="_busy").inc()
                raise SessionBusy(f"session lock busy for {self._lock_timeout}s")
            time.sleep(0.02)
        hop = Hop(
            self._parse_record(raw_record),
            _text(raw_resume),
            _text(raw_lang),
        )
        hop.over = tuple(windows[int(i) - 1].name for i in over)
        try:
            yield hop
        except BaseException:
            self._release(lock_key, token)
            # The screen the caller was on when the hop failed (a screen id, never an answer).
            metrics.HOP_ERRORS.labels(screen=_screen_of(hop.record, "_new")).inc()
            raise
        record = "" if hop.save_record is None else self._sealer.seal(hop.save_record.to_json())
        resume_op, resume_value = "", ""
        if hop.resume_state is not None:
            resume_op, resume_value = "set", self._seal(hop.resume_state)
        elif hop.clear_resume and raw_resume is not None:
            resume_op = "del"
        self._wire.defer_script(
            _SAVE_UNLOCK,
            (
                session_key,
                RESUME_PREFIX + phone_slot,
                LANG_PREFIX + phone_slot,
                lock_key,
                LANG_PENDING,
            ),
            (
                token,
                record,
                self._session_ttl,
                resume_op,
                resume_value,
                self._resume_window,
                hop.remember_language or "",
                LANG_CACHE_S,
                hop.pending_language or "",
                LANG_PENDING_MAX,
                LANG_PENDING_TTL_S,
            ),
            "session save",
        )
        shown = hop.save_record if hop.save_record is not None else hop.record
        metrics.HOPS.labels(screen=_screen_of(shown, "_none")).inc()

    def cached_language(self, phone_hash: str) -> str | None:
        """The language the phone last chose, as the hop reads it (None if not cached)."""
        # Through the wire, after any held save: a language chosen on this process's last hop
        # is read back even if that hop's save has not gone out yet.
        return _text(self._wire.command("GET", LANG_PREFIX + self._slot(phone_hash)))

    def flush(self) -> None:
        """Send the saves still held (write-behind) now."""
        self._wire.flush()

    def close(self) -> None:
        """Send the held saves and close the wire's connection (on shutdown; never raises)."""
        self._wire.close()

    def pending_languages(self, limit: int) -> list[str]:
        """The oldest `limit` language choices waiting for the database (not removed)."""
        self._wire.flush()  # this process's latest choices too
        return [_text(raw) or "" for raw in self._redis.lrange(LANG_PENDING, 0, limit - 1)]

    def drop_pending_languages(self, count: int) -> None:
        """Remove the oldest `count` choices, once they are in the database."""
        if count > 0:
            self._redis.ltrim(LANG_PENDING, count, -1)

    def _lock_and_load(self, keys: list[str], args: list[str | int]) -> list[Any]:
        """The lock-and-load script: one command, one round trip (loaded once per Redis server
        on NOSCRIPT). Returns [0] when the lock is held by another hop (nothing is counted
        then: the retry counts once)."""
        return list(self._wire.run(_LOCK_LOAD, keys, args))

    def _slot(self, identifier: str) -> str:
        """The Redis name for a session id or phone hash: a keyed digest under its own purpose
        (a slot handed out by idle_urgent() is already one)."""
        if identifier.startswith(_SLOT_MARK):
            return identifier[len(_SLOT_MARK) :]
        return digests.keyed_digest(self._slot_secret, digests.REDIS_SLOT, identifier)[:40]

    def unseal_resume(self, token: str | None) -> SessionState | None:
        """The resume snapshot read by `hop()`, decrypted (None if absent or unreadable)."""
        if token is None:
            return None
        try:
            return SessionState.from_dict(json.loads(self._sealer.open(token)))
        except (ValueError, KeyError, TypeError):
            return None

    def _seal(self, state: SessionState) -> str:
        return self._sealer.seal(json.dumps(state.to_dict(), separators=(",", ":")))

    def _release(self, lock_key: str, token: str) -> None:
        with suppress(redis.exceptions.RedisError):
            self._redis.eval(_RELEASE_LUA, 1, lock_key, token)

    def _parse_record(self, raw: Any) -> SessionRecord | None:
        if raw is None:
            return None
        try:
            return SessionRecord.from_json(self._sealer.open(_text(raw) or ""))
        except (ValueError, KeyError, TypeError):
            return None  # unreadable (older format, rotated key): start afresh rather than fail

    def mark_urgent(
        self, phone_hash: str, session_id: str, phone: str, state: SessionState
    ) -> None:
        """Remember an unfinished report with danger now + a place, so it is never just lost."""
        sealed = self._sealer.seal(
            json.dumps({"session": session_id, "phone": phone, "state": state.to_dict()})
        )
        slot = self._slot(phone_hash)
        now = self.server_time()  # the one clock abandonment is measured on (issue 7)
        with self._redis.pipeline() as pipe:
            pipe.set(URGENT_PREFIX + slot, sealed, ex=URGENT_TTL_S)
            pipe.zadd(URGENT_INDEX, {slot: now})
            # Entries older than their record are dropped; the index lives as long as its newest.
            pipe.zremrangebyscore(URGENT_INDEX, "-inf", now - URGENT_TTL_S)
            pipe.expire(URGENT_INDEX, URGENT_TTL_S)
            pipe.execute()

    def clear_urgent(self, phone_hash: str, session_id: str | None = None) -> None:
        """Drop the phone's urgent marker; with `session_id`, only if it is still that
        session's (a redial may have marked a newer one, which must stay)."""
        slot = self._slot(phone_hash)
        if session_id is not None:
            self._clear_urgent_of(phone_hash, slot, session_id)
            return
        with self._redis.pipeline() as pipe:
            pipe.zrem(URGENT_INDEX, slot)
            pipe.delete(URGENT_PREFIX + slot)
            pipe.execute()

    def idle_urgent(self, older_than_s: float, now: float | None = None) -> list[str]:
        """Phones (as opaque slots, accepted by load_urgent/clear_urgent) whose urgent report
        has had no hop for `older_than_s` seconds, by the Redis server's clock (which stamped
        the hops): never by the caller's own clock, which may be skewed. `now` is for tests."""
        cutoff = (now if now is not None else self.server_time()) - older_than_s
        return [
            _SLOT_MARK + (m.decode() if isinstance(m, bytes) else str(m))
            for m in self._redis.zrangebyscore(URGENT_INDEX, "-inf", cutoff)
        ]

    def load_urgent(self, phone_hash: str) -> tuple[str, str, SessionState] | None:
        """(session id, phone, state) of an unfinished urgent report, if any."""
        raw = self._redis.get(URGENT_PREFIX + self._slot(phone_hash))
        if raw is None:
            return None
        try:
            token = raw.decode() if isinstance(raw, bytes) else str(raw)
            data = json.loads(self._sealer.open(token))
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

    def _clear_urgent_of(self, phone_hash: str, slot: str, session_id: str) -> None:
        """Compare-and-delete of the urgent marker (WATCH: retried if it changes meanwhile)."""
        key = URGENT_PREFIX + slot
        with self._redis.pipeline() as pipe:
            for _ in range(5):
                try:
                    pipe.watch(key)  # type: ignore[no-untyped-call]
                    found = self.load_urgent(phone_hash)
                    if found is not None and found[0] != session_id:
                        pipe.unwatch()
                        return
                    pipe.multi()
                    pipe.zrem(URGENT_INDEX, slot)
                    pipe.delete(key)
                    pipe.execute()
                    return
                except redis.exceptions.WatchError:
                    continue


def _screen_of(record: SessionRecord | None, default: str) -> str:
    return record.state.screen if record is not None else default


def _text(raw: Any) -> str | None:
    if raw is None:
        return None
    return raw.decode() if isinstance(raw, bytes) else str(raw)
