"""The hop's Redis traffic: its scripts sent without redis-py's per-command machinery, and the
writes a hop does not wait for (write-behind).

Every ordinary hop runs two Lua scripts (lock + load, save + unlock). Profiled, redis-py's
command path around them (argument deprecation checks, retry and observability wrappers, the
per-argument packing) cost more CPU than the round trips' own system calls. Here a script call
is packed by hiredis (the Redis authors' C library, a dependency of this package) and written
and read on a connection made by the client's own pool, so its settings (socket timeouts,
embedded Redis' unix socket, health check) and the reply parser are redis-py's; only the
wrapping is skipped. Everything else in the service talks to Redis through redis-py as usual.

Write-behind (`WriteBehind`): on a loaded server a round trip's system calls (the send wakes
Redis, the read waits for it) are most of a hop's cost, so the save + unlock at the end of a hop
is not sent then. It is kept in this process and goes out in the same packet as the next
command this process sends (the next hop's lock + load, whatever its session), or after
`delay_s` if no command comes first (a flusher thread): an ordinary hop then costs ONE round
trip. It is safe because the save is what releases the session's lock: until it has been
applied, a hop of the same session served by another process finds the lock taken and waits
(HOP_LOCK_TIMEOUT_S), so no hop ever reads a session older than the last reply sent. What this
gives up: a process killed in the few milliseconds between a reply and its flush loses that
hop's session save (the caller's next hop waits for the lock, then is asked to dial again and is
offered the resume snapshot of the hop before). Reports and registrations are committed to the
database before the reply and never wait on this; their routing job, also sent write-behind, is
guaranteed by the sweeper (`ussd-app alerts sweep`) if it is lost.
"""

from __future__ import annotations

import atexit
import hashlib
import logging
import os
import threading
import time
import weakref
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol, cast

import hiredis
import redis
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import NoScriptError
from redis.exceptions import TimeoutError as RedisTimeoutError

from ussd_app import metrics

log = logging.getLogger(__name__)
_CARRIED = metrics.HELD_WRITES.labels(sent_by="next_command")
_FLUSHED = metrics.HELD_WRITES.labels(sent_by="flush")


class _Connection(Protocol):
    """The part of redis-py's Connection used here (redis-py's own methods are untyped)."""

    def send_packed_command(self, command: Sequence[bytes], check_health: bool = True) -> None: ...

    def read_response(self) -> Any: ...

    def disconnect(self) -> None: ...


def pack(*parts: str | bytes | int | float) -> bytes:
    """One command in the Redis protocol, packed by hiredis."""
    args: Any = parts  # its stub says a 1-tuple
    return cast(bytes, hiredis.pack_command(args))


class Script:
    """A Lua script run by EVALSHA (`WriteBehind` loads it when Redis does not know it)."""

    def __init__(self, source: str) -> None:
        self.source = source
        self.sha = hashlib.sha1(source.encode(), usedforsecurity=False).hexdigest()

    def pack(self, keys: Sequence[str], args: Sequence[str | int]) -> bytes:
        """The EVALSHA command for `keys` and `args`, in the Redis protocol."""
        return pack("EVALSHA", self.sha, len(keys), *keys, *args)


def exchange_on(conn: _Connection, payload: bytes, counts: Sequence[int]) -> list[list[Any]]:
    """Send `payload` (one or more packed commands) in one write on `conn` and read `counts[i]`
    replies for its i-th part. An error reply is returned as its exception, not raised, so
    every reply is read and the connection stays usable.

    A dead connection is reconnected and the whole payload sent once more (what was sent is
    safe to repeat: the hop's scripts compare tokens, a routing job runs twice harmlessly); a
    second failure raises, and any failure leaves the connection closed, never half-read."""
    try:
        try:
            return _send_and_read(conn, payload, counts)
        except (RedisConnectionError, RedisTimeoutError):
            conn.disconnect()
            return _send_and_read(conn, payload, counts)  # connects again first
    except BaseException:
        conn.disconnect()  # a half-read reply must never reach the next user of the connection
        raise


