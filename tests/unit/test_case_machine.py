"""The case state machines, table-driven, for reports and registrations: every action from every
status, by every kind of actor, is either applied exactly as the table says or changes nothing."""

from __future__ import annotations

import contextlib
import itertools
from dataclasses import dataclass, field
from typing import Any

import pytest

from tests.conftest import TEST_DATA_KEY
from ussd_app.cases import authority, machine
from ussd_app.cases.authority import SYSTEM, Actor, Who
from ussd_app.cases.machine import (
    REGISTRATION_RULES,
    REPORT_RULES,
    CaseAction,
    Outcome,
    apply,
)
from ussd_app.crypto import Cipher
from ussd_app.reports.models import ReportStatus, TraffickingReport
from ussd_app.returnees.models import Registration, RegistrationStatus

HOLDER = Actor("sms", partner_code="HOLDER", contact_id=1)
ALERTED = Actor("desk", partner_code="ALERTED", user_id=7)
STRANGER = Actor("sms", partner_code="STRANGER", contact_id=3)
ACTORS = {"holder": HOLDER, "alerted": ALERTED, "stranger": STRANGER, "system": SYSTEM}


@dataclass
class FakeSession:
    added: list[Any] = field(default_factory=list)

    def add(self, obj: Any) -> None:
        self.added.append(obj)

    def begin_nested(self) -> contextlib.nullcontext[None]:
        return contextlib.nullcontext()


@dataclass
class FakeUow:
    session: FakeSession = field(default_factory=FakeSession)


@dataclass
class FakeServices:
    cipher: Cipher = field(default_factory=lambda: Cipher((TEST_DATA_KEY,)))


@pytest.fixture(autouse=True)
def alerted_partners(monkeypatch: pytest.MonkeyPatch) -> None:
    """HOLDER and ALERTED were alerted to every case; STRANGER never was."""
    monkeypatch.setattr(authority, "alerted_partners", lambda session, case: {"HOLDER", "ALERTED"})


def expected_allowed(who: Who, actor_name: str, held: bool) -> bool:
    if who is Who.SYSTEM:
        return actor_name == "system"
    if actor_name in ("system", "stranger"):
        return False
    if who is Who.HOLDER and held:
        return actor_name == "holder"
    return True


def make(kind: str, status: str, held: bool) -> TraffickingReport | Registration:
    case: TraffickingReport | Registration
    if kind == "report":
        case = TraffickingReport(id=1, ref="T-1234", status=status, priority="P1")
    else:
        case = Registration(id=1, ref="R-123456", status=status)
    case.holder_partner_code = "HOLDER" if held else None
    return case


CASES = [
    (kind, action, status, actor_name, held)
    for kind, rules, statuses in (
        ("report", REPORT_RULES, [s.value for s in ReportStatus]),
        ("registration", REGISTRATION_RULES, [s.value for s in RegistrationStatus]),
    )
    for action, status, actor_name, held in itertools.product(
        rules, statuses, ACTORS, (False, True)
    )
]


@pytest.mark.parametrize(("kind", "action", "status", "actor_name", "held"), CASES, ids=str)
def test_every_action_from_every_status_by_every_actor(
    kind: str, action: CaseAction, status: str, actor_name: str, held: bool
) -> None:
    rule = (REPORT_RULES if kind == "report" else REGISTRATION_RULES)[action]
    case = make(kind, status, held)
    uow = FakeUow()
    outcome = "assisted" if action is CaseAction.CLOSED else None
    result = apply(
        FakeServices(),  # type: ignore[arg-type]
        uow,  # type: ignore[arg-type]
        case,
        action,
        ACTORS[actor_name],
        outcome=outcome,
        note="a note" if action is CaseAction.NOTED else None,
        level=1 if action is CaseAction.ESCALATED else 0,
    )
    if not expected_allowed(rule.who, actor_name, held):
        assert result.outcome is Outcome.REFUSED
        assert case.status == status
        (event,) = uow.session.added
        assert event.action == "refused" and event.detail == action.value
    elif status not in rule.sources:
        assert result.outcome is Outcome.NOT_NOW
        assert case.status == status and uow.session.added == []
    else:
        assert result.outcome is Outcome.DONE
        assert case.status == (rule.target or status)
        if action is CaseAction.ALERTED:
            assert uow.session.added == []  # the accepted outbox row is its record
        else:
            (event,) = uow.session.added
            assert event.action == action.value
            assert event.partner_code == ACTORS[actor_name].partner_code


def test_the_tables_cover_every_status() -> None:
    for rules, statuses in (
        (REPORT_RULES, {s.value for s in ReportStatus}),
        (REGISTRATION_RULES, {s.value for s in RegistrationStatus}),
    ):
        reachable = {r.target for r in rules.values() if r.target} | {
            s for r in rules.values() for s in r.sources
        }
        assert reachable == statuses


def test_acknowledging_makes_the_actor_the_holder() -> None:
    case = make("report", "sent", held=False)
    apply(FakeServices(), FakeUow(), case, CaseAction.ACKNOWLEDGED, ALERTED)  # type: ignore[arg-type]
    assert case.holder_partner_code == "ALERTED" and case.assignee_user_id == 7
    assert isinstance(case, TraffickingReport) and case.acknowledged_at is not None


def test_a_note_is_stored_encrypted() -> None:
    case = make("report", "acknowledged", held=True)
    uow = FakeUow()
    apply(FakeServices(), uow, case, CaseAction.NOTED, HOLDER, note="met her at the rank")  # type: ignore[arg-type]
    (event,) = uow.session.added
    assert event.note_enc and "rank" not in event.note_enc


def test_an_unknown_closing_outcome_is_a_bug() -> None:
    case = make("report", "acknowledged", held=True)
    with pytest.raises(ValueError, match="outcome"):
        apply(FakeServices(), FakeUow(), case, CaseAction.CLOSED, HOLDER, outcome="gone")  # type: ignore[arg-type]


def test_actions_a_kind_of_case_does_not_have_are_refused_loudly() -> None:
    with pytest.raises(ValueError, match="does not apply"):
        apply(
            FakeServices(),
            FakeUow(),
            make("registration", "new", False),
            CaseAction.TRANSFERRED,  # registrations are not transferred (yet)
            HOLDER,
        )  # type: ignore[arg-type]
    assert machine.CLOSE_OUTCOMES["duplicate"] == "Duplicate"
