"""Returnee follow-up on the desk in a real Chromium against the running service (issue 10,
"What it must show": browser tests).

One registration is dialled through the real /ussd webhook (as in register_shortest_en.yaml:
Maseru, clinic services and skills training, shared with partners). Four staff users are made
the way an operator makes them (`ussd-app users create`, the printed link opened in a browser):

- Ina IOM, officer of iom-lesotho, the programme partner told of every registration: the case
  worker who takes it, refers a need and marks it delivered;
- Nurse Border, officer of moh-border-health, the border health desks at Maseru Bridge,
  Maputsoe Bridge and Caledonspoort: finds the returnee by reference and by number, records a
  TB screening, registers a walk-in;
- Thabo Desk, officer of lmps-atu-desk, a partner never told of a registration: 404;
- Ada Admin, admin of lmps-atu-desk, who reads the audit.

The tests run in file order and build on each other; every page is weighed (under 100 KB) and
the last test takes the README's screenshots at 360 px wide and checks nothing scrolls sideways.
"""

from __future__ import annotations

import re
import subprocess
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import pytest
from playwright.sync_api import Browser, BrowserContext, Page, expect

from tests.browser.harness import LiveServer
from tests.browser.test_desk import (
    PAGE_LIMIT_BYTES,
    SIDEWAYS,
    Person,
    Weigher,
    audit_rows,
    enrol,
    new_page,
    sms_sent_to,
    submit,
)

if TYPE_CHECKING:
    from ussd_app.ussd.simulator import SimulatedSession

RETURNEE = "+26658500001"
RETURNEE_TYPED = "5850 0001"  # as a health worker types it from the person's phone
WALK_IN = "+26658500002"
IOM_CONTACT = "+26659990121"  # iom-lesotho's on-duty contact: told of every registration
# English, register, consent (shared), Maseru, Gauteng, staying, Maseru Bridge, valid passport,
# needs 1 and 3 (clinic services, skills training), woman 18-35, contact 1 (call me): the
# shortest registration (10 answers; register_shortest_en.yaml).
REGISTRATION = ("2", "1", "1", "5", "1", "1", "1", "13", "1", "1")


@dataclass
class Returnees:
    server: LiveServer
    browser: Browser
    weigher: Weigher
    admin: Person
    worker: Person  # IOM case worker
    nurse: Person  # border health desk
    police: Person  # another partner, never told
    ref: str
    refs: dict[str, str] = field(default_factory=dict)
    _contexts: list[BrowserContext] = field(default_factory=list)


@pytest.fixture(scope="module")
def returnees(
    live_server: LiveServer,
    ussd_cli: Callable[..., subprocess.CompletedProcess[str]],
    dial_ussd: Callable[..., SimulatedSession],
    browser: Browser,
) -> Iterator[Returnees]:
    ussd_cli("partners", "import", "partners.example.yaml")
    last = dial_ussd(*REGISTRATION, phone=RETURNEE).last_response
    found = re.search(r"Your reference: (R-\d+)", last)
    assert last.startswith("END ") and found, last
    staff = {
        "admin": ("admin", "lmps-atu-desk", "Ada Admin"),
        "worker": ("officer", "iom-lesotho", "Ina IOM"),
        "nurse": ("officer", "moh-border-health", "Nurse Border"),
        "police": ("officer", "lmps-atu-desk", "Thabo Police"),
    }

    def create(role: str, partner: str, name: str) -> str:
        return ussd_cli(
            "users", "create", "--role", role, "--partner", partner, "--name", name
        ).stdout

    with ThreadPoolExecutor(len(staff)) as pool:
        printed = dict(zip(staff, pool.map(lambda s: create(*s), staff.values()), strict=True))
    weigher = Weigher()
    contexts: list[BrowserContext] = []
    try:
        people = {
            key: enrol(new_page(browser, live_server, weigher, contexts), printed[key], who[2])[0]
            for key, who in staff.items()
        }
        yield Returnees(
            live_server, browser, weigher, ref=found.group(1), _contexts=contexts, **people
        )
    finally:
        for context in contexts:
            context.close()