def _send_and_read(conn: _Connection, payload: bytes, counts: Sequence[int]) -> list[list[Any]]:
    conn.send_packed_command([payload])
    out: list[list[Any]] = []
    for count in counts:
        replies: list[Any] = []
        for _ in range(count):
            try:
                replies.append(conn.read_response())
            except redis.exceptions.ResponseError as exc:  # read in full: the connection is fine
                replies.append(exc)
        out.append(replies)
    return out


@dataclass(frozen=True)
class _Deferred:
    """Commands sent later: their packed bytes, how many replies they give, what they are."""

    packed: bytes
    replies: int
    label: str  # for the log: what was lost if it fails (never a key or a value)
    script: Script | None = None  # reloaded and resent if Redis answers NOSCRIPT


_LIVE: weakref.WeakSet[WriteBehind] = weakref.WeakSet()


@atexit.register
def _flush_all_at_exit() -> None:
    """A process that stops normally sends what it still holds."""
    for wire in list(_LIVE):
        wire.flush_quietly()


def _reset_all_in_child() -> None:
    """A forked child starts empty (the parent sends its own held writes) and unlocked."""
    for wire in list(_LIVE):
        wire._after_fork()


os.register_at_fork(after_in_child=_reset_all_in_child)


class WriteBehind:
    """Runs the hop's commands and holds the writes it does not wait for (see the module
    docstring). `delay_s` 0 sends every write at once, and raises its failure (write-through)."""

    def __init__(self, client: redis.Redis, delay_s: float = 0.0) -> None:
        self._client = client
        self._delay = max(0.0, delay_s)
        self._lock = threading.Lock()  # guards _pending (held briefly)
        # Held across a whole exchange: what this process sent is applied before it sends more,
        # so a later command (another session's first hop) reads what an earlier hop wrote.
        self._io = threading.Lock()
        self._pending: list[_Deferred] = []
        self._wake = threading.Event()
        self._flusher: threading.Thread | None = None
        # Scripts this process has seen Redis know. A held script must be known: a NOSCRIPT
        # reply could only be mended after the command carrying it, out of order.
        self._known: set[str] = set()
        # Its own connection, made by the client's pool (same settings) but not checked out of
        # it: every exchange holds `_io`, so one connection serves them all, without the pool's
        # per-checkout health poll and bookkeeping (a system call and a few microseconds a hop).
        self._conn: _Connection | None = None
        _LIVE.add(self)

    def run(self, script: Script, keys: Sequence[str], args: Sequence[str | int]) -> Any:
        """Run `script` now, after everything held (in the same write): one round trip."""
        packed = script.pack(keys, args)
        try:
            reply = self._now(packed)
        except NoScriptError:
            self._known.clear()  # Redis lost its scripts (a restart): load them again
            self._client.script_load(script.source)
            reply = self._now(packed)
        self._known.add(script.sha)
        return reply

    def command(self, *parts: str | bytes | int) -> Any:
        """Run one plain command now, after everything held (so it reads what they wrote)."""
        return self._now(pack(*parts))

    def defer_script(
        self, script: Script, keys: Sequence[str], args: Sequence[str | int], label: str
    ) -> None:
        """Send `script` with the next command, or within `delay_s`."""
        if script.sha not in self._known:  # once per process (and after a Redis restart)
            self._client.script_load(script.source)
            self._known.add(script.sha)
        self._defer(_Deferred(script.pack(keys, args), 1, label, script))

    def defer_transaction(self, commands: Sequence[Sequence[Any]], label: str) -> None:
        """Send `commands` as one MULTI/EXEC transaction with the next command, or within
        `delay_s` (e.g. an RQ enqueue built on a redis-py pipeline's command stack)."""
        parts = [pack("MULTI"), *(pack(*cmd) for cmd in commands), pack("EXEC")]
        self._defer(_Deferred(b"".join(parts), len(parts), label))

    def flush(self) -> None:
        """Send everything held now and check the replies (raises on a connection failure)."""
        self._exchange(None)

    def flush_quietly(self) -> None:
        try:
            self.flush()
        except Exception as exc:  # at exit or in the flusher: say so, never raise
            log.warning("held Redis writes could not be sent (%s)", type(exc).__name__)

    def close(self) -> None:
        """Send what is held, then close the wire's own connection (a process stopping)."""
        self.flush_quietly()
        with self._io:
            if self._conn is not None:
                self._conn.disconnect()
                self._conn = None

    def pending(self) -> int:
        """How many held writes are waiting (for tests and the health page)."""
        with self._lock:
            return len(self._pending)

    # ----------------------------------------------------------------------------- internals

    def _defer(self, item: _Deferred) -> None:
        if self._delay == 0:  # write-through: sent now, and a failure raises, as any command's
            with self._io:
                self._exchange_in_order(None, strict=True, also=item)
            return
        with self._lock:
            self._pending.append(item)
            if self._flusher is None:
                self._flusher = threading.Thread(
                    target=_flush_loop,
                    args=(weakref.ref(self),),
                    name="redis-write-behind",
                    daemon=True,
                )
                self._flusher.start()
        self._wake.set()

    def _now(self, packed: bytes) -> Any:
        reply = self._exchange(packed)
        if isinstance(reply, redis.exceptions.ResponseError):
            raise reply
        return reply

    def _exchange(self, packed: bytes | None) -> Any:
        """Send what is held, then `packed` (if any), in one write; check the held writes'
        replies and return the last reply."""
        with self._io:
            return self._exchange_in_order(packed)

    def _exchange_in_order(
        self, packed: bytes | None, *, strict: bool = False, also: _Deferred | None = None
    ) -> Any:
        """`also`: one more write after those held; with `strict`, its failure is raised."""
        with self._lock:
            held, self._pending = self._pending, []
        if also is not None:
            held.append(also)
        if not held and packed is None:
            return None
        if held:
            (_CARRIED if packed is not None else _FLUSHED).inc(len(held))
        payload = b"".join([*(d.packed for d in held), *([packed] if packed else [])])
        counts = [d.replies for d in held] + ([1] if packed is not None else [])
        if self._conn is None:
            self._conn = cast(_Connection, self._client.connection_pool.make_connection())
        try:
            replies = exchange_on(self._conn, payload, counts)
        except BaseException as exc:
            lost = [d for d in held if d is not also]  # `also` fails in its caller's hands
            if lost:
                log.warning(
                    "%d held Redis write(s) lost (%s): %s",
                    len(lost),
                    type(exc).__name__,
                    ", ".join(sorted({d.label for d in lost})),
                )
            raise
        for item, got in zip(held, replies, strict=False):
            self._check(item, got, strict=strict and item is also)
        return replies[-1][0] if packed is not None else None

    def _check(self, item: _Deferred, replies: list[Any], *, strict: bool = False) -> None:
        # A transaction's failed command is an error inside the EXEC reply.
        flat = [x for r in replies for x in (r if isinstance(r, list) else [r])]
        errors: list[redis.exceptions.RedisError] = [
            r for r in flat if isinstance(r, redis.exceptions.ResponseError)
        ]
        if not errors:
            return
        if item.script is not None and isinstance(errors[0], NoScriptError):
            self._known.clear()
            try:  # Redis restarted since the script was loaded: load it and send again
                self._client.script_load(item.script.source)
                assert self._conn is not None  # the exchange that read this reply made it
                (again,) = exchange_on(self._conn, item.packed, (item.replies,))
                errors = [r for r in again if isinstance(r, redis.exceptions.ResponseError)]
                if not errors:
                    return
            except redis.exceptions.RedisError as exc:
                errors = [exc]
        if strict:
            raise errors[0]
        log.warning("held Redis write failed: %s (%s)", item.label, type(errors[0]).__name__)

    def _after_fork(self) -> None:
        self._conn = None  # the parent's socket is the parent's
        self._lock = threading.Lock()
        self._io = threading.Lock()
        self._pending = []
        self._wake = threading.Event()
        self._flusher = None


def _flush_loop(ref: weakref.ref[WriteBehind]) -> None:
    """The flusher: sends what a hop left held when no command took it within `delay_s`.
    It holds its wire weakly and ends once the wire is gone (a test's app, say)."""
    while True:
        wire = ref()
        if wire is None:
            return
        wake, delay = wire._wake, wire._delay
        del wire
        if not wake.wait(timeout=30):
            continue
        time.sleep(delay)
        wake.clear()
        wire = ref()
        if wire is None:
            return
        wire.flush_quietly()
        del wire
