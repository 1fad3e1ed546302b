"""The staff desk in a real Chromium against the running service (issue 9, "What it must show").

One live `ussd-app serve` for the whole module, loaded with partners.example.yaml. Three staff
users are made the way an operator makes them (`ussd-app users create`, then the printed link
opened in the browser: password, authenticator secret from the page, a code, recovery codes):

- Ada Admin, admin of lmps-atu-desk (users and the audit; no case pages, no numbers);
- Thabo Desk, officer of lmps-atu-desk, the national duty desk every trafficking report alerts;
- Lineo Skillshare, officer of skillshare-lesotho, a returnee-only NGO that a trafficking report
  never alerts.

Each keeps the browser context they enrolled in (still signed in), so a sign-in with a TOTP code
is needed only where a test is about signing in: a TOTP step is good once per user. The tests run
in file order and build on each other (the P1 case filed in one is taken, refused and looked at in
the next ones); a test that needs an earlier one's case fails, never skips, if that one did not
make it.

Every page the browsers load is weighed (cache off, every response body summed per page) and
must stay under 100 KB; the last test writes the README screenshots.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any
from urllib.parse import urlencode, urlsplit

import pyotp
import pytest
import requests
from playwright.sync_api import Browser, BrowserContext, Page, Response, expect

from tests.browser.harness import LiveServer
from tests.serve_process import ROOT

if TYPE_CHECKING:
    from ussd_app.ussd.simulator import SimulatedSession

PASSWORD = "correct horse battery staple"
TOTP_STEP_S = 30
PAGE_LIMIT_BYTES = 100_000

DESK_CONTACT = "+26659990001"  # lmps-atu-desk, the national duty desk: alerted
BDS_CONTACT = "+26659990071"  # bds-maputsoe, transit monitors at Maputsoe Bridge: alerted
SKILLSHARE_CONTACT = "+26659990101"  # skillshare-lesotho, returnees only: never alerted
DESK_NAME = "LMPS Anti-Trafficking Unit - national duty desk"

REPORTER = "+26658300001"  # no call-back
CALLBACK_REPORTER = "+26658300002"  # agrees to a call-back


def p1_report(*, call_back: bool) -> tuple[str, ...]:
    """The answers after the first screen (menus.yaml, as in report_urgent_en.yaml): English,
    report, danger now yes, child yes, red flags F1 and F3, Maputsoe Bridge, now, 2 to 5
    people, a plate, call-back no (1) or yes (2)."""
    return ("2", "2", "1", "1", "13", "2", "1", "2", "A 123 BCD", "2" if call_back else "1")


# -- weighing every page ------------------------------------------------------------------------


@dataclass
class PageWeight:
    url: str
    bytes: int = 0


@dataclass
class Weigher:
    """The bytes each page load transfers (Chromium's own count, headers included): the
    document, its stylesheet and script, and the inbox's polls while it stays open. The cache
    is off, so every page is weighed as a first visit on a slow phone would fetch it."""

    pages: list[PageWeight] = field(default_factory=list)

    def watch(self, page: Page) -> None:
        cdp = page.context.new_cdp_session(page)
        current: list[PageWeight] = []
        loading: dict[str, PageWeight] = {}

        def received(event: dict[str, Any]) -> None:
            if event["type"] == "Document":
                current[:] = [PageWeight(event["response"]["url"])]
                self.pages.append(current[0])
            if current:
                loading[event["requestId"]] = current[0]

        def finished(event: dict[str, Any]) -> None:
            weight = loading.pop(event["requestId"], None)
            if weight is not None:
                weight.bytes += int(event["encodedDataLength"])

        cdp.on("Network.responseReceived", received)
        cdp.on("Network.loadingFinished", finished)
        cdp.send("Network.enable")
        cdp.send("Network.setCacheDisabled", {"cacheDisabled": True})

    def paths(self) -> set[str]:
        return {urlsplit(p.url).path for p in self.pages}


# -- people ---------------------------------------------------------------------------------------


@dataclass
class Person:
    """An enrolled staff user, with the browser they enrolled in (still signed in)."""

    name: str
    username: str
    id: int
    secret: str
    recovery_codes: list[str]
    page: Page
    last_step: int

    def fresh_code(self) -> str:
        """A TOTP code of a step this user has not used, good now and for the next 2 s (so a
        step boundary between typing and the server's check cannot spoil it)."""
        while True:
            now = time.time()
            current, soon = int(now // TOTP_STEP_S), int((now + 2) // TOTP_STEP_S)
            good = {current - 1, current, current + 1} & {soon - 1, soon, soon + 1}
            unused = sorted(s for s in good if s > self.last_step)
            if unused:
                self.last_step = unused[0]
                return pyotp.TOTP(self.secret).at(unused[0] * TOTP_STEP_S)
            time.sleep(TOTP_STEP_S - now % TOTP_STEP_S + 0.05)

    def wrong_code(self) -> str:
        """Six digits that are no code of any step the server would accept now."""
        now = time.time()
        taken = {pyotp.TOTP(self.secret).at(now + k * TOTP_STEP_S) for k in range(-2, 3)}
        return next(c for c in ("000000", "111111", "222222") if c not in taken)


@dataclass
class Desk:
    server: LiveServer
    browser: Browser
    weigher: Weigher
    admin: Person
    officer: Person
    ngo: Person
    enrolment_link: str  # the admin's, already spent
    cases: dict[str, str] = field(default_factory=dict)
    _contexts: list[BrowserContext] = field(default_factory=list)

    def new_page(self, width: int = 1280, height: int = 800) -> Page:
        return new_page(self.browser, self.server, self.weigher, self._contexts, width, height)

    def case(self, name: str) -> str:
        ref = self.cases.get(name)
        assert ref, f"the {name!r} case was not filed: an earlier test in this file failed"
        return ref


def new_page(
    browser: Browser,
    server: LiveServer,
    weigher: Weigher,
    contexts: list[BrowserContext],
    width: int = 1280,
    height: int = 800,
) -> Page:
    context = browser.new_context(
        base_url=server.base_url, viewport={"width": width, "height": height}
    )
    context.set_default_timeout(10_000)
    contexts.append(context)
    page = context.new_page()
    weigher.watch(page)
    return page


def enrol(page: Page, printed: str, name: str) -> tuple[Person, str]:
    """Open the link `ussd-app users create` printed, as the new user does: password, the
    authenticator secret from the page, a code; keep the recovery codes."""
    who = re.search(r"^user (\S+) \(id (\d+),", printed, re.M)
    link = re.search(r"https?://\S+?(/desk/enrol/\S+)", printed)
    assert who and link, printed
    page.goto(link.group(1))
    assert urlsplit(page.url).path == "/desk/enrol"  # the token leaves the address bar
    expect(page.locator("main")).to_contain_text(who.group(1))
    page.fill("#password", PASSWORD)
    page.fill("#password_confirm", PASSWORD)
    page.click("#submit")
    page.wait_for_url("**/desk/enrol/2fa")
    expect(page.locator("#totp-qr svg")).to_be_visible()  # the QR code, drawn on the server
    secret = page.inner_text("#totp-secret").replace(" ", "")
    assert re.fullmatch(r"[A-Z2-7]{16,}", secret), secret
    person = Person(name, who.group(1), int(who.group(2)), secret, [], page, last_step=0)
    page.fill("#code", person.fresh_code())
    page.click("#submit")
    codes = page.locator("#recovery-codes code").all_inner_texts()
    assert len(codes) == 10 and len(set(codes)) == 10, codes
    person.recovery_codes = codes
    page.click("#continue")
    expect(page.locator("#signed-in-as")).to_contain_text(name)
    return person, link.group(1)


@pytest.fixture(scope="module")
def desk(
    live_server: LiveServer,
    ussd_cli: Callable[..., subprocess.CompletedProcess[str]],
    browser: Browser,
) -> Iterator[Desk]:
    ussd_cli("partners", "import", "partners.example.yaml")
    staff = {
        "admin": ("admin", "lmps-atu-desk", "Ada Admin"),
        "officer": ("officer", "lmps-atu-desk", "Thabo Desk"),
        "ngo": ("officer", "skillshare-lesotho", "Lineo Skillshare"),
    }

    def create(role: str, partner: str, name: str) -> str:
        return ussd_cli(
            "users", "create", "--role", role, "--partner", partner, "--name", name
        ).stdout

    with ThreadPoolExecutor(len(staff)) as pool:  # each `ussd-app` is mostly its start-up
        printed = dict(zip(staff, pool.map(lambda s: create(*s), staff.values()), strict=True))
    weigher = Weigher()
    contexts: list[BrowserContext] = []

    def person(key: str) -> tuple[Person, str]:
        page = new_page(browser, live_server, weigher, contexts)
        return enrol(page, printed[key], staff[key][2])

    try:
        admin, link = person("admin")
        officer, _ = person("officer")
        ngo, _ = person("ngo")
        yield Desk(live_server, browser, weigher, admin, officer, ngo, link, _contexts=contexts)
    finally:
        for context in contexts:
            context.close()


# -- helpers -------------------------------------------------------------------------------------


def submit(page: Page, selector: str, path: str) -> Response:
    """Click a submit button and return the server's answer to the POST it sends."""
    with page.expect_response(
        lambda r: r.request.method == "POST" and urlsplit(r.url).path == path
    ) as answer:
        page.click(selector)
    page.wait_for_load_state()
    return answer.value


def sign_in_password(page: Page, person: Person) -> None:
    page.goto("/desk/sign-in")
    page.fill("#username", person.username)
    page.fill("#password", PASSWORD)
    assert submit(page, "#submit", "/desk/sign-in").status == 303
    page.wait_for_url("**/desk/sign-in/code")


def audit_rows(admin: Person, **filters: str) -> list[dict[str, str]]:
    """The admin's /desk/admin/audit page, filtered, as rows of its columns."""
    page = admin.page
    response = page.goto("/desk/admin/audit?" + urlencode(filters))
    assert response is not None and response.status == 200
    columns = ("when", "who", "action", "record", "detail", "address")
    return [
        dict(zip(columns, row.locator("td").all_inner_texts(), strict=True))
        for row in page.locator("#audit-rows tbody tr").all()
    ]


def inbound_sms(server: LiveServer, sender: str, text: str) -> str:
    """Post an inbound SMS to the live /sms/inbound as Africa's Talking does."""
    token = server.env.get("GATEWAY_TOKEN", "")
    url = server.base_url + "/sms/inbound" + (f"?token={token}" if token else "")
    with requests.Session() as http:
        http.trust_env = False  # 127.0.0.1 never goes through a proxy
        res = http.post(
            url,
            data={
                "from": sender,
                "to": "12345",
                "text": text,
                "id": f"desk-test-{uuid.uuid4()}",
                "date": time.strftime("%Y-%m-%d %H:%M:%S"),
            },
            timeout=10,
        )
    assert res.status_code == 200, res.text
    return res.text


def masked(server: LiveServer, phone: str) -> str:
    """`phone` as the live server writes it on its console (and, in newer versions, in its
    SMS log): the app's own mask under the server's PHONE_HASH_KEY, worked out in a process
    of its own so this one's mask key is left alone."""
    code = (
        "import sys; from ussd_app.phones import mask, set_mask_key; "
        "set_mask_key(sys.argv[1]); print(mask(sys.argv[2]))"
    )
    done = subprocess.run(
        [sys.executable, "-c", code, server.phone_hash_key, phone],
        cwd=str(ROOT),
        env=server.env,
        capture_output=True,
        text=True,
        check=True,
        timeout=30,
    )
    return done.stdout.strip()


def sms_sent_to(server: LiveServer, phone: str, contains: str, timeout: float = 30) -> str:
    """The text of an SMS the live server sent to `phone` containing `contains`: a record of
    its console backend's sms.log (the number in full or masked) and the `[SMS to ...]` line
    it printed."""
    to = {phone, masked(server, phone)}
    deadline = time.monotonic() + timeout
    seen: list[str] = []
    while time.monotonic() < deadline:
        if server.sms_log_path.exists():
            lines = server.sms_log_path.read_text(encoding="utf-8").splitlines()
            seen = [r["message"] for r in map(json.loads, lines) if r["to"] in to]
            found = [m for m in seen if contains in m]
            if found:
                line = f"[SMS to {masked(server, phone)}] {found[0]}"
                assert line in server.output(), line
                return found[0]
        time.sleep(0.1)
    raise AssertionError(f"no SMS to {phone} containing {contains!r} in {timeout} s: {seen}")


def dial_report(dial: Callable[..., SimulatedSession], phone: str, *, call_back: bool) -> str:
    session = dial(*p1_report(call_back=call_back), phone=phone)
    last = session.last_response
    found = re.search(r"Report (T-\d+) sent", last)
    assert last.startswith("END ") and found, last
    return found.group(1)


def open_when_alerted(page: Page, ref: str, timeout_s: float = 15.0) -> None:
    """Open the case page once the report's routing job has alerted the desk (authority follows
    the alert: until then the case is not the desk's to see)."""
    deadline = time.monotonic() + timeout_s
    while True:
        response = page.goto(f"/desk/cases/{ref}")
        if (response is not None and response.status == 200) or time.monotonic() > deadline:
            return
        page.wait_for_timeout(250)


# -- 1. enrolment and sign-in ----------------------------------------------------------------------


def test_enrolment_and_sign_in_with_password_and_totp(desk: Desk) -> None:
    # Enrolment (the fixture, through the real pages) left each person signed in, with ten
    # recovery codes; the link is good once.
    for person in (desk.admin, desk.officer, desk.ngo):
        assert len(person.recovery_codes) == 10
        expect(person.page.locator("#signed-in-as")).to_contain_text(person.name)
    page = desk.new_page()
    response = page.goto(desk.enrolment_link)
    assert response is not None and response.status == 404

    # Password, then a wrong code: refused, still not signed in.
    sign_in_password(page, desk.officer)
    page.fill("#code", desk.officer.wrong_code())
    assert submit(page, "#submit", "/desk/sign-in/code").status == 401
    expect(page.locator("#error")).to_contain_text("not right")
    page.goto("/desk/cases")
    assert urlsplit(page.url).path == "/desk/sign-in"

    # Password, then a fresh TOTP code: the inbox.
    sign_in_password(page, desk.officer)
    page.fill("#code", desk.officer.fresh_code())
    assert submit(page, "#submit", "/desk/sign-in/code").status == 303
    page.wait_for_url("**/desk/cases")
    expect(page.locator("#signed-in-as")).to_contain_text("Thabo Desk")

    # A recovery code works once in place of the TOTP code.
    other = desk.new_page()
    sign_in_password(other, desk.admin)
    other.fill("#code", desk.admin.recovery_codes.pop())
    assert submit(other, "#submit", "/desk/sign-in/code").status == 303
    expect(other.locator("#flash")).to_contain_text("You used a recovery code. 9 left")

    # The sign-in form without its CSRF token: refused, and no sign-in step started.
    stranger = desk.new_page()
    stranger.goto("/desk/sign-in")
    stranger.locator("#sign-in-form input[name=csrf_token]").evaluate("e => e.remove()")
    stranger.fill("#username", desk.ngo.username)
    stranger.fill("#password", PASSWORD)
    assert submit(stranger, "#submit", "/desk/sign-in").status == 400
    expect(stranger.locator("#error-message")).to_contain_text("The form expired")
    stranger.goto("/desk/sign-in/code")
    assert urlsplit(stranger.url).path == "/desk/sign-in"  # no pending second step

    # Signed in, a POST without the token (here: sign out) is refused and changes nothing.
    refused = page.request.post("/desk/sign-out", max_redirects=0)
    assert refused.status == 400
    page.goto("/desk/cases")
    expect(page.locator("#signed-in-as")).to_contain_text("Thabo Desk")

    rows = audit_rows(desk.admin, action="access.csrf_refused")
    assert len(rows) == 2, rows
    assert {r["who"] for r in rows} == {"-", desk.officer.username}
    failed = audit_rows(desk.admin, action="auth.second_factor_failed")
    assert [r["record"] for r in failed] == [f"staff_user:{desk.officer.id}"]


# -- 2. a P1 report reaches the duty desk's open inbox ---------------------------------------------


def test_a_dialled_p1_report_appears_in_the_open_inbox_and_opens_in_words(
    desk: Desk, dial_ussd: Callable[..., SimulatedSession]
) -> None:
    page = desk.officer.page
    page.goto("/desk/cases")  # Unassigned, open in the duty officer's browser
    expect(page.locator("#folder-unassigned")).to_have_attribute("aria-current", "page")
    started = time.monotonic()
    ref = dial_report(dial_ussd, REPORTER, call_back=False)
    desk.cases["p1"] = ref
    row = page.locator(f"#case-{ref}")
    expect(row).to_be_visible(timeout=12_000)  # inbox.js polls every 5 s and reloads
    seconds = time.monotonic() - started
    assert seconds < 12, seconds
    expect(row).to_contain_text("P1")
    expect(row).to_contain_text("Maputsoe Bridge (Leribe)")
    expect(row).to_contain_text("Seemed scared, not allowed to speak")
    expect(row).to_contain_text("Not taken")

    row.locator(f"a[href$='/desk/cases/{ref}']").click()
    page.wait_for_url(f"**/desk/cases/{ref}")
    answers = page.locator("#answers")
    for words in (
        "Maputsoe Bridge (Leribe)",
        "Seemed scared, not allowed to speak",
        "Child not travelling with own family",
        "2 to 5 people",
        "Happening now",
        "A 123 BCD",
    ):
        expect(answers).to_contain_text(words)
    expect(page.locator("#case-ref")).to_contain_text("P1 urgent (danger now)")
    timeline = page.locator("#timeline")
    expect(timeline).to_contain_text("Report filed")
    expect(timeline).to_contain_text(f"Alert queued {DESK_NAME}")
    deadline = time.monotonic() + 10  # the embedded worker sends within seconds
    while "Alert sent" not in timeline.inner_text() and time.monotonic() < deadline:
        time.sleep(0.5)
        page.reload()
    expect(timeline).to_contain_text("Alert sent")
    expect(timeline).to_contain_text("Beautiful Dream Society")
    assert "Skillshare" not in timeline.inner_text()
    assert "58300001" not in page.content()  # never the reporter's number


# -- 3. the desk and SMS are one state machine ---------------------------------------------------


def test_taken_on_the_desk_an_sms_ack_is_already_taken_and_a_stranger_cannot_close(
    desk: Desk,
) -> None:
    ref = desk.case("p1")
    page = desk.officer.page
    page.goto(f"/desk/cases/{ref}")
    assert submit(page, "#take", f"/desk/cases/{ref}/take").status == 302
    expect(page.locator("#flash")).to_contain_text("You have taken this case.")
    expect(page.locator("#case-status")).to_contain_text(f"Taken · held by {DESK_NAME}")
    expect(page.locator("#take")).to_have_count(0)

    # BDS was alerted too; its ACK by SMS comes later: already taken.
    assert "OK ACK" in inbound_sms(desk.server, BDS_CONTACT, f"ACK {ref}")
    reply = sms_sent_to(desk.server, BDS_CONTACT, "already taken")
    assert reply == f"Case {ref} was already taken by {DESK_NAME}."

    # Skillshare was never alerted: its CLOSE by SMS is refused; the case stays open.
    assert "OK CLOSE" in inbound_sms(desk.server, SKILLSHARE_CONTACT, f"CLOSE {ref} done")
    reply = sms_sent_to(desk.server, SKILLSHARE_CONTACT, ref)
    assert "is closed" not in reply and (
        "only they can close it" in reply or "was not sent to your organisation" in reply
    ), reply
    page.reload()
    expect(page.locator("#case-status")).to_contain_text("Taken")
    expect(page.locator("#case-status")).not_to_contain_text("Closed")
    expect(page.locator("#close")).to_have_count(1)  # still closable by its holder
    expect(page.locator("#timeline")).to_contain_text("Refused: not allowed to act")


# -- 4. another partner's case by URL ------------------------------------------------------------


def test_an_officer_of_another_partner_gets_404_and_an_audit_row(desk: Desk) -> None:
    ref = desk.case("p1")
    page = desk.ngo.page
    page.goto("/desk/cases?folder=all")
    expect(page.locator("#signed-in-as")).to_contain_text("Lineo Skillshare")
    expect(page.locator(f"#case-{ref}")).to_have_count(0)
    response = page.goto(f"/desk/cases/{ref}")
    assert response is not None and response.status == 404
    expect(page.locator("#error-message")).to_have_text("Not found.")
    expect(page.locator("main")).not_to_contain_text("Maputsoe")

    rows = audit_rows(desk.admin, action="access.refused", record_ref=ref)
    assert [(r["who"], r["record"], r["detail"]) for r in rows] == [
        (desk.ngo.username, f"case:{ref}", "status=404")
    ]


# -- 5. the reporter's number ---------------------------------------------------------------------


def test_show_number_only_with_call_back_needs_a_reason_and_is_audited_once(
    desk: Desk, dial_ussd: Callable[..., SimulatedSession]
) -> None:
    page = desk.officer.page
    page.goto(f"/desk/cases/{desk.case('p1')}")  # no call-back: nothing reveals the number
    expect(page.locator("#no-callback")).to_be_visible()
    expect(page.locator("#show-number")).to_have_count(0)

    ref = dial_report(dial_ussd, CALLBACK_REPORTER, call_back=True)
    desk.cases["callback"] = ref
    open_when_alerted(page, ref)
    expect(page.locator("#answers dt:text-is('Call-back agreed') + dd")).to_have_text("Yes")
    expect(page.locator("#show-number")).to_be_visible()
    assert "58300002" not in page.content()

    posts: list[str] = []
    page.on("request", lambda r: posts.append(r.url) if r.method == "POST" else None)
    page.click("#show-number")  # no reason chosen: the browser does not even send it
    page.wait_for_timeout(300)
    expect(page.locator("#reason:invalid")).to_have_count(1)
    assert posts == [] and urlsplit(page.url).path == f"/desk/cases/{ref}"
    page.locator("#reason").evaluate("e => e.removeAttribute('required')")
    assert submit(page, "#show-number", f"/desk/cases/{ref}/number").status == 302
    expect(page.locator("#flash")).to_contain_text("Choose why you need the number.")
    expect(page.locator("#reporter-number")).to_have_count(0)
    assert audit_rows(desk.admin, action="case.number_shown", record_ref=ref) == []

    page.select_option("#reason", "callback")
    assert submit(page, "#show-number", f"/desk/cases/{ref}/number").status == 200
    expect(page.locator("#reporter-number")).to_have_text(CALLBACK_REPORTER)
    expect(page.locator("main")).to_contain_text("Calling the reporter back, as they agreed")
    page.click("#back-to-case")
    assert "58300002" not in page.content()

    rows = audit_rows(desk.admin, action="case.number_shown", record_ref=ref)
    assert [(r["who"], r["detail"]) for r in rows] == [(desk.officer.username, "reason=callback")]
    assert CALLBACK_REPORTER not in desk.admin.page.content()
    assert audit_rows(desk.admin, action="case.number_erased") == []


# -- 6. disabling a user ------------------------------------------------------------------------


def test_disabling_a_user_ends_their_open_session_at_once(desk: Desk) -> None:
    ngo = desk.ngo.page  # still signed in, on the 404 page of the test before
    alive = ngo.request.get("/desk/cases/latest", max_redirects=0)
    assert alive.status == 200 and "latest" in alive.json()

    admin = desk.admin.page
    admin.goto("/desk/admin/users")
    expect(admin.locator(f"#user-{desk.ngo.id}")).to_contain_text("active")
    disable = f"/desk/admin/users/{desk.ngo.id}/disable"
    assert submit(admin, f"#disable-{desk.ngo.id}", disable).status == 303
    expect(admin.locator("#flash")).to_contain_text(desk.ngo.username)
    expect(admin.locator(f"#user-{desk.ngo.id}")).to_contain_text("disabled")

    ngo.goto("/desk/cases")  # their very next page load: the sign-in page
    assert urlsplit(ngo.url).path == "/desk/sign-in"
    expect(ngo.locator("#username")).to_be_visible()
    expect(ngo.locator("#signed-in-as")).to_have_count(0)
    assert ngo.request.get("/desk/cases/latest", max_redirects=0).status == 302
    rows = audit_rows(desk.admin, action="user.disable", record_ref=str(desk.ngo.id))
    assert [r["who"] for r in rows] == [desk.admin.username], rows


# -- look and weight -----------------------------------------------------------------------------


# The page, or any box on it, wider than the screen: what would make a phone scroll sideways.
SIDEWAYS = """() => [document.documentElement, ...document.querySelectorAll('.scroll')]
    .filter(e => e.scrollWidth > e.clientWidth + 1).map(e => e.className || e.tagName)"""


def test_screenshots_and_every_page_under_100_kb(desk: Desk, screenshot: Callable) -> None:
    page = desk.officer.page
    ref = desk.case("p1")
    page.goto("/desk/cases?folder=all")
    expect(page.locator(f"#case-{ref}")).to_be_visible()
    screenshot(page, "desk-inbox")
    page.goto(f"/desk/cases/{ref}")
    screenshot(page, "desk-case")

    phone = desk.new_page(390, 844)
    phone.context.add_cookies(page.context.cookies())  # the same officer, on a phone
    phone.goto("/desk/cases?folder=all")
    expect(phone.locator(f"#case-{ref}")).to_be_visible()
    screenshot(phone, "desk-inbox-phone")
    assert phone.evaluate(SIDEWAYS) == [], "the phone inbox scrolls sideways"
    phone.goto(f"/desk/cases/{ref}")
    expect(phone.locator("#timeline")).to_be_visible()
    screenshot(phone, "desk-case-phone")
    assert phone.evaluate(SIDEWAYS) == [], "the phone case page scrolls sideways"

    weighed = desk.weigher.paths()
    for path in (
        "/desk/enrol",
        "/desk/enrol/2fa",
        "/desk/sign-in",
        "/desk/sign-in/code",
        "/desk/cases",
        f"/desk/cases/{ref}",
        f"/desk/cases/{desk.case('callback')}/number",
        "/desk/admin/users",
        "/desk/admin/audit",
    ):
        assert path in weighed, (path, sorted(weighed))
    heavy = [(p.url, p.bytes) for p in desk.weigher.pages if p.bytes >= PAGE_LIMIT_BYTES]
    assert heavy == [], heavy
    biggest = max(desk.weigher.pages, key=lambda p: p.bytes)
    assert biggest.bytes > 1000, biggest  # the weighing itself works
