"""The Redis session interface and the throttle on their own, against the suite's Redis."""

from __future__ import annotations

import redis
from flask import Flask, g, session

from ussd_app.desk.sessions import (
    KEY_PREFIX,
    RedisSessionInterface,
    end_user_sessions,
    live_session_count,
    mark_passive,
)
from ussd_app.desk.throttle import SignInThrottle


def _app(conn: redis.Redis, *, secure: bool = False) -> Flask:
    app = Flask(__name__)
    app.session_interface = RedisSessionInterface(
        conn, idle_timeout_s=120, absolute_timeout_s=600, cookie_name="c", secure=secure
    )

    @app.get("/desk/login/<int:uid>")
    def login(uid: int) -> str:
        session.rotate()  # type: ignore[attr-defined]
        session["uid"] = uid
        return "ok"

    @app.get("/desk/poll")
    def poll() -> str:
        mark_passive()
        return str(session.get("uid"))

    @app.get("/desk/touch")
    def touch() -> str:
        return str(session.get("uid"))

    @app.get("/desk/out")
    def out() -> str:
        session.end()  # type: ignore[attr-defined]
        return "bye"

    @app.get("/other")
    def other() -> str:
        g.seen = session.get("uid")
        return "x"

    return app


def test_idle_ttl_is_renewed_except_by_passive_requests(redis_conn: redis.Redis) -> None:
    client = _app(redis_conn).test_client()
    client.get("/desk/login/7")
    (key,) = redis_conn.keys(KEY_PREFIX + "*")
    redis_conn.expire(key, 50)
    assert client.get("/desk/poll").get_data(as_text=True) == "7"
    assert redis_conn.ttl(key) <= 50  # a poll is not activity
    client.get("/desk/touch")
    assert 100 < redis_conn.ttl(key) <= 120  # a real request renews the idle timer


def test_sign_out_and_end_user_sessions(redis_conn: redis.Redis) -> None:
    app = _app(redis_conn)
    a, b = app.test_client(), app.test_client()
    a.get("/desk/login/9")
    b.get("/desk/login/9")
    assert live_session_count(redis_conn, 9) == 2
    res = a.get("/desk/out")
    assert "c=;" in res.headers["Set-Cookie"]  # the cookie is cleared
    assert live_session_count(redis_conn, 9) == 1
    assert end_user_sessions(redis_conn, 9) == 1
    assert b.get("/desk/touch").get_data(as_text=True) == "None"


def test_paths_outside_the_desk_never_touch_the_session(redis_conn: redis.Redis) -> None:
    client = _app(redis_conn).test_client()
    client.get("/desk/login/3")
    res = client.get("/other")
    assert "Set-Cookie" not in res.headers
    assert len(redis_conn.keys(KEY_PREFIX + "*")) == 1


def test_cookie_values_are_not_stored_as_keys(redis_conn: redis.Redis) -> None:
    client = _app(redis_conn, secure=True).test_client()
    res = client.get("/desk/login/4", base_url="https://x")
    cookie = res.headers["Set-Cookie"]
    assert "Secure" in cookie and "HttpOnly" in cookie and "SameSite=Strict" in cookie
    sid = cookie.split(";")[0].split("=", 1)[1]
    assert all(sid not in k.decode() for k in redis_conn.keys("*"))


def test_throttle_delay_grows_and_is_capped(redis_conn: redis.Redis) -> None:
    t = SignInThrottle(
        redis_conn, address_limit="100 per minute", account_limit="100 per minute", max_delay_s=4
    )
    a = t.attempt("10.0.0.1", 5, None)
    delays = []
    for _ in range(7):
        delays.append(t.delay_s(a))
        t.failed(a)
    assert delays == [0, 0, 0, 1, 2, 4, 4]
    t.succeeded(a)
    assert t.delay_s(a) == 0
    device = t.remember_device(5, None)
    trusted = t.attempt("10.0.0.1", 5, device)
    assert trusted.trusted and t.delay_s(trusted) == 0
    assert not t.attempt("10.0.0.1", 6, device).trusted  # known to account 5 only
    t.forget_devices(5)
    assert not t.attempt("10.0.0.1", 5, device).trusted
