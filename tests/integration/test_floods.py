"""Limits and flags (issue 8, item 5), on the real database, Redis, RQ worker and the AT SDK
against the stand-in:

- a burst of 30 USSD and 20 SMS reports from one number: every report is stored and the caller
  gets its reference; those beyond REPORT_LIMIT are flagged as a possible flood; the duty desk
  gets ONE batch alert (and a bounded update) instead of one alert per report, may see and act on
  every one of them; no partner gets an alert per report;
- a new USSD session over the per-phone start limit gets a polite END in the caller's language;
  a caller in the middle of a report is never cut off, even over every limit;
- reference checks over their limit end politely (USSD), and share the limit with SMS STATUS;
- the per-address webhook limit answers 429, but never to the gateway's own (allow-listed)
  addresses, which carry every caller;
- the USSD hop limits are counted inside the hop's own Redis commands (two per hop);
- Redis down opens the limits: the report is stored and alerted as usual.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterator
from dataclasses import replace
from typing import Any

import hiredis
import pytest
import redis
from flask.testing import FlaskClient
from prometheus_client import REGISTRY
from sqlalchemy import func, select

from tests.integration.alerts_support import PARTNERS_FILE, drain
from tests.integration.alerts_support import later as minutes_from_now
from tests.standin import AtStandIn
from ussd_app import create_app, redis_wire
from ussd_app.bootstrap import Container, bootstrap
from ussd_app.cases.authority import may_see
from ussd_app.cases.escalation import escalate_due
from ussd_app.cases.models import CaseEvent
from ussd_app.config import Settings
from ussd_app.messaging.models import OutboundSms, SmsStatus
from ussd_app.partners.importer import import_partners
from ussd_app.rate_limits import RateLimits
from ussd_app.reports.intake import submit_report
from ussd_app.reports.models import TraffickingReport
from ussd_app.runtime import jobs

FLOODER = "+26658444444"
NEIGHBOUR = "+26658444445"
DESK = "+26659990001"  # partners.example.yaml: the national duty desk's first on-duty phone
DESK_CODE = "lmps-atu-desk"


def build(alert_settings: Settings, **limits: str) -> Container:
    container = bootstrap(replace(alert_settings, **limits))
    jobs.configure(container)
    import_partners(container.services.session_factory, PARTNERS_FILE)
    return container


@pytest.fixture
def make(alert_settings: Settings, clean_db: Any, redis_conn: Any) -> Iterator[Any]:
    built: list[Container] = []

    def _make(**limits: str) -> Container:
        built.append(build(alert_settings, **limits))
        return built[-1]

    yield _make
    for container in built:
        container.close()  # held Redis writes go out first (write-behind)


def hits(limit: str) -> float:
    return REGISTRY.get_sample_value("limit_hits_total", {"limit": limit}) or 0.0


class Phone:
    """Posts hops like the gateway: `text` accumulates with `*` within a session."""

    def __init__(self, client: FlaskClient, number: str) -> None:
        self.client, self.number = client, number
        self.count, self.session_id, self.text = 0, "", ""

    def dial(self) -> str:
        self.count += 1
        self.session_id = f"ATUid_flood{self.number[-4:]}{self.count:05d}"
        self.text = ""
        return self.post()

    def send(self, value: str) -> str:
        self.text = value if self.text == "" else self.text + "*" + value
        return self.post()

    def post(self) -> str:
        res = self.client.post(
            "/ussd",
            data={
                "sessionId": self.session_id,
                "serviceCode": "*384*1234#",
                "phoneNumber": self.number,
                "networkCode": "99999",
                "text": self.text,
            },
        )
        assert res.status_code == 200, res.get_data(as_text=True)
        return res.get_data(as_text=True)

    def to_main(self, lang_key: str = "2") -> str:
        """Dial; on a new phone choose the language (2: English, 1: Sesotho)."""
        screen = self.dial()
        if screen.startswith("CON") and "English" in screen and "Sesotho" in screen:
            screen = self.send(lang_key)
        return screen


# danger now: yes; child: not sure; flags 2 and 8; Maseru Bridge; now; 6 or more; no plate;
# no call-back.
REPORT_ANSWERS = ("2", "1", "3", "28", "1", "1", "3", "1", "1")


def report_by_ussd(phone: Phone) -> str:
    screen = phone.to_main()
    assert screen.startswith("CON"), screen
    for answer in REPORT_ANSWERS:
        screen = phone.send(answer)
    found = re.search(r"T-\d{8}", screen)
    assert screen.startswith("END") and found, screen
    return found.group(0)


def sms(client: FlaskClient, sender: str, text: str, gid: str) -> None:
    res = client.post("/sms/inbound", data={"from": sender, "to": "12345", "text": text, "id": gid})
    assert res.status_code == 200, res.get_data(as_text=True)


def test_a_burst_of_reports_from_one_number_is_stored_flagged_and_batched_to_the_duty_desk(
    make: Any, standin: AtStandIn
) -> None:
    container = make()  # the defaults: 5 reports an hour per phone, 40 sessions an hour
    client = create_app(container=container).test_client()
    before = hits("reports")
    phone = Phone(client, FLOODER)
    ussd_refs = [report_by_ussd(phone) for _ in range(30)]
    for i in range(20):
        sms(client, FLOODER, "REPORT girls in a taxi at Maputsoe, scared", f"flood-sms-{i}")
    drain(container)

    assert len(set(ussd_refs)) == 30  # every USSD caller got a reference of their own
    with container.services.uow() as uow:
        reports = list(
            uow.session.scalars(select(TraffickingReport).order_by(TraffickingReport.id))
        )
        assert len(reports) == 50  # every report stored, none refused or dropped
        first_flagged = reports[5].ref
        assert [r.possible_flood for r in reports] == [False] * 5 + [True] * 45
        batches = {r.flood_batch for r in reports if r.possible_flood}
        assert len(batches) == 1 and None not in batches  # one flood, one batch
        assert all(r.flood_batch is None for r in reports[:5])
        # Every report reaches the duty desk: its staff may see and act on each one.
        assert all(may_see(uow.session, r, DESK_CODE) for r in reports)
        held = uow.session.scalars(
            select(OutboundSms.status).where(OutboundSms.idempotency_key.like("held:%"))
        ).all()
        assert held == [SmsStatus.CANCELLED.value] * 45  # kept for authority, never sent
    assert hits("reports") - before == 45

    to_desk = [m.text for m in standin.messages if m.number == DESK]
    batch = [t for t in to_desk if t.startswith("POSSIBLE FLOOD:")]
    updates = [t for t in to_desk if t.startswith("POSSIBLE FLOOD update")]
    assert len(batch) == 1, to_desk
    assert batch[0].startswith("POSSIBLE FLOOD: one number over the report limit (5 per 1 hour)")
    assert first_flagged in batch[0]
    assert len(updates) <= 2  # a bounded number of updates, not one per report
    assert len(to_desk) == 5 + len(batch) + len(updates)  # 5 alerts, then the batch
    # No partner got an alert per report: at most the 5 under the limit, each number.
    per_number = Counter(m.number for m in standin.messages if m.number != FLOODER)
    assert all(n <= 5 for number, n in per_number.items() if number != DESK)


def test_a_new_session_over_the_start_limit_ends_politely_in_the_callers_language(
    make: Any,
) -> None:
    container = make(ussd_start_limit="2 per hour")
    client = create_app(container=container).test_client()
    before = hits("ussd_starts")
    english, sesotho = Phone(client, FLOODER), Phone(client, NEIGHBOUR)
    for _ in range(2):
        assert english.to_main("2").startswith("CON")
        assert sesotho.to_main("1").startswith("CON")
    refused = english.dial()
    assert refused.startswith("END Sorry, this phone has used the service many times")
    assert "call 112" in refused
    refused_st = sesotho.dial()
    assert refused_st.startswith("END Ts'oarelo, fono ena e sebelisitse")
    assert hits("ussd_starts") - before == 2
    # Another phone is not slowed by these two.
    assert Phone(client, "+26658444446").dial().startswith("CON")


def test_a_reporter_in_the_middle_of_a_report_is_never_cut_off(make: Any) -> None:
    # Every USSD limit tiny: the language choice and the menu use them up.
    container = make(
        ussd_start_limit="1 per hour",
        ussd_phone_hop_limit="2 per hour",
        ussd_session_hop_limit="2 per 10 minutes",
    )
    client = create_app(container=container).test_client()
    phone = Phone(client, FLOODER)
    assert phone.dial().startswith("CON")  # the language screen: a start, within the limits
    assert phone.send("2").startswith("CON Welcome")  # English: the main menu
    ref = None
    for answer in REPORT_ANSWERS:  # over every limit from here on, but in a report
        screen = phone.send(answer)
        assert screen.startswith("CON") or "Report T-" in screen, screen
        ref = re.search(r"T-\d{8}", screen)
    assert ref is not None
    with container.services.uow() as uow:
        assert uow.session.scalar(select(func.count(TraffickingReport.id))) == 1
    # Outside a report the limits hold: the next session ends at once.
    assert phone.dial().startswith("END Sorry, this phone has used the service")


def test_continue_of_an_unfinished_report_is_offered_over_the_start_limit(make: Any) -> None:
    container = make(ussd_start_limit="1 per hour")
    client = create_app(container=container).test_client()
    phone = Phone(client, FLOODER)
    phone.to_main()
    phone.send("2")  # report
    phone.send("1")  # danger now: yes (the network then drops)
    resumed = phone.dial()  # a second start: over the limit, but a report waits
    assert resumed.startswith("CON Welcome back"), resumed
    # A new session with nothing to continue is refused.
    other = Phone(client, NEIGHBOUR)
    other.to_main()
    assert other.dial().startswith("END Sorry")


def test_reference_checks_over_the_limit_end_politely_and_share_it_with_sms_status(
    make: Any,
) -> None:
    container = make(reference_check_limit="2 per hour")
    client = create_app(container=container).test_client()
    before = hits("reference_checks")
    phone = Phone(client, FLOODER)
    for _ in range(2):
        phone.to_main()
        phone.send("3")
        assert phone.send("T-12345677").startswith("END We could not find")
    phone.to_main()
    phone.send("3")
    assert phone.send("T-12345677") == (
        "END Sorry, too many reference checks from this phone. Please try again later."
    )
    sms(client, FLOODER, "STATUS T-12345677", "status-1")  # the same limit, by SMS
    with container.services.uow() as uow:
        body = uow.session.scalar(select(OutboundSms.body).order_by(OutboundSms.id.desc()))
    assert body == "Too many checks from this number. Please try again later."
    assert hits("reference_checks") - before == 2


def test_the_webhooks_answer_429_to_an_address_over_its_limit(make: Any) -> None:
    container = make(webhook_address_limit="5 per minute")
    client = create_app(container=container).test_client()
    before = hits("webhook_address")

    def post(address: str, path: str = "/sms/delivery") -> int:
        res = client.post(
            path,
            data={"id": "ATXid_unknown", "status": "Success"},
            environ_base={"REMOTE_ADDR": address},
        )
        return res.status_code

    assert [post("198.51.100.7") for _ in range(5)] == [200] * 5
    res = client.post("/ussd", data={}, environ_base={"REMOTE_ADDR": "198.51.100.7"})
    assert res.status_code == 429
    assert res.get_data(as_text=True) == "too many requests: slow down\n"
    assert post("198.51.100.8") == 200  # another address has its own window
    assert hits("webhook_address") - before == 1


def test_the_gateways_allow_listed_addresses_are_not_limited_by_address(make: Any) -> None:
    container = make(webhook_address_limit="2 per minute")
    settings = replace(container.settings, gateway_allowed_ips=("198.51.100.0/24",))
    client = create_app(container=replace(container, settings=settings)).test_client()

    def post(address: str) -> int:
        res = client.post(
            "/sms/delivery",
            data={"id": "ATXid_unknown", "status": "Success"},
            environ_base={"REMOTE_ADDR": address},
        )
        return res.status_code

    assert [post("198.51.100.7") for _ in range(6)] == [200] * 6  # the gateway: all its callers
    # Outside the list: refused, and counted, so a flood from there is 429 before long.
    assert [post("203.0.113.9") for _ in range(3)] == [403, 403, 429]


def test_the_hop_limits_cost_no_redis_command_of_their_own(make: Any) -> None:
    # A long write-behind, so the flusher never sends a held save before the next hop does.
    container = make(ussd_session_hop_limit="3 per 10 minutes", hop_write_behind_ms=1000)
    client = create_app(container=container).test_client()
    phone = Phone(client, FLOODER)
    phone.to_main()  # two hops, counted
    seen: list[str] = []
    trips: list[list[str]] = []
    original = container.redis.execute_command
    original_exchange = redis_wire.exchange_on

    def counting(*args: Any, **options: Any) -> Any:
        seen.append(str(args[0]))
        return original(*args, **options)

    def counting_exchange(conn: Any, payload: bytes, counts: Any) -> Any:
        trips.append(command_names(payload))
        return original_exchange(conn, payload, counts)

    container.redis.execute_command = counting  # type: ignore[method-assign]
    redis_wire.exchange_on = counting_exchange  # type: ignore[assignment]
    try:
        assert phone.send("1").startswith("CON")  # the third hop of the session: at the limit
        # ONE round trip: the previous hop's held save + unlock, then this hop's lock + load +
        # count, in one write; nothing through redis-py.
        assert trips == [["EVALSHA", "EVALSHA"]], trips
        assert seen == [], seen
        trips.clear()
        assert phone.send("1").startswith("END Sorry, this phone has used the service")
        assert trips == [["EVALSHA", "EVALSHA"]], trips
        assert seen == [], seen
    finally:
        del container.redis.execute_command
        redis_wire.exchange_on = original_exchange  # type: ignore[assignment]
    assert phone.dial().startswith("CON")  # a new session has its own window


def command_names(payload: bytes) -> list[str]:
    """The command names in a packed payload (packed commands parse as RESP arrays)."""
    reader = hiredis.Reader()
    reader.feed(payload)
    names: list[str] = []
    while (command := reader.gets()) is not False:
        names.append(command[0].decode())
    return names


def test_behind_a_trusted_proxy_the_limit_counts_the_forwarded_address(make: Any) -> None:
    container = make(webhook_address_limit="2 per minute")
    container = replace(container, settings=replace(container.settings, gateway_trusted_proxies=1))
    client = create_app(container=container).test_client()

    def post(forwarded: str) -> int:
        res = client.post(
            "/sms/delivery",
            data={"id": "ATXid_unknown", "status": "Success"},
            headers={"X-Forwarded-For": forwarded},
        )
        return res.status_code

    assert [post("203.0.113.1"), post("203.0.113.1"), post("203.0.113.1")] == [200, 200, 429]
    assert post("203.0.113.2") == 200  # same proxy, another caller


def test_redis_down_opens_the_limits_and_the_report_is_stored_and_alerted(
    make: Any, standin: AtStandIn
) -> None:
    container = make(report_limit="1 per hour")
    dead = redis.Redis(host="127.0.0.1", port=1, socket_connect_timeout=0.2, socket_timeout=0.2)
    limits = RateLimits(dead, container.settings.rate_limits)
    assert limits.allow("reports", "any") is True
    services = replace(container.services, limits=limits)
    for _ in range(3):
        submit_report(
            services,
            phone=FLOODER,
            language="en",
            answers={"danger_now": "yes", "place": "maputsoe_bridge", "when_seen": "now"},
        )
    drain(container)
    with container.services.uow() as uow:
        flagged = uow.session.scalars(select(TraffickingReport.possible_flood)).all()
    assert flagged == [False, False, False]  # open: no report is held back
    assert sum(m.number == DESK for m in standin.messages) == 3  # each alerted as usual


def test_a_burst_of_status_guesses_is_looked_up_ten_times_and_answered_twenty(
    make: Any,
) -> None:
    container = make()  # the defaults: 10 checks and 20 replies an hour per number
    client = create_app(container=container).test_client()
    before = hits("reference_checks")
    for i in range(40):
        sms(client, FLOODER, f"STATUS T-{10000000 + i}", f"guess-{i}")
    with container.services.uow() as uow:
        bodies = uow.session.scalars(select(OutboundSms.body).order_by(OutboundSms.id)).all()
    assert len(bodies) == 20  # SMS_REPLY_LIMIT: the rest get no reply at all
    assert sum(b.startswith("No case") for b in bodies) == 10  # only 10 were looked up
    assert bodies[10:] == ["Too many checks from this number. Please try again later."] * 10
    assert hits("reference_checks") - before == 30


def test_a_flood_whose_urgent_reports_nobody_takes_escalates_once_to_the_desk_supervisor(
    make: Any, standin: AtStandIn
) -> None:
    """The reports of a possible flood do not escalate one SMS each (the desk had one batch
    alert); when its urgent reports are still not taken after their window, the duty desk's
    escalation contact gets ONE SMS for the flood, and each overdue report records its
    escalation. Later sweeps, and more overdue reports of the same flood, send nothing more."""
    container = make(report_limit="2 per hour")
    services = container.services
    answers = {
        "danger_now": "yes",
        "child_involved": "no",
        "flags": ["F1"],
        "place": "maseru_bridge",
        "when_seen": "now",
        "persons_count": "1",
        "callback_consent": "no",
    }
    refs = [
        submit_report(services, phone=FLOODER, language="en", answers=answers)[0] for _ in range(6)
    ]
    drain(container)
    standin.clear()
    supervisor = "+26659990003"  # the desk's escalation contact in partners.example.yaml

    later = services.settings.p1_ack_minutes + 1
    escalated = escalate_due(services, now=minutes_from_now(later))
    drain(container)
    assert set(escalated) == set(refs)  # the 2 under the limit and the 4 flagged
    flood_sms = [m for m in standin.messages if "POSSIBLE FLOOD" in m.text]
    assert [m.number for m in flood_sms] == [supervisor], standin.messages
    assert flood_sms[0].text.startswith("ESCALATION POSSIBLE FLOOD: 4 urgent report(s)")
    assert refs[2] in flood_sms[0].text and refs[-1] in flood_sms[0].text
    # The two reports under the limit escalate one by one, as any report.
    singles = [m for m in standin.messages if m.text.startswith("ESCALATION P1")]
    assert {ref for ref in refs[:2] if any(ref in m.text for m in singles)} == set(refs[:2])
    assert not any(ref in m.text for ref in refs[2:] for m in singles)
    with services.uow() as uow:
        events = uow.session.scalars(
            select(CaseEvent.report_id).where(CaseEvent.action == "escalated")
        ).all()
        assert len(events) == 6  # each overdue report records its own escalation

    # Another flagged report of the same flood, overdue later: no second flood escalation.
    refs.append(submit_report(services, phone=FLOODER, language="en", answers=answers)[0])
    drain(container)
    standin.clear()
    assert escalate_due(services, now=minutes_from_now(later)) == [refs[-1]]
    assert escalate_due(services, now=minutes_from_now(later * 2)) == []
    drain(container)
    assert [m for m in standin.messages if m.text.startswith("ESCALATION")] == []
