"""Baseline for scripts/bench_ussd.py: the cheapest honest USSD hop, one Redis GET + SET.

A hand-written Flask app that answers `POST /ussd` like the gateway expects (`CON ...` or
`END ...`, text/plain), doing exactly one Redis GET (the session record) and one Redis SET (the
updated record, with a TTL) per hop and nothing else: no menu engine, no database, no encryption.
It is the "hand-written Flask + Redis (GET + SET per hop)" row of
/work/shared/reference/performance.md, run under the same gunicorn settings as the service so the
ratio service/baseline isolates what the service itself costs per hop.

So that the load generator can check replies the same way for both targets, the session ends
(`END ... reference R-000000` / `T-0000`) after as many answers as the bench sends for that flow:
`BASELINE_FLOW_LENGTHS="1:12,2:10"` maps the main-menu choice (second answer) to the number of
answers in the flow. Run it with:

    REDIS_URL=redis://127.0.0.1:6379/12 gunicorn -w 2 --bind 127.0.0.1:8001 \
        --pythonpath scripts "baseline_app:create_app()"
"""

from __future__ import annotations

import gc
import os

import redis
from flask import Flask, Response, request

SESSION_TTL_S = 300
KEY_PREFIX = "bench:baseline:s:"
REFERENCES = {"1": "R-000000", "2": "T-0000"}


def _flow_lengths(raw: str) -> dict[str, int]:
    """Parse "1:12,2:10" into {"1": 12, "2": 10}."""
    lengths: dict[str, int] = {}
    for item in raw.split(","):
        if ":" in item:
            choice, count = item.split(":", 1)
            lengths[choice.strip()] = int(count)
    return lengths


def create_app() -> Flask:
    """The baseline WSGI app (gunicorn: `baseline_app:create_app()`)."""
    app = Flask(__name__)
    conn = redis.Redis.from_url(
        os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/12"),
        socket_timeout=5,
        socket_connect_timeout=2,
    )
    lengths = _flow_lengths(os.environ.get("BASELINE_FLOW_LENGTHS", "1:12,2:10"))

    @app.post("/ussd")
    def hop() -> Response:
        session_id = request.form.get("sessionId", "")
        text = request.form.get("text", "")
        if not session_id:
            return Response("bad request: missing form field 'sessionId'\n", 400)
        key = KEY_PREFIX + session_id
        previous: bytes | None = conn.get(key)  # type: ignore[assignment]  # round trip 1
        hops = int(previous.split(b"|", 1)[0]) + 1 if previous else 1
        conn.set(key, f"{hops}|{text}", ex=SESSION_TTL_S)  # round trip 2
        answers = text.split("*") if text else []
        choice = answers[1] if len(answers) > 1 else ""
        if choice in lengths and len(answers) >= lengths[choice]:
            body = f"END Thank you. Your reference: {REFERENCES.get(choice, 'R-0')}."
        else:
            body = f"CON Screen {hops}\n1 Yes\n2 No\n0 Back\n00 Menu"
        return Response(body, mimetype="text/plain")

    @app.get("/healthz")
    def healthz() -> Response:
        return Response("ok\n", mimetype="text/plain")

    return app


def serve_app() -> Flask:
    """The baseline as a server worker runs it: built, then frozen out of the garbage collector's
    full collections, as the service's own factory does (`ussd_app.web.server.serve_app`), so
    the two differ only in what a hop does."""
    app = create_app()
    gc.freeze()
    return app
