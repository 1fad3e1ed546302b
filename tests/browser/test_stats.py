"""Programme statistics in a real Chromium against the running service (issue 11, "Browser
tests": an analyst sees the statistics and the drop-off map but gets 404 on any case or
registration URL; the charts render).

The live server gets the example partners and fictitious demo data (`ussd-app demo seed`), plus
one P1 report and one returnee registration dialled through the real /ussd webhook, so there is
a real case reference and a real registration reference to try. The analyst is made the way an
operator makes any staff user (`ussd-app users create`, then the printed link opened in the
browser, with `enrol` from test_desk.py), then signs in afresh with password and a TOTP code.
"""

from __future__ import annotations

import csv
import io
import re
import subprocess
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

import pytest
from playwright.sync_api import Browser, Page, ViewportSize, expect

from tests.browser.harness import LiveServer
from tests.browser.test_desk import Person, dial_report, enrol, sign_in_password, submit

if TYPE_CHECKING:
    from ussd_app.ussd.simulator import SimulatedSession

ANALYST_NAME = "Nthabiseng Stats"
REPORTER = "+26658400001"
RETURNEE = "+26658400002"
# Sessions that end on check_ref (English): well over the map's k = 5, in a flow the demo data
# leaves empty. The map is protected together with the sessions figure, and complements are the
# smallest cells that do the job: a count just over k beside the demo's small ones can be one.
ABANDONED = 12

# The answers after the first screen, as in register_shortest_en.yaml: English, register,
# consent (shared), Maseru, Gauteng, Maseru Bridge, valid passport, needs 1 and 3, woman 18-35,
# contact by SMS only.
REGISTRATION = ("2", "1", "1", "5", "1", "1", "1", "13", "1", "2")

# The image has loaded and decoded to a picture (a broken image is complete with width 0).
IMAGE_LOADED = "sel => { const i = document.querySelector(sel); return !!i && i.complete; }"
IMAGE_WIDTH = "sel => document.querySelector(sel).naturalWidth"


@dataclass
class Stats:
    analyst: Person
    case_ref: str
    registration_ref: str


@pytest.fixture(scope="module")
def stats(
    live_server: LiveServer,
    ussd_cli: Callable[..., subprocess.CompletedProcess[str]],
    dial_ussd: Callable[..., SimulatedSession],
    browser: Browser,
) -> Iterator[Stats]:
    ussd_cli("partners", "import", "partners.example.yaml")
    seeded = ussd_cli("demo", "seed", "--registrations", "120", "--reports", "80").stdout
    assert "120 registrations and 80 reports added" in seeded, seeded
    case_ref = dial_report(dial_ussd, REPORTER, call_back=False)
    last = dial_ussd(*REGISTRATION, phone=RETURNEE).last_response
    found = re.search(r"Your reference: (R-\d+)", last)
    assert last.startswith("END ") and found, last
    for n in range(ABANDONED):  # hung up on "Type the reference": the map colours it
        session = dial_ussd("2", "3", phone=f"+2665841{n:04d}")
        assert session.status == "Incomplete" and "reference" in session.last_response
    printed = ussd_cli(
        "users", "create", "--role", "analyst", "--partner", "lmps-atu-desk",
        "--name", ANALYST_NAME,
    ).stdout  # fmt: skip
    context = browser.new_context(
        base_url=live_server.base_url, viewport={"width": 1280, "height": 800}
    )
    context.set_default_timeout(10_000)
    try:
        analyst, _ = enrol(context.new_page(), printed, ANALYST_NAME)
        yield Stats(analyst, case_ref, found.group(1))
    finally:
        context.close()


def sign_in(page: Page, person: Person) -> None:
    """Password, then a fresh TOTP code: signed in."""
    sign_in_password(page, person)
    page.fill("#code", person.fresh_code())
    assert submit(page, "#submit", "/desk/sign-in/code").status == 303
    expect(page.locator("#signed-in-as")).to_contain_text(person.name)


def expect_image(page: Page, selector: str) -> None:
    """`selector` is an <img> that loaded and decoded to a picture wider than nothing."""
    page.wait_for_function(IMAGE_LOADED, arg=selector)
    width = page.evaluate(IMAGE_WIDTH, selector)
    assert width > 0, f"{selector} did not render: naturalWidth {width}"


def table_header(page: Page) -> list[str]:
    return [c.strip() for c in page.locator("#figure-table thead th").all_inner_texts()]


