"""redis_wire sends the hop's two scripts without redis-py's per-command wrapping: it must speak
the same protocol, load a script Redis does not know, survive a connection that died, and never
leave a connection half-read; its write-behind must send every held write, in order,
with the next command or soon after. Against a real Redis (embedded, or the machine's)."""

from __future__ import annotations

import socket
import subprocess
import sys
import time

import pytest
import redis
from redis.connection import PythonRespSerializer

from ussd_app import redis_wire

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
    wire = redis_wire.WriteBehind(redis_conn)
    redis_conn.script_flush()
    assert redis_conn.script_exists(ECHO.sha) == [False]
    assert wire.run(ECHO, ["a"], ["b", 7]) == [b"a", b"b", b"7"]
    assert redis_conn.script_exists(ECHO.sha) == [True]
    assert wire.run(ECHO, ["a"], ["b", 8]) == [b"a", b"b", b"8"]


def test_a_connection_killed_since_its_last_use_is_replaced(
    redis_conn: redis.Redis, redis_url: str
) -> None:
    wire = redis_wire.WriteBehind(redis_conn)
    assert wire.run(ECHO, ["a"], ["b", 1]) == [b"a", b"b", b"1"]
    name = "wire-test-victim"
    assert wire.command("CLIENT", "SETNAME", name) in (b"OK", "OK")
    other = redis.Redis.from_url(redis_url)
    try:
        victims = [c for c in other.client_list() if c.get("name") == name]
        assert len(victims) == 1
        other.execute_command("CLIENT", "KILL", "ID", victims[0]["id"])
    finally:
        other.close()
    # The wire's connection is dead (Redis restarted, say): the call reconnects and succeeds.
    assert wire.run(ECHO, ["a"], ["b", 2]) == [b"a", b"b", b"2"]


def test_an_error_reply_is_raised_and_the_connection_stays_usable(redis_conn: redis.Redis) -> None:
    wire = redis_wire.WriteBehind(redis_conn)
    broken = redis_wire.Script("return redis.error_reply('nope')")
    with pytest.raises(redis.exceptions.ResponseError, match="nope"):
        wire.run(broken, [], [])
    own = wire._conn
    assert wire.run(ECHO, ["a"], ["b", 3]) == [b"a", b"b", b"3"]
    assert own is not None and wire._conn is own  # the same one, not a new one


def test_a_connection_that_dies_just_before_a_call_is_reconnected_once(
    redis_conn: redis.Redis,
) -> None:
    """A connection that dies just before a call (Redis restarting at that moment) fails on
    send or read, and the call reconnects and sends again."""
    wire = redis_wire.WriteBehind(redis_conn)
    assert wire.run(ECHO, ["a"], ["b", 4]) == [b"a", b"b", b"4"]
    wire._conn._sock.shutdown(socket.SHUT_RDWR)  # type: ignore[union-attr]
    assert wire.run(ECHO, ["a"], ["b", 5]) == [b"a", b"b", b"5"]


# ------------------------------------------------------------------------------ write-behind

SET = redis_wire.Script("return redis.call('set', KEYS[1], ARGV[1])")


def test_a_held_write_goes_out_with_the_next_command_in_one_write(
    redis_conn: redis.Redis, monkeypatch: pytest.MonkeyPatch
) -> None:
    wire = redis_wire.WriteBehind(redis_conn, delay_s=30)  # the flusher never fires here
    writes: list[list[int]] = []
    real = redis_wire.exchange_on

    def counting(conn: object, payload: bytes, counts: list[int]) -> object:
        writes.append(list(counts))
        return real(conn, payload, counts)  # type: ignore[arg-type]

    monkeypatch.setattr(redis_wire, "exchange_on", counting)
    wire.defer_script(SET, ["wb:a"], ["1"], "test write")
    wire.defer_transaction([("SET", "wb:b", "2"), ("INCR", "wb:n")], "test transaction")
    assert wire.pending() == 2
    assert redis_conn.get("wb:a") is None  # held: not sent yet
    # The next command carries them: one write, their replies read before its own.
    assert wire.command("GET", "wb:a") == b"1"
    assert writes == [[1, 4, 1]]  # SET script; MULTI, SET, INCR, EXEC; GET
    assert redis_conn.get("wb:b") == b"2" and redis_conn.get("wb:n") == b"1"
    assert wire.pending() == 0