def test_a_case_worker_takes_a_registration_refers_a_need_and_marks_it_delivered(
    returnees: Returnees,
) -> None:
    page, ref = returnees.worker.page, returnees.ref
    page.goto("/desk/returnees?folder=new")
    page.click(f"#reg-{ref} a")
    page.wait_for_url(f"**/desk/returnees/{ref}")
    expect(page.locator("#answers")).to_contain_text("Maseru")
    expect(page.locator("#answers")).to_contain_text("Call this number")  # how to reach them
    assert submit(page, "#take", f"/desk/returnees/{ref}/take").status == 302
    expect(page.locator("main")).to_contain_text("You have taken this registration.")
    # Refer clinic services to a named clinic, then record the service as delivered.
    page.select_option("#status-clinic", "referred")
    page.fill("#service-clinic", "Queen II Hospital clinic")
    assert submit(page, "#save-referral-clinic", f"/desk/returnees/{ref}/refer").status == 302
    expect(page.locator("#referral-clinic .referral-status")).to_have_text("Referred")
    page.select_option("#status-clinic", "delivered")
    assert submit(page, "#save-referral-clinic", f"/desk/returnees/{ref}/refer").status == 302
    expect(page.locator("#referral-clinic .referral-status")).to_have_text("Service delivered")
    expect(page.locator("#referral-clinic")).to_contain_text("Queen II Hospital clinic")
    # Staying or visiting: not asked on USSD, asked on the call and recorded here.
    expect(page.locator("#stay-form")).to_contain_text("ask on your call")
    page.select_option("#stay-intent", "staying")
    assert submit(page, "#save-stay", f"/desk/returnees/{ref}/stay").status == 302
    expect(page.locator("main")).to_contain_text("Staying or visiting recorded.")
    expect(page.locator("#answers")).to_contain_text("Back to stay")
    expect(page.locator("#stay-intent")).to_have_value("staying")
    # The plan, agreed with the person.
    assert submit(page, "#plan-agreed-button", f"/desk/returnees/{ref}/plan").status == 302
    expect(page.locator("#plan-agreed")).to_contain_text("Reintegration plan agreed on")
    expect(page.locator("#timeline")).to_contain_text("Reintegration plan agreed")
    expect(page.locator("#timeline")).to_contain_text("Referred: clinic, delivered")
    expect(page.locator("#timeline")).to_contain_text("Staying or visiting recorded from a call")
    page.goto("/desk/returnees?folder=mine")
    expect(page.locator(f"#reg-{ref}")).to_be_visible()


def test_a_border_health_worker_finds_it_by_reference_and_records_a_tb_screening(
    returnees: Returnees,
) -> None:
    page, ref = returnees.nurse.page, returnees.ref
    page.goto("/desk/border-health")
    page.fill("#h-ref", ref.lower())  # as typed in a hurry
    page.click("#find")
    expect(page.locator("#health-ref")).to_have_text(ref)
    expect(page.locator("main")).to_contain_text("Maseru")
    expect(page.locator("main")).not_to_contain_text(RETURNEE[-8:])  # never the number
    page.check("#svc-tb_screening")
    page.select_option("#h-post", "maseru_bridge")
    assert submit(page, "#save-services", f"/desk/border-health/{ref}").status == 302
    expect(page.locator("#given")).to_contain_text("TB screening, Maseru Bridge")
    # The case worker sees it on the registration page.
    worker = returnees.worker.page
    worker.goto(f"/desk/returnees/{ref}")
    expect(worker.locator("#health-given")).to_contain_text("TB screening")


def test_another_partners_officer_cannot_open_it_by_url(returnees: Returnees) -> None:
    page, ref = returnees.police.page, returnees.ref
    page.goto("/desk/returnees?folder=all")
    expect(page.locator(f"#reg-{ref}")).to_have_count(0)
    response = page.goto(f"/desk/returnees/{ref}")
    assert response is not None and response.status == 404
    expect(page.locator("#error-message")).to_have_text("Not found.")
    expect(page.locator("main")).not_to_contain_text("Maseru")
    # Nor can the health desk open the registration page itself.
    nurse = returnees.nurse.page
    response = nurse.goto(f"/desk/returnees/{ref}")
    assert response is not None and response.status == 404
    rows = audit_rows(returnees.admin, action="access.refused", record_ref=ref)
    assert sorted((r["who"], r["record"], r["detail"]) for r in rows) == sorted(
        [
            (returnees.police.username, f"registration:{ref}", "status=404"),
            (returnees.nurse.username, f"registration:{ref}", "status=404"),
        ]
    )