def test_an_analyst_sees_figures_and_the_dropoff_map_but_no_record(
    stats: Stats,
    page: Page,
    screenshot: Callable[[Page, str], Path],
) -> None:
    sign_in(page, stats.analyst)

    # The index: every figure, the drop-off map, and acknowledgement times.
    assert page.goto("/desk/stats").status == 200
    listed = page.locator("#stats-list a")
    for link in ("#stat-reports-by-post", "#stat-registrations-by-week", "#stat-dropoff"):
        expect(page.locator(link)).to_be_visible()
    assert listed.count() >= 10, listed.all_inner_texts()

    # A figure of the reports: its chart renders above its table, which has rows and a total.
    page.click("#stat-reports-by-post")
    page.wait_for_url("**/desk/stats/reports-by-post*")
    expect_image(page, "#chart")
    table = page.locator("#figure-table")
    expect(table).to_be_visible()
    assert page.locator("#figure-table tbody tr").count() >= 2  # at least one row and the total
    expect(page.locator("#grand-total")).not_to_be_empty()
    assert stats.case_ref not in page.inner_text("main")  # never a record's reference

    # The CSV is the table as shown: its first row is the table's header.
    header = table_header(page)
    with page.expect_download() as download:
        page.click("#dl-csv")
    path = download.value.path()
    assert download.value.suggested_filename == "reports-by-post-365d.csv"
    rows = list(csv.reader(io.StringIO(Path(path).read_text(encoding="utf-8"))))
    assert rows[0] == header, (rows[0], header)
    assert rows[-1][0] == "Total" and len(rows) >= 3, rows

    # A figure of the registrations: the README's screenshot.
    page.goto("/desk/stats")
    page.click("#stat-registrations-by-week")
    page.wait_for_url("**/desk/stats/registrations-by-week*")
    expect_image(page, "#chart")
    expect(page.locator("#figure-table")).to_be_visible()
    grand = page.inner_text("#grand-total").strip()
    assert grand.isdigit() and int(grand) >= 121, grand  # the seeded 120 and the dialled one
    page.select_option("#days", "90")  # the period filter: 13 weeks fit the README's picture
    page.click("#period-form button[type=submit]")
    page.wait_for_url("**/desk/stats/registrations-by-week?days=90")
    expect_image(page, "#chart")
    expect(page.locator("#days")).to_have_value("90")
    screenshot(page, "stats-figure")

    # The drop-off map of the USSD menu.
    page.goto("/desk/stats")
    page.click("#stat-dropoff")
    page.wait_for_url("**/desk/stats/dropoff*")
    expect_image(page, "#dropoff-map")
    svg = page.request.get(page.get_attribute("#dropoff-map", "src") or "")
    assert svg.status == 200 and svg.headers["content-type"].startswith("image/svg+xml")
    assert f"ended here: {ABANDONED}" in svg.text(), "the abandoned sessions are not on the map"
    screenshot(page, "stats-dropoff")

    # A record by URL: 404, as for one that does not exist; the page says nothing of it.
    for url in (f"/desk/cases/{stats.case_ref}", f"/desk/returnees/{stats.registration_ref}"):
        response = page.goto(url)
        assert response is not None and response.status == 404, (url, response and response.status)
        expect(page.locator("#error-message")).to_have_text("Not found.")
        assert "Maputsoe" not in page.inner_text("main") and "Palesa" not in page.content()
    assert urlsplit(page.url).path == f"/desk/returnees/{stats.registration_ref}"


PHONE_VIEWPORT: ViewportSize = {"width": 360, "height": 740}


def check_box(svg: str) -> str:
    """The count line of the check_ref box on the map (the text after its id and summary)."""
    texts = re.findall(r">([^<>]+)</text>", svg)
    i = texts.index("check_ref")
    return next((t for t in texts[i + 1 : i + 3] if t.startswith("ended here")), "")


# The <img> inside the chart's <picture> shows the phone-width chart (its `currentSrc`).
CURRENT_SRC = "sel => document.querySelector(sel).currentSrc"
NO_SIDEWAYS_SCROLL = "() => document.documentElement.scrollWidth <= window.innerWidth + 1"


def test_on_a_phone_the_follow_up_figures_render_narrow_and_show_no_record(
    stats: Stats,
    browser: Browser,
    live_server: LiveServer,
    screenshot: Callable[[Page, str], Path],
) -> None:
    context = browser.new_context(base_url=live_server.base_url, viewport=PHONE_VIEWPORT)
    context.set_default_timeout(10_000)
    try:
        page = context.new_page()
        sign_in(page, stats.analyst)
        index = page.goto("/desk/stats")
        assert index is not None and index.status == 200
        for key in (
            "registrations-referrals",
            "registrations-times",
            "reports-ack-times",
            "ussd-sessions",
        ):
            expect(page.locator(f"#stat-{key}")).to_be_visible()

        # Referral outcomes per need: the narrow chart, the table, and no record.
        page.click("#stat-registrations-referrals")
        page.wait_for_url("**/desk/stats/registrations-referrals*")
        expect_image(page, "#chart")
        assert "narrow=1" in page.evaluate(CURRENT_SRC, "#chart")
        header = table_header(page)
        assert header[1:3] == ["Not referred yet", "Referred, no answer yet"], header
        assert page.evaluate(NO_SIDEWAYS_SCROLL), "the page scrolls sideways on a phone"
        main = page.inner_text("main")
        assert stats.registration_ref not in main and "Palesa" not in page.content()
        screenshot(page, "stats-referrals-phone")

        # Times to first contact and to service delivered: the note says what is measured.
        page.goto("/desk/stats/registrations-times?days=365")
        expect_image(page, "#chart")
        expect(page.locator("#times-note")).to_contain_text("First contact")
        rows = page.locator("#figure-table tbody tr").all_inner_texts()
        assert rows[0].startswith("First contact") and len(rows) == 2, rows
        assert re.search(r"\d+(\.\d)? (min|hours|days)", rows[0]), rows[0]
        screenshot(page, "stats-times-phone")

        # Sessions per flow and language; the drop-off map in English only: the six
        # abandoned checks chose English ("2") before hanging up on the reference screen.
        page.goto("/desk/stats/ussd-sessions?days=365")
        expect_image(page, "#chart")
        assert table_header(page)[1:3] == ["Sesotho", "English"], table_header(page)
        expect(page.locator("#figure-table")).to_contain_text("Registration: abandoned")
        english = page.request.get("/desk/stats/dropoff.svg?days=365&lang=en").text()
        assert check_box(english) == f"ended here: {ABANDONED}" and "English" in english
        sesotho = page.request.get("/desk/stats/dropoff.svg?days=365&lang=st").text()
        assert check_box(sesotho) != f"ended here: {ABANDONED}"
    finally:
        context.close()
