"""What every gateway webhook shares: the shared-secret check and form-field reading."""

from __future__ import annotations

import hmac
from collections.abc import Callable
from functools import wraps
from typing import Any, TypeVar, cast

from flask import Response, current_app, request

F = TypeVar("F", bound=Callable[..., Any])


class BadRequest(ValueError):
    """A gateway request we cannot accept; the message is sent back with a 400."""


def plain(body: str, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    return Response(body, status=status, mimetype="text/plain", headers=headers)


def require_gateway_token(view: F) -> F:
    """Refuse (403) a webhook call without the configured `token` query parameter.

    Africa's Talking does not sign callbacks, so the callback URLs carry a secret token
    (`/ussd?token=...`). When GATEWAY_TOKEN is unset (development) the check is off.
    """

    @wraps(view)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        expected: str = current_app.config["GATEWAY_TOKEN"]
        if expected:
            given = request.args.get("token", "")
            if not hmac.compare_digest(given.encode(), expected.encode()):
                return plain("forbidden: missing or wrong token\n", 403)
        return view(*args, **kwargs)

    return cast(F, wrapper)


def form_field(name: str, *, max_len: int, required: bool = True, allow_empty: bool = False) -> str:
    """A form field, or BadRequest naming what is wrong with it."""
    value = request.form.get(name)
    if value is None:
        if required:
            raise BadRequest(f"missing form field '{name}'")
        return ""
    if not value and not allow_empty and required:
        raise BadRequest(f"form field '{name}' is empty")
    if len(value) > max_len:
        raise BadRequest(f"form field '{name}' is longer than {max_len} characters")
    return value
