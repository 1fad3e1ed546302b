"""Named actions that menus.yaml calls when a flow completes (`handler: name` on a screen).

Each handler is a plain function registered with `@handler("name")`. It receives a
`HandlerContext` (the caller's answers, phone, language and the service layer) and returns a
`HandlerResult` whose values fill the next screen's placeholders. Handlers import neither Flask
nor RQ and never commit: the services they call own the transactions.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ussd_app.menu.types import HandlerResult

if TYPE_CHECKING:
    from ussd_app.container import Services


@dataclass(frozen=True)
class HandlerContext:
    """What a handler may know about the caller and the session."""

    session_id: str
    phone: str  # E.164; never log it (use ussd_app.phones.mask)
    language: str
    answers: Mapping[str, Any]
    services: Services
    channel: str = "ussd"


class LimitReached(Exception):
    """Raised by a handler, before it stores anything, when the caller is over a rate limit:
    the hop ends with the system message `message` (menus.yaml `messages:`) in their language."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


HandlerFn = Callable[[HandlerContext], HandlerResult]
REGISTRY: dict[str, HandlerFn] = {}


def handler(name: str) -> Callable[[HandlerFn], HandlerFn]:
    """Register `fn` under `name` so menus.yaml can refer to it."""

    def register(fn: HandlerFn) -> HandlerFn:
        if name in REGISTRY and REGISTRY[name] is not fn:
            raise ValueError(f"handler {name!r} is registered twice")
        REGISTRY[name] = fn
        return fn

    return register


def load_all() -> dict[str, HandlerFn]:
    """Import every handler module (registering them) and return the registry."""
    from handlers import account, registration, reports  # noqa: F401

    return REGISTRY
