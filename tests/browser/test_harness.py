"""The browser harness proves itself: the live service answers, Chromium renders it, a screenshot
is written, a USSD session goes through the live webhook, and the CLI reaches the same data."""

from __future__ import annotations

from pathlib import Path

from playwright.sync_api import Page

from tests.browser.harness import LiveServer, live_database_url, live_redis_url, save_screenshot


def test_chromium_renders_the_live_health_page_and_takes_a_screenshot(
    live_server: LiveServer, page: Page, tmp_path: Path
) -> None:
    response = page.goto("/healthz")
    assert response is not None and response.status == 200
    assert '"ok":true' in page.inner_text("body").replace(" ", "")
    shot = save_screenshot(page, "harness-healthz", directory=tmp_path)
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_a_dialled_report_is_stored_where_the_cli_sees_it(live_server: LiveServer) -> None:
    # English, report, danger no, child no, flag 1, Maputsoe Bridge, today, one person,
    # skip vehicle, no call-back.
    session = live_server.dial("2", "2", "2", "2", "1", "2", "2", "1", "1", "1")
    assert session.last_response.startswith("END "), session.last_response
    assert "T-" in session.last_response
    status = live_server.cli("alerts", "status")
    assert "alert" in status.stdout, status.stdout


def test_the_live_server_gets_its_own_database_and_redis_db() -> None:
    assert live_database_url({}) is None
    assert live_redis_url({}) is None
    assert (
        live_database_url(
            {"TEST_DATABASE_URL": "postgresql+psycopg://postgres@127.0.0.1:5432/test"}
        )
        == "postgresql+psycopg://postgres@127.0.0.1:5432/test_live"
    )
    assert live_redis_url({"TEST_REDIS_URL": "redis://127.0.0.1:6379/9"}) == (
        "redis://127.0.0.1:6379/10"
    )
    assert live_redis_url({"TEST_REDIS_URL": "unix:///tmp/r.sock?db=3"}) == (
        "unix:///tmp/r.sock?db=4"
    )
    assert (
        live_redis_url({"TEST_REDIS_URL": "redis://x/9", "TEST_LIVE_REDIS_URL": "redis://y/6"})
        == "redis://y/6"
    )