def test_a_health_worker_finds_a_returnee_by_number_and_registers_a_walk_in(
    returnees: Returnees,
) -> None:
    page, ref = returnees.nurse.page, returnees.ref
    page.goto("/desk/border-health")
    page.click("#by-number summary")
    page.fill("#h-number", RETURNEE_TYPED)
    page.select_option("#h-reason", "no_reference")
    assert submit(page, "#find-number", "/desk/border-health/find-number").status == 302
    expect(page.locator("#health-ref")).to_have_text(ref)
    assert RETURNEE_TYPED not in page.url and "58500001" not in page.url
    # Someone who never registered: not found, and the walk-in form opens with the number.
    page.goto("/desk/border-health")
    page.click("#by-number summary")
    page.fill("#h-number", WALK_IN)
    page.select_option("#h-reason", "before_walk_in")
    assert submit(page, "#find-number", "/desk/border-health/find-number").status == 200
    expect(page.locator("#number-not-found")).to_be_visible()
    expect(page.locator("#w-number")).to_have_value(WALK_IN)
    page.select_option("#w-district", "LS-C")  # Leribe
    page.check("#w-need-livelihood")
    page.check("#w-need-documents")
    page.check("#w-contact-sms")
    page.select_option("#w-language", "st")
    page.select_option("#w-post", "maputsoe_bridge")
    page.check("#w-share")
    page.check("#w-consent")
    assert submit(page, "#walk-in-save", "/desk/border-health/walk-in").status == 302
    flash = page.locator("main").inner_text()
    found = re.search(r"Give the returnee their reference: (R-\d+)", flash)
    assert found, flash
    walk_in = found.group(1)
    returnees.refs["walk_in"] = walk_in
    expect(page.locator("#health-ref")).to_have_text(walk_in)
    # Routed like any registration: the programme partner is told by SMS, codes only.
    notice = sms_sent_to(returnees.server, IOM_CONTACT, walk_in)
    assert "Leribe" in notice and WALK_IN not in notice and "58500002" not in notice
    worker = returnees.worker.page
    worker.goto("/desk/returnees?folder=new")
    worker.click(f"#reg-{walk_in} a")
    expect(worker.locator("#answers")).to_contain_text("walk-in, consent given verbally")
    expect(worker.locator("#consents")).to_contain_text("WALK_IN")
    # Both looks by number and the walk-in are audited, never with the number.
    admin = returnees.admin
    looks = audit_rows(admin, action="health.number_lookup")
    assert sorted(r["detail"] for r in looks) == [
        "reason=before_walk_in:not_found",
        "reason=no_reference:found",
    ]
    assert all(r["who"] == returnees.nurse.username for r in looks)
    (made,) = audit_rows(admin, action="health.walk_in")
    assert made["who"] == returnees.nurse.username
    assert made["record"] == f"registration:{walk_in}"
    for row in audit_rows(admin):
        assert "58500001" not in " ".join(row.values()) and "58500002" not in " ".join(row.values())


def test_small_screen_screenshots_and_every_page_under_100_kb(
    returnees: Returnees, screenshot: Callable[[Page, str], object]
) -> None:
    ref = returnees.ref
    walk_in = returnees.refs.get("walk_in")
    assert walk_in, "the walk-in test did not make its registration"
    phones: dict[str, Page] = {}
    for who in ("worker", "nurse"):
        person: Person = getattr(returnees, who)
        phone = new_page(
            returnees.browser,
            returnees.server,
            returnees.weigher,
            returnees._contexts,
            360,
            760,
        )
        phone.context.add_cookies(person.page.context.cookies())
        phones[who] = phone
    worker, nurse = phones["worker"], phones["nurse"]
    worker.goto("/desk/returnees?folder=all")
    expect(worker.locator(f"#reg-{walk_in}")).to_be_visible()
    screenshot(worker, "returnees-inbox-phone")
    assert worker.evaluate(SIDEWAYS) == [], "the returnees inbox scrolls sideways at 360 px"
    worker.goto(f"/desk/returnees/{walk_in}")
    expect(worker.locator("#referrals")).to_be_visible()
    screenshot(worker, "returnee-registration-phone")
    assert worker.evaluate(SIDEWAYS) == [], "the registration page scrolls sideways at 360 px"
    worker.goto("/desk/returnees?folder=due")
    worker.goto("/desk/returnees?folder=overdue")
    nurse.goto(f"/desk/border-health?ref={ref}")
    expect(nurse.locator("#given")).to_be_visible()
    screenshot(nurse, "border-health-phone")
    assert nurse.evaluate(SIDEWAYS) == [], "the border health page scrolls sideways at 360 px"
    nurse.goto("/desk/border-health")
    nurse.click("#walk-in summary")
    expect(nurse.locator("#walk-in-form")).to_be_visible()
    screenshot(nurse, "border-health-walk-in-phone")
    assert nurse.evaluate(SIDEWAYS) == [], "the walk-in form scrolls sideways at 360 px"

    weighed = returnees.weigher.paths()
    for path in (
        "/desk/returnees",
        f"/desk/returnees/{ref}",
        f"/desk/returnees/{walk_in}",
        "/desk/border-health",
        "/desk/border-health/find-number",
    ):
        assert path in weighed, (path, sorted(weighed))
    heavy = [(p.url, p.bytes) for p in returnees.weigher.pages if p.bytes >= PAGE_LIMIT_BYTES]
    assert heavy == [], heavy
    biggest = max(returnees.weigher.pages, key=lambda p: p.bytes)
    assert biggest.bytes > 1000, biggest
