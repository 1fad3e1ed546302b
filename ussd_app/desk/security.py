"""HTTP hardening for the desk: security headers, cookie flags and CSRF.

- Content-Security-Policy without inline script: scripts and styles only from our own static
  folder; the TOTP QR code is inline SVG markup, which CSP does not treat as script.
- `Cache-Control: no-store` on every desk page (they can show personal data); the stylesheet
  may be cached briefly.
- HSTS in production only (a development server on http://127.0.0.1 must stay reachable).
- Cookies are HttpOnly and SameSite=Strict, and Secure in production (set in `sessions` and for
  the known-device cookie in `views`).
- CSRF: Flask-WTF's token on every desk form, checked for every desk POST. It is not applied
  app-wide, because the gateway webhooks (`/ussd`, `/sms/*`) are POSTed by Africa's Talking
  and are protected by the gateway token instead.
"""

from __future__ import annotations

import hashlib
import hmac

from flask import Flask, Response, request
from flask_wtf.csrf import CSRFProtect

from ussd_app.config import Settings
from ussd_app.gateway import HSTS

CSP = "; ".join(
    (
        "default-src 'none'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self' data:",
        "form-action 'self'",
        "frame-ancestors 'none'",
        "base-uri 'none'",
        "connect-src 'self'",
    )
)

csrf = CSRFProtect()


def secret_key(settings: Settings) -> str:
    """Flask's secret key (it signs only the CSRF tokens; sessions are server-side), derived
    from PHONE_HASH_KEY so production needs no extra secret; HMAC keeps the two uses apart."""
    return hmac.new(
        settings.phone_hash_key.encode(), b"ussd_app.desk secret key", hashlib.sha256
    ).hexdigest()


def configure(app: Flask, settings: Settings) -> None:
    """Set the desk's security config on `app` and add the header hook."""
    if not app.secret_key:
        app.secret_key = secret_key(settings)
    app.config.update(
        WTF_CSRF_CHECK_DEFAULT=False,  # checked by the desk blueprint only (see above)
        WTF_CSRF_TIME_LIMIT=settings.desk_absolute_timeout_s,
        WTF_CSRF_SSL_STRICT=True,
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Strict",
        SESSION_COOKIE_SECURE=settings.is_production,
    )
    csrf.init_app(app)
    production = settings.is_production

    @app.after_request
    def _security_headers(response: Response) -> Response:
        if production:
            response.headers.setdefault("Strict-Transport-Security", HSTS)
        if request.path.startswith("/desk"):
            add_desk_headers(response, static=request.path.startswith("/desk/static/"))
        return response


def add_desk_headers(response: Response, *, static: bool) -> None:
    """The headers every desk response carries."""
    h = response.headers
    h["Content-Security-Policy"] = CSP
    h["X-Content-Type-Options"] = "nosniff"
    h["X-Frame-Options"] = "DENY"
    h["Referrer-Policy"] = "no-referrer"
    h["Cross-Origin-Opener-Policy"] = "same-origin"
    h["Cross-Origin-Resource-Policy"] = "same-origin"
    h["Permissions-Policy"] = "camera=(), microphone=(), geolocation=(), payment=()"
    if static:
        h["Cache-Control"] = "public, max-age=3600"
    else:
        h["Cache-Control"] = "no-store"
        h["Pragma"] = "no-cache"
