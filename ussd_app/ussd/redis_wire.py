"""The session store's two scripts per hop, sent on a pooled connection without redis-py's
per-command machinery.

Every ordinary hop runs two Lua scripts (lock + load, save + unlock). Profiled, redis-py's
command path around them (argument deprecation checks, retry and observability wrappers, the
per-argument packing) cost more CPU than the round trips' own system calls. Here a script call
is packed by hiredis (the Redis authors' C library, a dependency of this package) and written
and read on a connection from the client's own pool, so the pool, its settings (socket
timeouts, embedded Redis' unix socket) and the reply parser are redis-py's; only the wrapping is
skipped. Everything else in the service talks to Redis through redis-py as usual.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from typing import Any, Protocol, cast

import hiredis
import redis
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import NoScriptError
from redis.exceptions import TimeoutError as RedisTimeoutError


class _Connection(Protocol):
    """The part of redis-py's Connection used here (redis-py's own methods are untyped)."""

    def send_packed_command(self, command: Sequence[bytes], check_health: bool = True) -> None: ...

    def read_response(self) -> Any: ...

    def disconnect(self) -> None: ...


class Script:
    """A Lua script run by EVALSHA; loaded into Redis the first time Redis does not know it."""

    def __init__(self, source: str) -> None:
        self.source = source
        self.sha = hashlib.sha1(source.encode(), usedforsecurity=False).hexdigest()

    def pack(self, keys: Sequence[str], args: Sequence[str | int]) -> bytes:
        """The EVALSHA command for `keys` and `args`, in the Redis protocol."""
        parts: Any = ("EVALSHA", self.sha, len(keys), *keys, *args)  # its stub says 1-tuple
        return cast(bytes, hiredis.pack_command(parts))

    def run(self, client: redis.Redis, keys: Sequence[str], args: Sequence[str | int]) -> Any:
        """Run the script: one round trip, two the first time a Redis server sees it."""
        packed = self.pack(keys, args)
        try:
            return call(client, packed)
        except NoScriptError:
            client.script_load(self.source)
            return call(client, packed)


def call(client: redis.Redis, packed: bytes) -> Any:
    """Send one packed command on a pooled connection and read its reply (an error reply is
    raised, as redis-py does). A pooled connection that turns out dead (Redis restarted since
    it was last used) is reconnected and the command sent once more; a second failure raises."""
    pool = client.connection_pool
    pooled = pool.get_connection()
    conn = cast(_Connection, pooled)
    try:
        try:
            conn.send_packed_command([packed])
            return conn.read_response()
        except (RedisConnectionError, RedisTimeoutError):
            conn.disconnect()
            conn.send_packed_command([packed])  # connects again first
            return conn.read_response()
    except redis.exceptions.ResponseError:
        raise  # an error reply, read in full: the connection is fine
    except BaseException:
        conn.disconnect()  # a half-read reply must never reach the next user of the connection
        raise
    finally:
        pool.release(pooled)
