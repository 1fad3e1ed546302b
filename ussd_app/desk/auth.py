"""Who is signed in, and the decorators every desk view uses to say who may see it.

For feature pages (cases, statistics):

    from ussd_app.desk.auth import current_staff, login_required, permission_required, refuse
    from ussd_app.staff.roles import Permission

    @bp.get("/cases/<reference>")
    @permission_required(Permission.CASES_VIEW)
    def case_detail(reference: str) -> str:
        staff = current_staff_or_401()
        case = cases.find_for_partner(services(), reference, staff.partner_id)
        if case is None:
            refuse("case", reference)          # audits, then 404
        audit_event("case.view", record_type="case", record_ref=reference)
        ...

The signed-in user is loaded from the database on every request (one query), so a disabled
account or a reset 2FA ends its sessions at once even if Redis still holds them.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import TYPE_CHECKING, NoReturn, ParamSpec, TypeVar
from urllib.parse import urlencode

from flask import abort, current_app, g, redirect, request, session, url_for
from werkzeug.wrappers import Response as WerkzeugResponse

from ussd_app.staff import accounts, audit
from ussd_app.staff.accounts import StaffAccount
from ussd_app.staff.audit import Action, RecordType
from ussd_app.staff.roles import Permission, Role

if TYPE_CHECKING:
    import redis

    from ussd_app.container import Services
    from ussd_app.desk.throttle import SignInThrottle

P = ParamSpec("P")
R = TypeVar("R")


def services() -> Services:
    """The service context of the running app."""
    return current_app.extensions["ussd"].services  # type: ignore[no-any-return]


def redis_conn() -> redis.Redis:
    """The app's Redis connection (sessions, throttling)."""
    return current_app.extensions["ussd"].redis  # type: ignore[no-any-return]


def throttle() -> SignInThrottle:
    return current_app.extensions["desk.throttle"]  # type: ignore[no-any-return]


def client_address() -> str:
    """The client's address (after ProxyFix when DESK_TRUSTED_PROXIES is set)."""
    return request.remote_addr or "unknown"


def current_staff() -> StaffAccount | None:
    """The signed-in staff user of this request, or None."""
    staff: StaffAccount | None = g.get("desk_staff")
    return staff


def current_staff_or_401() -> StaffAccount:
    """The signed-in staff user; for views already behind `login_required`."""
    staff = current_staff()
    if staff is None:
        abort(401)
    return staff


def load_signed_in_user() -> None:
    """Blueprint `before_request`: resolve the session's user, ending stale sessions.

    A session ends here when its account is gone, disabled, or has changed credentials since
    the session began (2FA reset, disable); that is audited once.
    """
    g.desk_staff = None
    uid = session.get("uid")
    if not isinstance(uid, int):
        return
    account = accounts.get_account(services(), uid)
    if account is None or not account.active or account.credentials_epoch != session.get("epoch"):
        session.end()  # type: ignore[attr-defined]
        audit.record(
            services(),
            action=Action.SESSION_ENDED,
            actor_id=uid if account is not None else None,
            record_type=RecordType.STAFF_USER,
            record_ref=str(uid),
            address=client_address(),
        )
        g.desk_session_ended = True
        return
    g.desk_staff = account


def audit_event(
    action: str,
    *,
    record_type: str | None = None,
    record_ref: str | None = None,
    detail: str | None = None,
    uow: object | None = None,
) -> None:
    """Audit one action by the signed-in user, with this request's address.

    Pass `uow` (a `UnitOfWork`) to commit the row with the caller's own change.
    """
    from ussd_app.db import UnitOfWork

    staff = current_staff()
    audit.record(
        services(),
        action=action,
        actor_id=staff.id if staff else None,
        partner_id=staff.partner_id if staff else None,
        record_type=record_type,
        record_ref=record_ref,
        address=client_address(),
        detail=detail,
        uow=uow if isinstance(uow, UnitOfWork) else None,
    )


def refuse(record_type: str, record_ref: str | None, *, status: int = 404) -> NoReturn:
    """Audit a refused access to a record, then answer `status` (404 by default, so a record
    of another partner is indistinguishable from one that does not exist)."""
    audit_event(
        Action.ACCESS_REFUSED,
        record_type=record_type,
        record_ref=record_ref,
        detail=f"status={status}",
    )
    abort(status)


def _sign_in_redirect() -> WerkzeugResponse:
    target = request.full_path if request.method == "GET" else None
    if target and target.endswith("?"):
        target = target[:-1]
    args: dict[str, str] = {"next": target} if target else {}
    if g.get("desk_session_ended"):
        args["ended"] = "1"
    query = ("?" + urlencode(args)) if args else ""
    return redirect(url_for("desk.sign_in") + query)


def login_required(view: Callable[P, R]) -> Callable[P, R | WerkzeugResponse]:
    """Only signed-in staff; others are sent to the sign-in page (and back afterwards)."""

    @functools.wraps(view)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R | WerkzeugResponse:
        if current_staff() is None:
            return _sign_in_redirect()
        return view(*args, **kwargs)

    return wrapper


def _refuse_page() -> NoReturn:
    audit_event(Action.ACCESS_REFUSED, record_type=RecordType.PAGE, record_ref=request.endpoint)
    abort(403)


def role_required(
    *roles: Role | str,
) -> Callable[[Callable[P, R]], Callable[P, R | WerkzeugResponse]]:
    """Only signed-in staff with one of `roles`; anyone else signed in gets 403 (audited).

    Prefer `permission_required`: it keeps working when a role is added.
    """
    allowed = {str(r) for r in roles}

    def decorate(view: Callable[P, R]) -> Callable[P, R | WerkzeugResponse]:
        @functools.wraps(view)
        def wrapper(*args: P.args, **kwargs: P.kwargs) -> R | WerkzeugResponse:
            staff = current_staff()
            if staff is None:
                return _sign_in_redirect()
            if staff.role not in allowed:
                _refuse_page()
            return view(*args, **kwargs)

        return wrapper

    return decorate


def permission_required(
    *permissions: Permission,
) -> Callable[[Callable[P, R]], Callable[P, R | WerkzeugResponse]]:
    """Only signed-in staff whose role grants every one of `permissions`; else 403 (audited)."""

    def decorate(view: Callable[P, R]) -> Callable[P, R | WerkzeugResponse]:
        @functools.wraps(view)
        def wrapper(*args: P.args, **kwargs: P.kwargs) -> R | WerkzeugResponse:
            staff = current_staff()
            if staff is None:
                return _sign_in_redirect()
            if not all(staff.can(p) for p in permissions):
                _refuse_page()
            return view(*args, **kwargs)

        return wrapper

    return decorate