def test_with_no_command_to_carry_it_the_flusher_sends_a_held_write(
    redis_conn: redis.Redis,
) -> None:
    wire = redis_wire.WriteBehind(redis_conn, delay_s=0.005)
    wire.defer_script(SET, ["wb:idle"], ["x"], "test write")
    deadline = time.monotonic() + 5
    while redis_conn.get("wb:idle") is None and time.monotonic() < deadline:
        time.sleep(0.005)
    assert redis_conn.get("wb:idle") == b"x"
    assert wire.pending() == 0


def test_write_through_sends_at_once(redis_conn: redis.Redis) -> None:
    wire = redis_wire.WriteBehind(redis_conn, delay_s=0)
    wire.defer_script(SET, ["wb:now"], ["y"], "test write")
    assert redis_conn.get("wb:now") == b"y"


def test_a_held_script_redis_no_longer_knows_is_loaded_and_applied(
    redis_conn: redis.Redis,
) -> None:
    wire = redis_wire.WriteBehind(redis_conn, delay_s=30)
    wire.run(SET, ["wb:s"], ["0"])  # loaded
    wire.defer_script(SET, ["wb:s"], ["1"], "test write")
    redis_conn.script_flush()  # Redis restarted meanwhile, say
    assert wire.command("GET", "wb:s") == b"0"  # the carrier's own reply comes first ...
    assert redis_conn.get("wb:s") == b"1"  # ... and the held write was reloaded and sent


def test_a_held_write_that_fails_is_logged_and_the_next_reply_is_intact(
    redis_conn: redis.Redis, caplog: pytest.LogCaptureFixture
) -> None:
    wire = redis_wire.WriteBehind(redis_conn, delay_s=30)
    redis_conn.set("wb:text", "not a number")
    wire.defer_transaction([("INCR", "wb:text")], "test counter")
    wire.defer_script(redis_wire.Script("return redis.error_reply('nope')"), [], [], "broken")
    with caplog.at_level("WARNING", logger="ussd_app.redis_wire"):
        assert wire.command("ECHO", "still in step") == b"still in step"
    assert "held Redis write failed: test counter" in caplog.text
    assert "held Redis write failed: broken" in caplog.text
    assert "not a number" not in caplog.text  # never a value in the log
    own = wire._conn
    assert own is not None and wire.command("ECHO", "again") == b"again"
    assert wire._conn is own  # the same connection: error replies leave it usable


def test_a_normal_exit_sends_what_the_process_still_holds(redis_url: str) -> None:
    code = (
        "import redis\n"
        "from ussd_app import redis_wire\n"
        f"conn = redis.Redis.from_url({redis_url!r})\n"
        "wire = redis_wire.WriteBehind(conn, delay_s=60)\n"
        "wire.defer_script(redis_wire.Script(\"return redis.call('set', KEYS[1], ARGV[1])\"),"
        " ['wb:exit'], ['sent at exit'], 'test write')\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, timeout=60)
    assert done.returncode == 0, done.stderr
    conn = redis.Redis.from_url(redis_url)
    try:
        assert conn.get("wb:exit") == b"sent at exit"
    finally:
        conn.delete("wb:exit")
        conn.close()


def test_write_through_raises_a_failed_write_as_any_command_would(redis_conn: redis.Redis) -> None:
    wire = redis_wire.WriteBehind(redis_conn, delay_s=0)
    with pytest.raises(redis.exceptions.ResponseError, match="nope"):
        wire.defer_script(redis_wire.Script("return redis.error_reply('nope')"), [], [], "broken")
    assert wire.command("ECHO", "fine") == b"fine"
