"""Keeping the returnee informed and the 90-day check-in (issue 10, items 5-7): real database,
Redis and RQ worker, the Africa's Talking SDK against the stand-in.

partners.example.yaml: a Leribe registration needing livelihood and clinic services is told to
IOM (programme partner), Skillshare (livelihood) and MoH Leribe (clinic).
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from handlers import HandlerContext, load_all
from tests.integration.alerts_support import drain, outbox_rows
from tests.integration.test_alert_cases import Inbox
from tests.integration.test_registration_routing import (
    IOM,
    NAME,
    RETURNEE,
    SKILLSHARE,
    answers,
    registration,
)
from tests.standin import AtStandIn
from ussd_app.bootstrap import Container
from ussd_app.cases import actions, staging
from ussd_app.cases.authority import Actor
from ussd_app.returnees.checkins import CheckIn, checkin_due
from ussd_app.returnees.models import Registration
from ussd_app.returnees.registrations import register_returnee
from ussd_app.runtime.maintenance import run_maintenance

OTHER = "+26658777888"
SKILL = Actor("desk", partner_code="skillshare-lesotho", user_id=None)
NEED_AND_PARTNER_WORDS = ("livelihood", "clinic", "Skillshare", "IOM", "Ministry", "health")


def register(container: Container, phone: str = RETURNEE, lang: str = "en", **over: Any) -> str:
    """Register and run its routing job straight away, as the worker would first thing (the
    partners are then told, so they may act on it; the queued job then does nothing)."""
    services = container.services
    ref = register_returnee(services, phone=phone, language=lang, answers=answers(**over))
    with services.uow() as uow:
        reg_id = uow.session.scalars(select(Registration.id).where(Registration.ref == ref)).one()
    staging.route(services, "registration", reg_id)
    return ref


def to(standin: AtStandIn, number: str) -> list[str]:
    return [m.text for m in standin.messages if m.number == number]


def refer(container: Container, ref: str, need: str, status: str) -> None:
    services = container.services
    with services.uow() as uow:
        reg = uow.session.scalars(select(Registration).where(Registration.ref == ref)).one()
        assert actions.refer(services, uow, reg, SKILL, need=need, status=status).done
        uow.commit()


def check_ins(container: Container) -> list[CheckIn]:
    with container.services.uow() as uow:
        rows = list(uow.session.scalars(select(CheckIn).order_by(CheckIn.id)))
        uow.session.expunge_all()
        return rows


def _neutral(texts: list[str]) -> None:
    for text in texts:
        assert not any(word.lower() in text.lower() for word in NEED_AND_PARTNER_WORDS), text
        assert NAME not in text


# -- item 5: keeping the person informed ------------------------------------------------------


def test_taking_a_registration_sends_the_sms_chooser_one_neutral_sms(
    alert_container: Container, standin: AtStandIn
) -> None:
    ref = register(alert_container, contact_by="sms")
    drain(alert_container)
    welcome = to(standin, RETURNEE)
    assert len(welcome) == 1 and welcome[0].startswith("Welcome home")  # the registration's own
    before = len(standin.messages)
    inbox = Inbox(alert_container)
    inbox.send(SKILLSHARE, f"ACK {ref}")
    inbox.send(IOM, f"ACK {ref}")  # too late: already taken; tells the returnee nothing
    drain(alert_container)
    taken = to(standin, RETURNEE)[1:]
    assert taken == [f"Your reference {ref}: a case worker will contact you."]
    _neutral(taken)
    # Nobody else got a message meant for the returnee: the others are the two ACK replies.
    new = standin.messages[before:]
    assert sorted(m.number for m in new) == sorted([RETURNEE, SKILLSHARE, IOM])
    assert not [m for m in new if m.number != RETURNEE and "case worker will contact" in m.text]
    rows = outbox_rows(
        alert_container, idempotency_key=f"returnee:{registration(alert_container, ref).id}:taken"
    )
    assert len(rows) == 1 and rows[0].registration_id is not None


def test_a_referral_arranged_sends_one_sms_in_the_persons_language(
    alert_container: Container, standin: AtStandIn
) -> None:
    ref = register(alert_container, lang="st", contact_by="sms")
    Inbox(alert_container).send(SKILLSHARE, f"ACK {ref}")
    drain(alert_container)
    assert to(standin, RETURNEE)[-1] == f"Khoutu ea hao {ref}: mosebeletsi o tla ikopanya le uena."
    count = len(to(standin, RETURNEE))
    refer(alert_container, ref, "livelihood", "referred")  # passed on: not yet arranged
    drain(alert_container)
    assert len(to(standin, RETURNEE)) == count
    refer(alert_container, ref, "livelihood", "accepted")
    refer(alert_container, ref, "livelihood", "unreachable")
    refer(alert_container, ref, "livelihood", "accepted")  # accepted again: told once only
    drain(alert_container)
    arranged = to(standin, RETURNEE)[count:]
    assert len(arranged) == 1
    assert arranged[0].startswith(f"Khoutu ea hao {ref}: thuso e lokisitsoe.")
    _neutral(arranged)


@pytest.mark.parametrize("contact_by", ["call", "none", None])
def test_call_or_none_choosers_get_no_sms(
    alert_container: Container, standin: AtStandIn, contact_by: str | None
) -> None:
    over: dict[str, Any] = {"contact_by": contact_by} if contact_by else {}
    ref = register(alert_container, **over)
    if contact_by is None:  # a registration from before the question: NULL, treated as a call
        with alert_container.services.uow() as uow:
            row = uow.session.scalars(select(Registration).where(Registration.ref == ref)).one()
            row.contact_by = None
            uow.commit()
    Inbox(alert_container).send(SKILLSHARE, f"ACK {ref}")
    refer(alert_container, ref, "livelihood", "referred")
    refer(alert_container, ref, "livelihood", "accepted")
    created = registration(alert_container, ref).created_at
    run_maintenance(alert_container, now=created + dt.timedelta(days=91))
    drain(alert_container)
    assert to(standin, RETURNEE) == []
    assert check_ins(alert_container) == []  # a call's check-in is due on the desk instead
    reg = registration(alert_container, ref)
    assert checkin_due(reg, created + dt.timedelta(days=91)) is (contact_by != "none")
    assert not checkin_due(reg, created + dt.timedelta(days=89))


def test_a_number_that_sent_stop_gets_no_update(
    alert_container: Container, standin: AtStandIn
) -> None:
    ref = register(alert_container, contact_by="sms")
    inbox = Inbox(alert_container)
    inbox.send(RETURNEE, "STOP")
    drain(alert_container)
    count = len(to(standin, RETURNEE))
    inbox.send(SKILLSHARE, f"ACK {ref}")
    refer(alert_container, ref, "livelihood", "referred")
    refer(alert_container, ref, "livelihood", "accepted")
    drain(alert_container)
    assert len(to(standin, RETURNEE)) == count


def test_stop_after_an_update_was_staged_cancels_it(
    alert_container: Container, standin: AtStandIn
) -> None:
    ref = register(alert_container, contact_by="sms")
    drain(alert_container)
    inbox = Inbox(alert_container)
    inbox.send(SKILLSHARE, f"ACK {ref}")  # the update is staged with the take...
    inbox.send(RETURNEE, "STOP")  # ...and STOP arrives before a worker sends it
    drain(alert_container)
    assert not [t for t in to(standin, RETURNEE) if "a case worker will contact you" in t]
    reg_id = registration(alert_container, ref).id
    (row,) = outbox_rows(alert_container, idempotency_key=f"returnee:{reg_id}:taken")
    assert row.status == "cancelled"


# -- item 5: check a reference in words, only for the registering phone ----------------------


def _check_on_ussd(container: Container, phone: str, ref: str) -> tuple[str, dict[str, Any]]:
    ctx = HandlerContext("s-1", phone, "en", {"reference": ref}, container.services)
    result = load_all()["check_reference"](ctx)
    return str(result.outcome or ""), dict(result.values)


def test_check_a_reference_shows_the_coarse_status_in_words_only_to_the_registering_phone(
    alert_container: Container, standin: AtStandIn
) -> None:
    ref = register(alert_container, contact_by="sms")
    assert _check_on_ussd(alert_container, RETURNEE, ref)[1]["status"] == "Received"
    inbox = Inbox(alert_container)
    inbox.send(SKILLSHARE, f"ACK {ref}")
    assert _check_on_ussd(alert_container, RETURNEE, ref)[1]["status"] == "With a case worker"
    refer(alert_container, ref, "livelihood", "referred")
    assert _check_on_ussd(alert_container, RETURNEE, ref)[1]["status"] == "With a case worker"
    refer(alert_container, ref, "livelihood", "accepted")
    assert _check_on_ussd(alert_container, RETURNEE, ref)[1]["status"] == "Service arranged"
    # Another phone: the registration does not exist, on USSD and by SMS STATUS alike.
    assert _check_on_ussd(alert_container, OTHER, ref) == ("not_found", {})
    inbox.send(OTHER, f"STATUS {ref}")
    inbox.send(RETURNEE, f"STATUS {ref}")
    drain(alert_container)
    assert to(standin, OTHER) == [f"No case {ref} was found. Check the reference and try again."]
    assert to(standin, RETURNEE)[-1] == f"{ref}: Service arranged."
    with alert_container.services.uow() as uow:
        reg = uow.session.scalars(select(Registration).where(Registration.ref == ref)).one()
        assert actions.close(alert_container.services, uow, reg, SKILL, outcome="assisted").done
        uow.commit()
    assert _check_on_ussd(alert_container, RETURNEE, ref)[1]["status"] == "Closed"


# -- item 6: the 90-day check-in by SMS -------------------------------------------------------


def test_the_90_day_sweep_sends_the_check_in_once_and_stores_the_reply(
    alert_container: Container, standin: AtStandIn
) -> None:
    ref = register(alert_container, contact_by="sms")
    drain(alert_container)
    created = registration(alert_container, ref).created_at
    run_maintenance(alert_container, now=created + dt.timedelta(days=89))
    drain(alert_container)
    assert not [t for t in to(standin, RETURNEE) if t.startswith("Check-in")]
    for days in (90, 91, 120):  # run again and again: still once
        result = run_maintenance(alert_container, now=created + dt.timedelta(days=days, hours=1))
        drain(alert_container)
        assert result.check_ins_sent == (1 if days == 90 else 0)
    asked = [t for t in to(standin, RETURNEE) if t.startswith("Check-in")]
    assert asked == [
        f"Check-in {ref}: reply CHECK and 4 numbers, 1=yes 2=no 0=skip. Earning? Place to live? "
        "Health care? More help? E.g. CHECK 1 2 1 2. STOP to end"
    ]
    assert [(c.channel, c.status) for c in check_ins(alert_container)] == [("sms", "asked")]
    inbox = Inbox(alert_container)
    inbox.send(RETURNEE, "check 1 2 0")  # the last question skipped, lower case
    drain(alert_container)
    (row,) = check_ins(alert_container)
    assert row.status == "answered" and row.answered_by == "sms"
    assert row.answers() == {
        "earning": "yes",
        "housing": "no",
        "health_care": None,
        "more_help": None,
    }
    assert to(standin, RETURNEE)[-1].startswith("Thank you. Your answers are saved.")
    # A correction from the same phone, as bare digits: the latest word counts.
    inbox.send(RETURNEE, "1 1 1 2")
    drain(alert_container)
    assert check_ins(alert_container)[0].answers() == {
        "earning": "yes",
        "housing": "yes",
        "health_care": "yes",
        "more_help": "no",
    }
    # Another phone cannot answer it; its digits are just an unknown message.
    inbox.send(OTHER, "CHECK 2 2 2 2")
    inbox.send(OTHER, "2 2 2 2")
    drain(alert_container)
    assert check_ins(alert_container)[0].more_help == "no"
    assert to(standin, OTHER)[0].startswith("Thank you. There is no check-in open")
    assert to(standin, OTHER)[1].startswith("Sorry, we did not understand.")
    # The reply's digits are stored nowhere but the check-in (the inbound row keeps the keyword).
    with alert_container.services.uow() as uow:
        from ussd_app.messaging.models import InboundSms

        assert {r.command for r in uow.session.scalars(select(InboundSms))} <= {
            "CHECK",
            "UNKNOWN",
        }


def test_stop_ends_the_check_in(alert_container: Container, standin: AtStandIn) -> None:
    ref = register(alert_container, contact_by="sms")
    other = register(alert_container, phone=OTHER, contact_by="sms")
    created = registration(alert_container, ref).created_at
    inbox = Inbox(alert_container)
    inbox.send(OTHER, "STOP")  # before it is due: never asked
    run_maintenance(alert_container, now=created + dt.timedelta(days=91))
    drain(alert_container)
    assert not [t for t in to(standin, OTHER) if t.startswith("Check-in")]
    assert [t for t in to(standin, RETURNEE) if t.startswith("Check-in")]
    inbox.send(RETURNEE, "STOP")  # after it was asked: it ends unanswered
    inbox.send(RETURNEE, "CHECK 1 1 1 1")
    run_maintenance(alert_container, now=created + dt.timedelta(days=200))
    drain(alert_container)
    rows = {r.registration_id: r for r in check_ins(alert_container)}
    assert rows[registration(alert_container, ref).id].status == "stopped"
    assert rows[registration(alert_container, other).id].status == "stopped"
    assert all(v is None for v in rows[registration(alert_container, ref).id].answers().values())
    assert len([t for t in to(standin, RETURNEE) if t.startswith("Check-in")]) == 1


# -- item 7: delete my data -------------------------------------------------------------------


def test_delete_my_data_removes_check_ins_updates_and_the_sms_log_lines(
    alert_container: Container, standin: AtStandIn, tmp_path: Path
) -> None:
    from ussd_app.messaging.backends.console import ConsoleSmsSender
    from ussd_app.phones import mask
    from ussd_app.returnees.account import delete_registration

    services = alert_container.services
    ref = register(alert_container, contact_by="sms")
    inbox = Inbox(alert_container)
    inbox.send(SKILLSHARE, f"ACK {ref}")
    created = registration(alert_container, ref).created_at
    run_maintenance(alert_container, now=created + dt.timedelta(days=91))
    inbox.send(RETURNEE, "CHECK 1 2 1 2")
    drain(alert_container)
    reg_id = registration(alert_container, ref).id
    assert check_ins(alert_container)[0].answers()["more_help"] == "no"
    # The console backend's log, as a development run would have written it.
    log_path = Path(services.settings.resolved_sms_log_path)
    console = ConsoleSmsSender(log_path, stream=open(tmp_path / "out.txt", "w"))  # noqa: SIM115
    for m in standin.messages:
        console.send(m.text, [m.number])
    console.send("Unrelated reply", [OTHER])
    assert mask(RETURNEE) in log_path.read_text()
    assert delete_registration(services, RETURNEE)
    assert check_ins(alert_container) == []
    assert outbox_rows(alert_container, registration_id=reg_id) == []
    left = [json.loads(line) for line in log_path.read_text().splitlines()]
    assert left and all(line["to"] != mask(RETURNEE) for line in left)
    assert not [line for line in left if ref in line["message"]]
    assert [line["message"] for line in left if line["to"] == mask(OTHER)] == ["Unrelated reply"]
