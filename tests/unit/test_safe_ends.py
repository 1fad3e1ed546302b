"""Safe ends on the shipped menus.yaml: every END of a report that said danger now carries the
emergency number, the too-many-tries END fits the kind of screen, and it ends the flow."""

from __future__ import annotations

from collections.abc import Iterable
from functools import cache
from pathlib import Path

import pytest

from ussd_app.menu import engine
from ussd_app.menu.loader import load_menu
from ussd_app.menu.model import Menu
from ussd_app.menu.types import FlowEnded, Params, Step

SHIPPED = Path(__file__).resolve().parents[2] / "menus.yaml"
SHIPPED_HANDLERS = {"register_returnee", "submit_report", "check_reference", "delete_my_data"}
PARAMS = Params(emergency_number="1112")  # not the default: the configured number is shown


@cache
def menu() -> Menu:
    return load_menu(SHIPPED, known_handlers=SHIPPED_HANDLERS)


def run(lang: str, inputs: Iterable[str]) -> Step:
    step = engine.start(menu(), lang, PARAMS)
    for value in inputs:
        assert step.reply is not None and not step.reply.end, step.reply
        step = engine.advance(menu(), step.state, value, PARAMS)
    assert step.reply is not None
    return step


def body(step: Step) -> str:
    assert step.reply is not None
    return step.reply.text


WRONG = ["x", "y", "z"]
DANGER_WORDS = {"en": "call 1112 now", "st": "letsetsa 1112 hona joale"}


@pytest.mark.parametrize("lang", ["en", "st"])
class TestDangerNow:
    def test_too_many_tries_on_the_danger_screen_shows_the_number(self, lang: str) -> None:
        step = run(lang, ["2", *WRONG])
        assert step.reply is not None and step.reply.end
        assert DANGER_WORDS[lang] in body(step)

    @pytest.mark.parametrize(
        "path",
        [
            ["2", "1", *WRONG],  # danger yes, then wrong keys on "child involved?"
            ["2", "1", "1", "1", *WRONG],  # ... on "where?"
            ["2", "1", "1", "1", "1", "1", "1", *WRONG],  # ... on the plate (free text)
        ],
    )
    def test_every_too_many_tries_after_yes_shows_the_number(
        self, lang: str, path: list[str]
    ) -> None:
        step = run(lang, path)
        assert step.reply is not None and step.reply.end
        assert DANGER_WORDS[lang] in body(step)

    def test_no_danger_no_number(self, lang: str) -> None:
        step = run(lang, ["2", "2", *WRONG])
        assert "1112" not in body(step)


@pytest.mark.parametrize("lang", ["en", "st"])
class TestTooManyTriesWording:
    def test_a_choice_screen_asks_for_a_number(self, lang: str) -> None:
        step = run(lang, ["1", "1", *WRONG])  # registration: consent, then the district list
        assert body(step) == menu().messages["too_many_tries"][lang]

    def test_a_free_text_screen_does_not_ask_for_a_number(self, lang: str) -> None:
        step = run(lang, ["3", "T-5307*", "!!", "??"])  # check a reference: free text
        assert body(step) == menu().messages["too_many_tries_text"][lang]
        assert "numbers shown" not in body(step) and "nomoro e bontsitsoeng" not in body(step)

    def test_it_ends_the_flow_so_no_continue_is_offered(self, lang: str) -> None:
        step = run(lang, ["1", "1", *WRONG])
        assert FlowEnded(step.state.screen) in step.effects


def test_the_danger_text_fits_with_the_widest_number() -> None:
    # menus check budgets messages with {emergency_number} at 12 septets; the shipped file passes.
    for lang in ("en", "st"):
        assert "{emergency_number}" in menu().messages["too_many_tries_danger"][lang]
