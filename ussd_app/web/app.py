"""Builds the Flask app: settings, container, blueprints and error handlers."""

from __future__ import annotations

import atexit
import logging
import time

from flask import Flask, Response, g, request
from werkzeug.exceptions import HTTPException, RequestEntityTooLarge

from ussd_app import metrics as counters
from ussd_app.bootstrap import Container, bootstrap
from ussd_app.config import Settings
from ussd_app.gateway import TooLarge, plain
from ussd_app.logging_setup import configure_logging_for

log = logging.getLogger(__name__)


def build_app(settings: Settings | None = None, container: Container | None = None) -> Flask:
    """Create the app; builds its own container unless one is given (tests share one)."""
    if container is None:
        settings = settings or Settings.from_env()
        configure_logging_for(settings)
        container = bootstrap(settings)
        configure_logging_for(container.settings)  # now with the development secrets, if any
        atexit.register(container.close)
    app = Flask(__name__)
    app.config.update(
        MAX_CONTENT_LENGTH=container.settings.max_body_bytes,
        GATEWAY_TOKEN=container.settings.gateway_token,
        GATEWAY_NETWORKS=container.settings.gateway_networks,
        GATEWAY_TRUSTED_PROXIES=container.settings.gateway_trusted_proxies,
        # Keys the per-address webhook limit's digests (never an address in clear in Redis).
        RATE_LIMIT_SECRET=container.settings.phone_hash_key,
    )
    app.extensions["ussd"] = container
    # The same limits the services use (built by bootstrap on the app's Redis).
    app.extensions["rate_limits"] = container.services.limits

    from ussd_app.inbound import views as sms
    from ussd_app.ussd import views as ussd
    from ussd_app.web import health, metrics

    app.register_blueprint(ussd.bp)
    app.register_blueprint(sms.bp)
    app.register_blueprint(health.bp)
    app.register_blueprint(metrics.bp)  # GET /metrics, protected (README "Metrics")

    from ussd_app.desk import init_desk
    from ussd_app.ussd.endpoint import UssdEndpoint

    # Ordinary gateway hops are answered in front of Flask (the hot path); installed before the
    # desk's ProxyFix, which then wraps it, so both paths see the same client address.
    app.wsgi_app = UssdEndpoint(app.wsgi_app, app, container)  # type: ignore[method-assign]

    init_desk(app, container)  # /desk/: staff sign-in, sessions, CSRF, security headers

    # Request counts and latencies by route, in /metrics: what the access log told operators,
    # without a log line per hop.
    @app.before_request
    def _started() -> None:
        g.started_at = time.perf_counter()

    @app.after_request
    def _answered(response: Response) -> Response:
        started = g.get("started_at")
        if started is not None:
            rule = request.url_rule.rule if request.url_rule is not None else "_unmatched"
            counters.request_done(rule, response.status_code, time.perf_counter() - started)
        return response

    @app.errorhandler(RequestEntityTooLarge)
    def too_large(_exc: RequestEntityTooLarge) -> Response:
        limit = container.settings.max_body_bytes
        return plain(f"bad request: {TooLarge.over(limit)}\n", 413)

    @app.errorhandler(HTTPException)
    def http_error(exc: HTTPException) -> Response:
        return plain(f"{exc.code} {exc.name}: {exc.description}\n", exc.code or 500)

    return app
