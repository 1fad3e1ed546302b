"""redis_wire sends the hop's two scripts without redis-py's per-command wrapping: it must speak
the same protocol, load a script Redis does not know, survive a pooled connection that died,
and never leave a connection half-read. Against a real Redis (embedded, or the machine's)."""

from __future__ import annotations

import socket

import pytest
import redis
from redis.connection import PythonRespSerializer

from ussd_app.ussd import redis_wire

ECHO = redis_wire.Script("return {KEYS[1], ARGV[1], ARGV[2]}")


def test_packs_what_redis_py_packs() -> None:
    keys, args = ("k:1", "k:é"), ("token", 1500, "")
    mine = ECHO.pack(keys, args)
    theirs = b"".join(
        PythonRespSerializer(6000, redis.connection.Encoder("utf-8", "strict", False).encode).pack(
            "EVALSHA", ECHO.sha, len(keys), *keys, *args
        )
    )
    assert mine == theirs


def test_a_script_redis_does_not_know_is_loaded_then_run(redis_conn: redis.Redis) -> None:
    redis_conn.script_flush()
    assert redis_conn.script_exists(ECHO.sha) == [False]
    assert ECHO.run(redis_conn, ["a"], ["b", 7]) == [b"a", b"b", b"7"]
    assert redis_conn.script_exists(ECHO.sha) == [True]
    assert ECHO.run(redis_conn, ["a"], ["b", 8]) == [b"a", b"b", b"8"]


def test_a_pooled_connection_killed_since_its_last_use_is_replaced(
    redis_conn: redis.Redis, redis_url: str
) -> None:
    assert ECHO.run(redis_conn, ["a"], ["b", 1]) == [b"a", b"b", b"1"]
    pooled = redis_conn.connection_pool.get_connection()
    name = "wire-test-victim"
    pooled.send_command("CLIENT", "SETNAME", name)
    assert pooled.read_response() in (b"OK", "OK")
    redis_conn.connection_pool.release(pooled)
    other = redis.Redis.from_url(redis_url)
    try:
        victims = [c for c in other.client_list() if c.get("name") == name]
        assert len(victims) == 1
        other.execute_command("CLIENT", "KILL", "ID", victims[0]["id"])
    finally:
        other.close()
    # The pool hands out the dead connection again: the call reconnects and succeeds.
    assert ECHO.run(redis_conn, ["a"], ["b", 2]) == [b"a", b"b", b"2"]


def test_an_error_reply_is_raised_and_the_connection_stays_usable(redis_conn: redis.Redis) -> None:
    broken = redis_wire.Script("return redis.error_reply('nope')")
    with pytest.raises(redis.exceptions.ResponseError, match="nope"):
        broken.run(redis_conn, [], [])
    assert ECHO.run(redis_conn, ["a"], ["b", 3]) == [b"a", b"b", b"3"]
    assert redis_conn.connection_pool._created_connections == 1  # the same one, not a new one


def test_a_connection_that_dies_after_checkout_is_reconnected_once(
    redis_conn: redis.Redis, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The pool checks a connection when it hands it out; one that dies just after (Redis
    restarting at that moment) fails on send or read, and the call reconnects and sends again."""
    assert ECHO.run(redis_conn, ["a"], ["b", 4]) == [b"a", b"b", b"4"]
    pool = redis_conn.connection_pool
    real_get = pool.get_connection

    def get_then_break() -> object:
        conn = real_get()
        conn._sock.shutdown(socket.SHUT_RDWR)  # type: ignore[attr-defined]
        return conn

    monkeypatch.setattr(pool, "get_connection", get_then_break)
    assert ECHO.run(redis_conn, ["a"], ["b", 5]) == [b"a", b"b", b"5"]
