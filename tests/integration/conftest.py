"""Fixtures for the alert-path integration tests (see alerts_support.py for helpers)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from typing import Any

import pytest

from tests.integration.alerts_support import PARTNERS_FILE
from tests.standin import AtStandIn
from ussd_app.bootstrap import Container, bootstrap
from ussd_app.config import Settings
from ussd_app.partners.importer import import_partners
from ussd_app.runtime import jobs


@pytest.fixture
def standin() -> Iterator[AtStandIn]:
    with AtStandIn() as at:
        yield at


@pytest.fixture
def alert_settings(settings: Settings, standin: AtStandIn) -> Settings:
    return replace(
        settings,
        sms_backend="africastalking",
        at_base_url=standin.url,
        at_api_key="test-key",
        at_username="sandbox",
        at_timeout_s=1.0,
        sms_retry_delays=(0, 0, 0, 0),
    )


@pytest.fixture
def alert_container(
    alert_settings: Settings, clean_db: Any, redis_conn: Any
) -> Iterator[Container]:
    container = bootstrap(alert_settings)
    jobs.configure(container)
    import_partners(container.services.session_factory, PARTNERS_FILE)
    yield container
    container.close()  # held Redis writes go out first (write-behind)
