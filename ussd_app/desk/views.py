"""Desk sign-in, enrolment, sign-out, the home page and error pages.

Views translate requests into service calls (`ussd_app.staff.accounts`) and pages; they commit
nothing themselves. Sign-in is two steps: username and password, then a TOTP or recovery code.
Between the steps the session holds only `pending_uid` (for five minutes); the full session
(`uid`, `epoch`) starts under a new session id once both factors are right.

Form fields have stable ids (`username`, `password`, `code`, `password_confirm`) and the pages
stable ids for what a browser test reads (`totp-secret`, `recovery-codes`, `flash`).
"""

from __future__ import annotations

import time
from urllib.parse import urlsplit

import segno
from flask import (
    Response,
    abort,
    flash,
    g,
    make_response,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask_wtf.csrf import CSRFError
from markupsafe import Markup
from werkzeug.exceptions import HTTPException
from werkzeug.wrappers import Response as WerkzeugResponse

from ussd_app.desk import bp
from ussd_app.desk.auth import (
    audit_event,
    client_address,
    current_staff,
    current_staff_or_401,
    login_required,
    redis_conn,
    services,
    throttle,
)
from ussd_app.desk.sessions import DeskSession, end_user_sessions
from ussd_app.desk.strings import t
from ussd_app.desk.throttle import DEVICE_COOKIE, DEVICE_TTL_S, Attempt
from ussd_app.staff import accounts, audit
from ussd_app.staff.accounts import AccountError, PasswordCheck, SecondFactor, StaffAccount
from ussd_app.staff.audit import Action, RecordType
from ussd_app.staff.roles import Permission

PENDING_TTL_S = 5 * 60

Page = str | Response | WerkzeugResponse | tuple[str, int]


def _desk_session() -> DeskSession:
    return session  # type: ignore[return-value]


def _safe_next(target: str | None) -> str:
    """Only a path inside the desk: never another host (open redirect)."""
    if target:
        parts = urlsplit(target)
        if (
            not parts.scheme
            and not parts.netloc
            and target.startswith("/desk/")
            and "\\" not in target
        ):
            return target
    return url_for("desk.home")


def _production() -> bool:
    return services().settings.is_production


def _attempt(user_id: int | None) -> Attempt:
    return throttle().attempt(client_address(), user_id, request.cookies.get(DEVICE_COOKIE))


def _throttled(a: Attempt, template: str, **context: object) -> tuple[str, int] | None:
    wait = throttle().retry_after(a)
    if wait is None:
        return None
    audit.record(
        services(),
        action=Action.THROTTLED,
        actor_id=None,
        record_type=RecordType.STAFF_USER if a.user_id else None,
        record_ref=str(a.user_id) if a.user_id else None,
        address=a.address,
    )
    message = t("sign_in.throttled", minutes=max(1, (wait + 59) // 60))
    return render_template(template, error=message, **context), 429


def _start_full_session(account: StaffAccount, a: Attempt) -> str:
    """Both factors are right: a new session id, the user in it, this browser remembered."""
    s = _desk_session()
    s.clear()
    s.rotate()
    s["uid"] = account.id
    s["epoch"] = account.credentials_epoch
    s["signed_in_at"] = time.time()
    throttle().succeeded(a)
    return throttle().remember_device(account.id, a.device_token)


def _set_device_cookie(response: Response | WerkzeugResponse, token: str) -> None:
    response.set_cookie(
        DEVICE_COOKIE,
        token,
        max_age=DEVICE_TTL_S,
        path="/desk/",
        secure=_production(),
        httponly=True,
        samesite="Strict",
    )


# Sign-in -----------------------------------------------------------------------------------


@bp.get("/sign-in")
def sign_in() -> Page:
    if current_staff() is not None:
        return redirect(_safe_next(request.args.get("next")))
    notice = t("sign_in.expired") if request.args.get("ended") else None
    return render_template("desk/sign_in.html", next=request.args.get("next", ""), notice=notice)


@bp.post("/sign-in")
def sign_in_post() -> Page:
    username = request.form.get("username", "")[:100]
    password = request.form.get("password", "")
    next_url = request.form.get("next", "")
    known = accounts.find_account(services(), username) if username else None
    a = _attempt(known.id if known else None)
    ctx: dict[str, object] = {"next": next_url, "username": username}
    refused = _throttled(a, "desk/sign_in.html", **ctx)
    if refused is not None:
        return refused
    throttle().count_attempt(a)
    throttle().wait_delay(a)
    result = accounts.check_password(services(), username, password)
    if result.outcome is PasswordCheck.OK and result.account is not None:
        s = _desk_session()
        s.clear()
        s.rotate()
        s["pending_uid"] = result.account.id
        s["pending_at"] = time.time()
        s["next"] = next_url
        return redirect(url_for("desk.second_factor"), code=303)
    throttle().failed(a)
    audit.record(
        services(),
        action=Action.SIGN_IN_FAILED,
        actor_id=None,
        record_type=RecordType.STAFF_USER if known else None,
        record_ref=str(known.id) if known else None,
        address=a.address,
        detail="not_enrolled" if result.outcome is PasswordCheck.NOT_ENROLLED else "password",
    )
    key = (
        "sign_in.not_enrolled" if result.outcome is PasswordCheck.NOT_ENROLLED else "sign_in.wrong"
    )
    return render_template("desk/sign_in.html", error=t(key), **ctx), 401


def _pending_uid() -> int | None:
    s = _desk_session()
    uid = s.get("pending_uid")
    at = s.get("pending_at")
    if not isinstance(uid, int) or not isinstance(at, float | int):
        return None
    if time.time() - at > PENDING_TTL_S:
        s.clear()
        return None
    return uid


@bp.get("/sign-in/code")
def second_factor() -> Page:
    if _pending_uid() is None:
        return redirect(url_for("desk.sign_in"))
    return render_template("desk/second_factor.html")


@bp.post("/sign-in/code")
def second_factor_post() -> Page:
    uid = _pending_uid()
    if uid is None:
        return redirect(url_for("desk.sign_in"), code=303)
    a = _attempt(uid)
    refused = _throttled(a, "desk/second_factor.html")
    if refused is not None:
        return refused
    throttle().count_attempt(a)
    throttle().wait_delay(a)
    used = accounts.verify_second_factor(
        services(), uid, request.form.get("code", "")[:40], address=a.address
    )
    if used is None:
        throttle().failed(a)
        audit.record(
            services(),
            action=Action.SECOND_FACTOR_FAILED,
            actor_id=uid,
            record_type=RecordType.STAFF_USER,
            record_ref=str(uid),
            address=a.address,
        )
        return render_template("desk/second_factor.html", error=t("code.wrong")), 401
    account = accounts.get_account(services(), uid)
    if account is None:  # pragma: no cover - deleted between the two steps
        abort(401)
    next_url = _safe_next(_desk_session().get("next"))
    device = _start_full_session(account, a)
    if used is SecondFactor.RECOVERY:
        flash(t("code.recovery_used", left=accounts.recovery_codes_left(services(), uid)))
    response = redirect(next_url, code=303)
    _set_device_cookie(response, device)
    return response


@bp.post("/sign-out")
def sign_out() -> Page:
    staff = current_staff()
    if staff is not None:
        audit_event(Action.SIGN_OUT, record_type=RecordType.STAFF_USER, record_ref=str(staff.id))
    _desk_session().end()
    response = make_response(redirect(url_for("desk.signed_out"), code=303))
    return response


@bp.get("/signed-out")
def signed_out() -> Page:
    return render_template("desk/sign_in.html", notice=t("sign_in.signed_out"), next="")


# Enrolment ---------------------------------------------------------------------------------


@bp.get("/enrol/<token>")
def enrol_link(token: str) -> Page:
    """The link from `users create`: remember the token in the session, then drop it from the
    address bar (and from browser history) by redirecting to /desk/enrol."""
    account = accounts.account_for_enrolment(services(), token)
    if account is None:
        return render_template("desk/message.html", message=t("enrol.bad_link")), 404
    s = _desk_session()
    s.clear()
    s.rotate()
    s["enrol_token"] = token
    return redirect(url_for("desk.enrol"), code=303)


def _enrolment() -> tuple[str, StaffAccount] | None:
    token = _desk_session().get("enrol_token")
    if not isinstance(token, str):
        return None
    account = accounts.account_for_enrolment(services(), token)
    return None if account is None else (token, account)


@bp.get("/enrol")
def enrol() -> Page:
    found = _enrolment()
    if found is None:
        return render_template("desk/message.html", message=t("enrol.bad_link")), 404
    return render_template(
        "desk/enrol_password.html", account=found[1], min_chars=accounts.PASSWORD_MIN_CHARS
    )


@bp.post("/enrol")
def enrol_post() -> Page:
    found = _enrolment()
    if found is None:
        return render_template("desk/message.html", message=t("enrol.bad_link")), 404
    token, account = found
    password = request.form.get("password", "")
    ctx: dict[str, object] = {"account": account, "min_chars": accounts.PASSWORD_MIN_CHARS}
    if password != request.form.get("password_confirm", ""):
        return render_template(
            "desk/enrol_password.html", error=t("enrol.password_mismatch"), **ctx
        ), 400
    try:
        accounts.set_password_with_token(services(), token, password, address=client_address())
    except AccountError as exc:
        key = f"enrol.{exc.code}" if f"enrol.{exc.code}" in _ENROL_ERRORS else "enrol.bad_link"
        message = t(key, n=accounts.PASSWORD_MIN_CHARS)
        return render_template("desk/enrol_password.html", error=message, **ctx), 400
    return redirect(url_for("desk.enrol_2fa"), code=303)


_ENROL_ERRORS = {
    "enrol.password_short",
    "enrol.password_long",
    "enrol.password_is_username",
}


def _qr_svg(uri: str) -> Markup:
    """The otpauth URI as an inline SVG QR code, drawn on the server (no script, no CDN)."""
    svg = segno.make(uri, error="m").svg_inline(
        scale=5, border=2, omitsize=True, svgclass="qr", lineclass=None
    )
    return Markup(svg)  # noqa: S704  (segno's own markup; the URI is ours)


@bp.get("/enrol/2fa")
def enrol_2fa() -> Page:
    found = _enrolment()
    if found is None:
        return render_template("desk/message.html", message=t("enrol.bad_link")), 404
    return _enrol_2fa_page(found[1])


def _enrol_2fa_page(account: StaffAccount, error: str | None = None) -> Page:
    s = _desk_session()
    secret = s.get("totp_secret")
    if not isinstance(secret, str):
        secret = accounts.new_totp_secret()
        s["totp_secret"] = secret
    uri = accounts.totp_uri(secret, account.username)
    grouped = " ".join(secret[i : i + 4] for i in range(0, len(secret), 4))
    page = render_template(
        "desk/enrol_2fa.html", account=account, qr=_qr_svg(uri), secret=grouped, error=error
    )
    return (page, 400) if error else page


@bp.post("/enrol/2fa")
def enrol_2fa_post() -> Page:
    found = _enrolment()
    s = _desk_session()
    secret = s.get("totp_secret")
    if found is None or not isinstance(secret, str):
        return render_template("desk/message.html", message=t("enrol.bad_link")), 404
    token, account = found
    a = _attempt(account.id)
    refused = _throttled(a, "desk/message.html", message=t("error.429"))
    if refused is not None:
        return refused
    throttle().count_attempt(a)
    try:
        codes = accounts.confirm_totp(
            services(), token, secret, request.form.get("code", "")[:20], address=a.address
        )
    except AccountError as exc:
        if exc.code != "bad_code":
            return render_template("desk/message.html", message=t("enrol.bad_link")), 404
        throttle().failed(a)
        return _enrol_2fa_page(account, t("enrol.totp_wrong"))
    end_user_sessions(redis_conn(), account.id)
    fresh = accounts.get_account(services(), account.id)
    if fresh is None:  # pragma: no cover
        abort(404)
    device = _start_full_session(fresh, a)
    audit_event(Action.SIGN_IN, record_type=RecordType.STAFF_USER, record_ref=str(fresh.id))
    g.desk_staff = fresh
    response = make_response(render_template("desk/recovery_codes.html", codes=codes))
    _set_device_cookie(response, device)
    return response


# Home and errors ---------------------------------------------------------------------------


@bp.get("/")
@login_required
def home() -> Page:
    """The landing page after sign-in: the cases inbox for those who work cases."""
    staff = current_staff_or_401()
    if staff.can(Permission.CASES_LIST):
        return redirect(url_for("desk.cases_inbox"))
    return render_template("desk/home.html", staff=staff)


@bp.errorhandler(CSRFError)
def csrf_refused(exc: CSRFError) -> Page:
    staff = current_staff()
    audit.record(
        services(),
        action=Action.CSRF_REFUSED,
        actor_id=staff.id if staff else None,
        record_type=RecordType.PAGE,
        record_ref=request.endpoint,
        address=client_address(),
    )
    return render_template("desk/error.html", code=400, message=t("error.csrf")), 400


@bp.errorhandler(HTTPException)
def http_error(exc: HTTPException) -> Page:
    code = exc.code or 500
    key = f"error.{code}" if f"error.{code}" in _ERROR_KEYS else "error.400"
    return render_template("desk/error.html", code=code, message=t(key)), code


_ERROR_KEYS = {"error.400", "error.403", "error.404", "error.405", "error.429", "error.500"}
