"""Builds the Flask app: settings, container, blueprints and error handlers."""

from __future__ import annotations

import atexit
import logging

from flask import Flask, Response
from werkzeug.exceptions import HTTPException, RequestEntityTooLarge

from ussd_app.bootstrap import Container, bootstrap
from ussd_app.config import Settings
from ussd_app.logging_setup import configure_logging
from ussd_app.web.gateway import plain

log = logging.getLogger(__name__)


def build_app(settings: Settings | None = None, container: Container | None = None) -> Flask:
    """Create the app; builds its own container unless one is given (tests share one)."""
    if container is None:
        settings = settings or Settings.from_env()
        configure_logging(settings.log_level)
        container = bootstrap(settings)
        atexit.register(container.close)
    app = Flask(__name__)
    app.config.update(
        MAX_CONTENT_LENGTH=container.settings.max_body_bytes,
        GATEWAY_TOKEN=container.settings.gateway_token,
    )
    app.extensions["ussd"] = container

    from ussd_app.inbound import views as sms
    from ussd_app.ussd import views as ussd
    from ussd_app.web import health

    app.register_blueprint(ussd.bp)
    app.register_blueprint(sms.bp)
    app.register_blueprint(health.bp)

    @app.errorhandler(RequestEntityTooLarge)
    def too_large(_exc: RequestEntityTooLarge) -> Response:
        limit = container.settings.max_body_bytes
        return plain(f"bad request: body larger than {limit} bytes\n", 400)

    @app.errorhandler(HTTPException)
    def http_error(exc: HTTPException) -> Response:
        return plain(f"{exc.code} {exc.name}: {exc.description}\n", exc.code or 500)

    return app
