"""The session save is held after the reply (write-behind). These show why that is safe with
several server processes: the save is what releases the session's lock, so a hop of the same
session served by another process waits for it and never reads an older state; and that the
processes' own ordering holds for the phone's language. Two stores on two wires stand for two
processes, against a real Redis."""

from __future__ import annotations

import threading
import time

import redis

from ussd_app import redis_wire
from ussd_app.crypto import Cipher
from ussd_app.menu.types import SessionState
from ussd_app.ussd.session_store import SessionRecord, SessionStore

KEY = Cipher.generate_key()


def store_on(conn: redis.Redis, delay_s: float) -> SessionStore:
    return SessionStore(
        conn,
        Cipher([KEY]),
        session_ttl_s=60,
        resume_window_s=60,
        lock_timeout_s=5.0,
        slot_secret="same secret on every process",
        wire=redis_wire.WriteBehind(conn, delay_s),
    )


def record(screen: str, text: str) -> SessionRecord:
    return SessionRecord(SessionState(screen=screen, lang="en"), text, f"CON {screen}", 0.0)


def test_another_process_waits_for_a_held_save_and_reads_it(redis_conn: redis.Redis) -> None:
    a = store_on(redis_conn, delay_s=60)  # holds its save until told
    b = store_on(redis_conn, delay_s=0)
    with a.hop("ATUid_wb1", "phonehash") as hop:
        hop.save_record = record("reg_district", "2*1")
    # The reply has gone; the save has not. Process b serves the next hop of the session.
    seen: list[SessionRecord | None] = []
    waited: list[float] = []

    def next_hop() -> None:
        t0 = time.monotonic()
        with b.hop("ATUid_wb1", "phonehash") as hop:
            waited.append(time.monotonic() - t0)
            seen.append(hop.record)

    other = threading.Thread(target=next_hop)
    other.start()
    time.sleep(0.2)
    assert seen == [], "the other process got the session before the save was applied"
    a.flush()
    other.join(timeout=10)
    assert waited and waited[0] >= 0.2
    assert seen[0] is not None and seen[0].state.screen == "reg_district"
    assert seen[0].last_text == "2*1"


def test_the_next_hop_in_the_same_process_reads_the_held_save_at_once(
    redis_conn: redis.Redis,
) -> None:
    a = store_on(redis_conn, delay_s=60)
    with a.hop("ATUid_wb2", "phonehash") as hop:
        hop.save_record = record("rep_danger", "2")
        hop.remember_language = "st"
    t0 = time.monotonic()
    with a.hop("ATUid_wb2", "phonehash") as hop:
        assert hop.record is not None and hop.record.state.screen == "rep_danger"
    assert time.monotonic() - t0 < 1.0  # no waiting for the lock: one write, in order
    # A new session of the same phone on this process reads the language just chosen.
    with a.hop("ATUid_wb3", "phonehash") as hop:
        assert hop.record is None and hop.language == "st"
    assert a.cached_language("phonehash") == "st"
