"""Administration pages: the users of every partner (list, disable, reset 2FA) and the audit.

Only roles with `users.manage` / `audit.read` (admins) reach them; anyone else signed in gets
403 and an `access.refused` audit row. Every look at these pages is itself audited.
"""

from __future__ import annotations

import datetime as dt

from flask import flash, redirect, render_template, request, url_for

from ussd_app.desk import bp
from ussd_app.desk.auth import (
    audit_event,
    client_address,
    current_staff_or_401,
    permission_required,
    redis_conn,
    services,
    throttle,
)
from ussd_app.desk.sessions import end_user_sessions
from ussd_app.desk.strings import t
from ussd_app.desk.views import Page
from ussd_app.staff import accounts, audit
from ussd_app.staff.accounts import AccountError
from ussd_app.staff.audit import Action, AuditFilter, RecordType
from ussd_app.staff.roles import Permission


def enrolment_url(token: str) -> str:
    """The full enrolment link for `token` (DESK_BASE_URL, else this request's host)."""
    base = services().settings.desk_base_url.rstrip("/")
    path = url_for("desk.enrol_link", token=token)
    return f"{base}{path}" if base else url_for("desk.enrol_link", token=token, _external=True)


@bp.get("/admin/users")
@permission_required(Permission.USERS_MANAGE)
def users() -> Page:
    audit_event(Action.USER_LIST, record_type=RecordType.STAFF_USER)
    return render_template("desk/admin_users.html", users=accounts.list_accounts(services()))


def _end_everything(user_id: int) -> None:
    end_user_sessions(redis_conn(), user_id)
    throttle().forget_devices(user_id)


@bp.post("/admin/users/<int:user_id>/disable")
@permission_required(Permission.USERS_MANAGE)
def disable_user(user_id: int) -> Page:
    me = current_staff_or_401()
    try:
        account = accounts.disable_user(
            services(), user_id, actor_id=me.id, address=client_address()
        )
    except AccountError as exc:
        if exc.code == "unknown_user":
            return render_template("desk/error.html", code=404, message=t("error.404")), 404
        flash(t("users.self_disable"))
        return redirect(url_for("desk.users"), code=303)
    _end_everything(user_id)
    flash(t("users.disabled_done", username=account.username))
    return redirect(url_for("desk.users"), code=303)


@bp.post("/admin/users/<int:user_id>/reset-2fa")
@permission_required(Permission.USERS_MANAGE)
def reset_2fa(user_id: int) -> Page:
    me = current_staff_or_401()
    try:
        enrolment = accounts.reset_2fa(
            services(), user_id, actor_id=me.id, address=client_address()
        )
    except AccountError:
        return render_template("desk/error.html", code=404, message=t("error.404")), 404
    _end_everything(user_id)
    return render_template(
        "desk/admin_reset.html",
        account=enrolment.account,
        link=enrolment_url(enrolment.token),
        expires=enrolment.expires_at,
    )


def _int_arg(name: str) -> int | None:
    raw = request.args.get(name, "").strip()
    return int(raw) if raw.isdigit() else None


def _date_arg(name: str) -> dt.datetime | None:
    raw = request.args.get(name, "").strip()
    if not raw:
        return None
    day = dt.date.fromisoformat(raw)
    return dt.datetime(day.year, day.month, day.day, tzinfo=dt.UTC)


@bp.get("/admin/audit")
@permission_required(Permission.AUDIT_READ)
def audit_log() -> Page:
    bad_filter = False
    try:
        since = _date_arg("since")
        until = _date_arg("until")
    except ValueError:
        since = until = None
        bad_filter = True
    if until is not None:
        until += dt.timedelta(days=1)  # "until 2026-12-02" includes that day
    filters = AuditFilter(
        actor_id=_int_arg("actor"),
        action=request.args.get("action", "").strip()[:40] or None,
        record_type=request.args.get("record_type", "").strip()[:32] or None,
        record_ref=request.args.get("record_ref", "").strip()[:64] or None,
        since=since,
        until=until,
    )
    rows = audit.query(services(), filters, limit=100, before_id=_int_arg("before"))
    audit_event(Action.AUDIT_VIEW, record_type=RecordType.AUDIT)
    people = {a.id: a for a in accounts.list_accounts(services())}
    known_actions = sorted({str(a) for a in Action} | {r.action for r in rows})
    args = {k: v for k, v in request.args.items() if k != "before" and v}
    return render_template(
        "desk/admin_audit.html",
        rows=rows,
        people=people,
        actions=known_actions,
        args=args,
        bad_filter=bad_filter,
        older=rows[-1].id if len(rows) == 100 else None,
    )
