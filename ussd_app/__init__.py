"""USSD/SMS service for returnee registration and confidential trafficking reports in Lesotho."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from flask import Flask

    from ussd_app.bootstrap import Container
    from ussd_app.config import Settings


def create_app(settings: Settings | None = None, container: Container | None = None) -> Flask:
    """The Flask app factory (gunicorn: `ussd_app:create_app()`)."""
    from ussd_app.web.app import build_app

    return build_app(settings=settings, container=container)
