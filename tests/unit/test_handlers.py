"""Handlers called as the hop service calls them, against the real service layer."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import func, select

import handlers
from handlers import HandlerContext
from ussd_app.cases.lookups import STATUS_WORDS, CoarseStatus
from ussd_app.container import Services
from ussd_app.reports.models import TraffickingReport
from ussd_app.returnees.models import Registration

PHONE = "+26658123456"

REGISTRATION = {
    "consent": "yes",
    "share_partners": "no",
    "home_district": "LS-E",
    "came_from": "ZA-FS",
    "stay_intent": "visiting",
    "entry_point": "van_rooyens_gate",
    "travel_document": "none",
    "needs": ["documents"],
    "sex": "male",
    "age_band": "36p",
    "name": None,
    "sms_opt_in": "no",
}
REPORT = {
    "danger_now": "no",
    "child_involved": "unsure",
    "flags": ["F3"],
    "place": "LS-A",
    "when_seen": "earlier",
    "persons_count": "1",
    "vehicle": None,
    "callback_consent": "no",
}


@pytest.fixture(scope="module")
def registry() -> dict[str, handlers.HandlerFn]:
    return handlers.load_all()


def ctx(
    services: Services,
    answers: dict[str, Any],
    *,
    language: str = "en",
    session_id: str = "ATUid_1",
    phone: str = PHONE,
) -> HandlerContext:
    return HandlerContext(
        session_id=session_id, phone=phone, language=language, answers=answers, services=services
    )


def count(services: Services, model: type[Any]) -> int:
    with services.uow() as uow:
        return int(uow.session.scalar(select(func.count()).select_from(model)) or 0)


def test_all_handlers_are_registered(registry: dict[str, handlers.HandlerFn]) -> None:
    assert {"register_returnee", "submit_report", "check_reference", "delete_my_data"} <= set(
        registry
    )


def test_register_returns_the_ref(
    registry: dict[str, handlers.HandlerFn], services: Services
) -> None:
    result = registry["register_returnee"](ctx(services, REGISTRATION))
    assert result.outcome == "ok"
    assert result.values["ref"].startswith("R-")
    assert count(services, Registration) == 1


def test_submit_report_returns_the_ref_once_per_session(
    registry: dict[str, handlers.HandlerFn], services: Services
) -> None:
    first = registry["submit_report"](ctx(services, REPORT))
    replay = registry["submit_report"](ctx(services, REPORT))
    other = registry["submit_report"](ctx(services, REPORT, session_id="ATUid_2"))

    assert first.outcome == "ok"
    assert first.values["ref"].startswith("T-")
    assert replay.values == first.values
    assert other.values["ref"] != first.values["ref"]
    assert count(services, TraffickingReport) == 2


@pytest.mark.parametrize(("language", "word"), [("en", "Received"), ("st", "E amohetsoe")])
def test_check_reference_in_the_callers_language(
    registry: dict[str, handlers.HandlerFn], services: Services, language: str, word: str
) -> None:
    ref = registry["submit_report"](ctx(services, REPORT)).values["ref"]
    typed = ref[2:]  # digits only, as typed on a basic phone
    result = registry["check_reference"](
        ctx(services, {"reference": typed}, language=language, session_id="ATUid_9")
    )
    assert result.outcome == "ok"
    assert result.values == {"reference": ref, "status": word}


def test_check_reference_for_a_registration(
    registry: dict[str, handlers.HandlerFn], services: Services
) -> None:
    ref = registry["register_returnee"](ctx(services, REGISTRATION)).values["ref"]
    result = registry["check_reference"](ctx(services, {"reference": ref.lower()}))
    assert result.values == {"reference": ref, "status": "Received"}


@pytest.mark.parametrize("answers", [{"reference": "T-0000"}, {"reference": None}, {}])
def test_check_reference_not_found(
    registry: dict[str, handlers.HandlerFn], services: Services, answers: dict[str, Any]
) -> None:
    result = registry["check_reference"](ctx(services, answers))
    assert result.outcome == "not_found"
    assert dict(result.values) == {}


def test_status_words_exist_for_every_status_and_language() -> None:
    statuses: set[CoarseStatus] = {
        "received",
        "passed_to_police",
        "being_handled",
        "with_case_worker",
        "service_arranged",
        "closed",
    }
    for language, words in STATUS_WORDS.items():
        assert set(words) == statuses, language
        for word in words.values():
            assert word.isascii()
            assert len(word) <= 24


def test_unknown_language_falls_back_to_english(
    registry: dict[str, handlers.HandlerFn], services: Services
) -> None:
    ref = registry["submit_report"](ctx(services, REPORT)).values["ref"]
    result = registry["check_reference"](ctx(services, {"reference": ref}, language="fr"))
    assert result.values["status"] == "Received"


def test_delete_my_data(registry: dict[str, handlers.HandlerFn], services: Services) -> None:
    delete = registry["delete_my_data"]
    assert delete(ctx(services, {})).outcome == "not_found"
    registry["register_returnee"](ctx(services, REGISTRATION))
    assert delete(ctx(services, {})).outcome == "ok"
    assert count(services, Registration) == 0
    assert delete(ctx(services, {})).outcome == "not_found"
