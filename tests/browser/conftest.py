"""Browser tests: a real headless Chromium (Debian's /usr/bin/chromium, driven by Playwright)
against the real service, `ussd-app serve` started once per test session as a process.

Fixtures (see `harness.py` for the helpers they return):

- `live_server` (session): the running service; `.base_url`, `.ussd_url`, `.cli(...)`,
  `.dial(...)`, `.output()`, `.sms_log_path`, `.database_url`, `.redis_url`, `.instance_dir`.
- `ussd_cli` (session): `live_server.cli`, i.e. `ussd_cli("users", "list")` runs
  `ussd-app users list` against the live server's database, Redis and instance folder.
- `dial_ussd` (session): `live_server.dial`, i.e. `dial_ussd("2", "2", "1", phone="+266...")`
  posts a whole session through the live /ussd webhook.
- `browser` (session): Chromium, headless. Never skipped: if it cannot start, tests fail.
- `browser_context` / `page` (per test): a fresh context (no cookies shared between tests)
  whose `base_url` is the live server, so `page.goto("/healthz")` works.
- `screenshot` (session): `screenshot(page, "desk-inbox")` writes `docs/screenshots/desk-inbox.png`.
"""

from __future__ import annotations

import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from playwright.sync_api import Browser, BrowserContext, Page, Playwright, sync_playwright

from tests.browser.harness import (
    CHROMIUM,
    CHROMIUM_ARGS,
    LiveServer,
    save_screenshot,
    start_live_server,
)

if TYPE_CHECKING:
    from ussd_app.ussd.simulator import SimulatedSession


@pytest.fixture(scope="session")
def live_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    """`ussd-app serve` on a free 127.0.0.1 port, healthy, stopped with SIGTERM at the end."""
    server = start_live_server(tmp_path_factory.mktemp("live"))
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="session")
def ussd_cli(live_server: LiveServer) -> Callable[..., subprocess.CompletedProcess[str]]:
    """`ussd_cli("users", "create", ...)`; a non-zero exit fails the test unless check=False."""
    return live_server.cli


@pytest.fixture(scope="session")
def dial_ussd(live_server: LiveServer) -> Callable[..., SimulatedSession]:
    """`dial_ussd("2", "2", "1", phone="+26658000001")`: answers after the first screen."""
    return live_server.dial


@pytest.fixture(scope="session")
def playwright() -> Iterator[Playwright]:
    with sync_playwright() as pw:
        yield pw


@pytest.fixture(scope="session")
def browser(playwright: Playwright) -> Iterator[Browser]:
    """Debian's Chromium through `executable_path`: never a browser Playwright downloads."""
    if not CHROMIUM.exists():
        pytest.fail(f"{CHROMIUM} is missing: apt-get install -y chromium (.ci/run does this)")
    launched = playwright.chromium.launch(
        executable_path=str(CHROMIUM), headless=True, args=list(CHROMIUM_ARGS)
    )
    try:
        yield launched
    finally:
        launched.close()


@pytest.fixture
def browser_context(browser: Browser, live_server: LiveServer) -> Iterator[BrowserContext]:
    context = browser.new_context(
        base_url=live_server.base_url, viewport={"width": 1280, "height": 800}
    )
    context.set_default_timeout(10_000)
    try:
        yield context
    finally:
        context.close()


@pytest.fixture
def page(browser_context: BrowserContext) -> Page:
    return browser_context.new_page()


@pytest.fixture(scope="session")
def screenshot() -> Callable[[Page, str], Path]:
    return save_screenshot
