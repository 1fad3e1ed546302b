"""Server-side desk sessions in Redis: the cookie holds only a random id.

Why server-side: signing out or disabling a user must end their sessions at once, which a signed
cookie cannot do. The Redis key is a SHA-256 digest of the id (a Redis dump reveals no usable
cookie), its TTL is the idle timeout (`DESK_IDLE_TIMEOUT_S`) renewed by every request, and never
past the absolute limit (`DESK_ABSOLUTE_TIMEOUT_S`) counted from sign-in. Each signed-in user has
a set of their session keys, so `end_user_sessions` can delete them all.

Only requests under `/desk` open or save a session; the USSD and SMS webhooks never touch Redis
for it. The interface is Flask's, so `flask.session`, `flash` and Flask-WTF's CSRF token work.
"""

from __future__ import annotations

import hashlib
import json
import secrets
import time
from collections.abc import Iterable
from typing import Any

import redis
from flask import Flask, Request, Response, g
from flask.sessions import SessionInterface, SessionMixin
from werkzeug.datastructures import CallbackDict

DESK_PREFIX = "/desk"
KEY_PREFIX = "desk:session:"
USER_PREFIX = "desk:user-sessions:"


def _key(sid: str) -> str:
    return KEY_PREFIX + hashlib.sha256(sid.encode()).hexdigest()


def _user_key(user_id: int) -> str:
    return f"{USER_PREFIX}{user_id}"


class DeskSession(CallbackDict[str, Any], SessionMixin):
    """The session of one browser. `rotate()` gives it a new id (sign-in: no fixation);
    `end()` deletes it (sign-out)."""

    def __init__(
        self,
        initial: dict[str, Any] | None = None,
        *,
        sid: str | None = None,
        started_at: float | None = None,
        enabled: bool = True,
    ) -> None:
        def on_update(_self: CallbackDict[str, Any]) -> None:
            self.modified = True

        super().__init__(initial or {}, on_update)
        self.sid = sid
        self.new = sid is None
        self.modified = False
        self.started_at = time.time() if started_at is None else started_at
        self.enabled = enabled
        self.ended = False
        self._rotate = False
        self.old_sid: str | None = None

    def rotate(self) -> None:
        """Start again under a new id, with the absolute timer restarted (call on sign-in)."""
        self._rotate = True
        self.started_at = time.time()
        self.modified = True

    def end(self) -> None:
        """Delete this session from Redis and the browser."""
        self.clear()
        self.ended = True

    @property
    def wants_rotation(self) -> bool:
        return self._rotate


def mark_passive() -> None:
    """Do not count this request as activity (e.g. a background poll): the idle timer goes on."""
    g.desk_passive_request = True


class RedisSessionInterface(SessionInterface):
    """Flask session interface storing desk sessions in Redis."""

    def __init__(
        self,
        conn: redis.Redis,
        *,
        idle_timeout_s: int,
        absolute_timeout_s: int,
        cookie_name: str,
        secure: bool,
    ) -> None:
        self.redis = conn
        self.idle_timeout_s = idle_timeout_s
        self.absolute_timeout_s = absolute_timeout_s
        self.cookie_name = cookie_name
        self.secure = secure

    def open_session(self, app: Flask, request: Request) -> DeskSession:
        if not request.path.startswith(DESK_PREFIX) or request.path.startswith(
            DESK_PREFIX + "/static/"
        ):
            return DeskSession(enabled=False)
        sid = request.cookies.get(self.cookie_name, "")
        if not sid or len(sid) > 100:
            return DeskSession()
        raw = self.redis.get(_key(sid))
        if raw is None:
            return DeskSession()
        stored = json.loads(raw)
        started = float(stored.get("started_at", 0))
        if time.time() - started >= self.absolute_timeout_s:
            self.redis.delete(_key(sid))
            return DeskSession()
        return DeskSession(stored.get("data", {}), sid=sid, started_at=started)

    def save_session(  # type: ignore[override]
        self, app: Flask, session: DeskSession, response: Response
    ) -> None:
        if not session.enabled:
            return
        response.vary.add("Cookie")
        if session.ended or (not session and not session.new and session.modified):
            self._delete(session.sid, session.get("uid"))
            response.delete_cookie(
                self.cookie_name, path="/", secure=self.secure, httponly=True, samesite="Strict"
            )
            return
        if session.new and not session.modified:
            return  # an anonymous visitor who stored nothing gets no session
        remaining = self.absolute_timeout_s - (time.time() - session.started_at)
        ttl = int(min(self.idle_timeout_s, remaining))
        if ttl <= 0:
            self._delete(session.sid, session.get("uid"))
            return
        if session.sid is not None and not session.modified and not session.wants_rotation:
            if not g.get("desk_passive_request"):
                self.redis.expire(_key(session.sid), ttl)
            return
        if session.wants_rotation or session.sid is None:
            if session.sid is not None:
                self._delete(session.sid, None)
            session.sid = secrets.token_urlsafe(32)
        key = _key(session.sid)
        payload = json.dumps({"started_at": session.started_at, "data": dict(session)})
        pipe = self.redis.pipeline()
        pipe.set(key, payload, ex=ttl)
        uid = session.get("uid")
        if isinstance(uid, int):
            pipe.sadd(_user_key(uid), key)
            pipe.expire(_user_key(uid), self.absolute_timeout_s)
        pipe.execute()
        response.set_cookie(
            self.cookie_name,
            session.sid,
            path="/",
            secure=self.secure,
            httponly=True,
            samesite="Strict",
        )

    def _delete(self, sid: str | None, uid: Any) -> None:
        if sid is None:
            return
        pipe = self.redis.pipeline()
        pipe.delete(_key(sid))
        if isinstance(uid, int):
            pipe.srem(_user_key(uid), _key(sid))
        pipe.execute()


def end_user_sessions(conn: redis.Redis, user_id: int) -> int:
    """Delete every desk session of `user_id` now; returns how many there were."""
    keys: Iterable[bytes] = conn.smembers(_user_key(user_id))  # type: ignore[assignment]
    names = [k.decode() if isinstance(k, bytes) else str(k) for k in keys]
    pipe = conn.pipeline()
    for name in names:
        pipe.delete(name)
    pipe.delete(_user_key(user_id))
    results = pipe.execute()
    return sum(int(r) for r in results[: len(names)])


def live_session_count(conn: redis.Redis, user_id: int) -> int:
    """How many desk sessions of `user_id` are still alive (for tests and the users page)."""
    keys: Iterable[bytes] = conn.smembers(_user_key(user_id))  # type: ignore[assignment]
    return sum(1 for k in keys if conn.exists(k))
