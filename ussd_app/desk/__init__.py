"""The staff desk: a Flask blueprint under /desk/ with sign-in, two-factor and administration.

`init_desk(app, container)` is all the app factory calls: it installs the Redis session
interface, CSRF, security headers and the sign-in throttle, and registers the blueprint. Feature
pages (cases, statistics) add their views to `bp` (or their own blueprint under /desk/) and use
the decorators in `ussd_app.desk.auth` and the base template `desk/base.html`.
"""

from __future__ import annotations

from typing import Protocol

import redis
from flask import Blueprint, Flask, g, request
from werkzeug.middleware.proxy_fix import ProxyFix

from ussd_app.config import Settings
from ussd_app.desk.strings import t


class DeskContainer(Protocol):
    """What the desk needs of the composition root's container (`ussd_app.bootstrap`), which
    it does not import: the app factory above it passes the container in. The service context
    is read from `app.extensions["ussd"].services` at request time."""

    settings: Settings
    redis: redis.Redis


bp = Blueprint(
    "desk",
    __name__,
    url_prefix="/desk",
    template_folder="templates",
    static_folder="static",
    static_url_path="/static",
)


@bp.before_request
def _before_desk_request() -> None:
    """Resolve the signed-in user, then check CSRF on every desk POST (in that order, so a
    refused POST is audited with who sent it)."""
    from ussd_app.desk.auth import load_signed_in_user
    from ussd_app.desk.security import csrf

    load_signed_in_user()
    if request.method == "POST":
        csrf.protect()


@bp.app_context_processor
def _template_globals() -> dict[str, object]:
    """What every desk template can use: `t(...)`, the signed-in `staff`, `Permission`."""
    if not request.path.startswith("/desk"):
        return {}
    from ussd_app.desk.auth import current_staff
    from ussd_app.staff.roles import Permission

    return {
        "t": t,
        "staff": current_staff(),
        "Permission": Permission,
        "session_ended": bool(g.get("desk_session_ended")),
    }


def cookie_name(production: bool) -> str:
    """`__Host-` in production: the browser then insists on Secure, Path=/ and no Domain."""
    return "__Host-desk" if production else "desk_session"


def init_desk(app: Flask, container: DeskContainer) -> None:
    """Attach the desk to `app`: sessions, CSRF, headers, throttle, blueprint."""
    import ussd_app.desk.health  # (border health desk registers on bp)
    import ussd_app.desk.registrations  # noqa: F401  (returnee pages register on bp)
    from ussd_app.desk import admin, cases, roster, security, stats, views  # noqa: F401  (register on bp)
    from ussd_app.desk.sessions import RedisSessionInterface
    from ussd_app.desk.throttle import SignInThrottle

    settings = container.settings
    if settings.desk_trusted_proxies:
        n = settings.desk_trusted_proxies
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=n, x_proto=n, x_host=n)  # type: ignore[method-assign]
    security.configure(app, settings)
    app.session_interface = RedisSessionInterface(
        container.redis,
        idle_timeout_s=settings.desk_idle_timeout_s,
        absolute_timeout_s=settings.desk_absolute_timeout_s,
        cookie_name=cookie_name(settings.is_production),
        secure=settings.is_production,
    )
    app.extensions["desk.throttle"] = SignInThrottle(
        container.redis,
        address_limit=settings.desk_address_limit,
        account_limit=settings.desk_account_limit,
        max_delay_s=settings.desk_signin_max_delay_s,
    )

    app.register_blueprint(bp)
