"""Health check for load balancers and operators: the database and Redis answer."""

from __future__ import annotations

from flask import Blueprint, Response, current_app, jsonify
from sqlalchemy import text

bp = Blueprint("health", __name__)


@bp.get("/healthz")
def healthz() -> tuple[Response, int]:
    """200 when the database and Redis both answer, 503 naming what does not."""
    container = current_app.extensions["ussd"]
    problems = []
    try:
        with container.engine.connect() as conn:
            conn.execute(text("SELECT 1"))
    except Exception:
        problems.append("database")
    try:
        container.redis.ping()
    except Exception:
        problems.append("redis")
    status = 503 if problems else 200
    return jsonify({"ok": not problems, "failing": problems}), status
