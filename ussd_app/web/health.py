"""Health check for load balancers and operators: the database and Redis answer.

Alerts held by an SMS account problem (no balance, bad sender id) are reported as a warning,
not a failure: the web process must stay in rotation so reports are still taken and stored.
"""

from __future__ import annotations

from flask import Blueprint, Response, current_app, jsonify

from ussd_app.messaging.outbox import held_by_account_problem

bp = Blueprint("health", __name__)


@bp.get("/healthz")
def healthz() -> tuple[Response, int]:
    """200 when the database and Redis both answer, 503 naming what does not."""
    container = current_app.extensions["ussd"]
    problems: list[str] = []
    warnings: list[str] = []
    try:
        held = held_by_account_problem(container.services)
        if held:
            warnings.append(f"sms account problem: {held} messages held until it is fixed")
    except Exception:
        problems.append("database")
    try:
        container.redis.ping()
    except Exception:
        problems.append("redis")
    status = 503 if problems else 200
    return jsonify({"ok": not problems, "failing": problems, "warnings": warnings}), status
