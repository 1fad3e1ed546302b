"""Test doubles shared by several test modules."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import redis


class DeadRedis:
    """A Redis client whose every call fails as if the server were down (its pool too)."""

    @property
    def connection_pool(self) -> Any:
        return self

    def get_connection(self, *args: Any, **kwargs: Any) -> Any:
        raise redis.exceptions.ConnectionError("redis is down")

    def __getattr__(self, name: str) -> Any:
        def fail(*args: Any, **kwargs: Any) -> Any:
            raise redis.exceptions.ConnectionError("redis is down")

        return fail


class NoAlerts:
    """An `AlertPort` that stages nothing (service tests that are not about alerts).

    The real one is `ussd_app.cases.alerts.ReportAlerts`, which the integration tests use.
    """

    def __init__(
        self,
        on_report: Callable[[Any, Any], None] | None = None,
        on_registration: Callable[[Any, Any, str], None] | None = None,
    ) -> None:
        self._on_report = on_report
        self._on_registration = on_registration

    def stage_report_alerts(self, services: Any, uow: Any, report: Any) -> int:
        if self._on_report is not None:
            self._on_report(uow, report)
        return 0

    def stage_registration_notices(
        self, services: Any, uow: Any, registration: Any, phone: str
    ) -> None:
        if self._on_registration is not None:
            self._on_registration(uow, registration, phone)


class RecordingEnqueuer:
    """An `Enqueuer` that only records what it was asked to enqueue."""

    def __init__(self, result: bool = False) -> None:
        self.calls: list[tuple[int, Any, bool, Any]] = []
        self.routings: list[tuple[str, int]] = []
        self._result = result

    def enqueue(
        self, outbound_id: int, purpose: Any = None, *, replace: bool = False, at: Any = None
    ) -> bool:
        self.calls.append((outbound_id, purpose, replace, at))
        return self._result

    def enqueue_routing(self, subject: str, subject_id: int) -> bool:
        self.routings.append((subject, subject_id))
        return self._result


class QuietSmsObserver:
    """An `SmsObserver` that changes nothing (outbox tests that are not about cases)."""

    def still_needed(self, services: Any, uow: Any, row: Any) -> bool:
        return True

    def before_record(self, services: Any, uow: Any, rows: Any) -> None:
        return None

    def on_sent(self, services: Any, uow: Any, row: Any) -> None:
        return None

    def on_failed(self, services: Any, uow: Any, row: Any) -> None:
        return None
