"""Issue 13 engine pieces: a new phone starting on the main menu (`settings.first_screen`) with a
one-key language switch (option `language:`), and a screen's own wrong-answer line (`error:`)."""

from __future__ import annotations

import pytest

from ussd_app.menu import engine
from ussd_app.menu.loader import MenuError, load_menu
from ussd_app.menu.model import NEW_PHONE, Menu
from ussd_app.menu.types import Params, SetLanguage, Step

PARAMS = Params(emergency_number="112")
MENU = """\
version: 1
settings: {start: main, first_screen: main, languages: [st, en], max_tries: 3}
navigation:
  back: {en: "0 Back", st: "0 Morao"}
  home: {en: "00 Menu", st: "00 Qalo"}
  more: {en: "98 More", st: "98 Tse ling"}
messages:
  invalid_choice: {en: "Choose a listed number.", st: "Khetha nomoro e teng."}
  too_many_tries: {en: "Sorry.", st: "Ts'oarelo."}
  resume: {en: "Welcome back.\\n1 Continue\\n2 Again", st: "Rea u amohela.\\n1 Tsoela\\n2 Qala"}
  error: {en: "Sorry, error.", st: "Ts'oarelo, bothata."}
screens:
  main:
    type: menu
    text: {en: "Welcome. Choose:", st: "Lumela. Khetha:"}
    options:
      - {next: district, label: {en: "Register", st: "Ingolise"}}
      - {next: switched, language: {st: en, en: st}, label: {en: "Sesotho", st: "English"}}
  switched: {type: route, routes: [], default: main}
  district:
    type: menu
    store: home_district
    error: {en: "Choose 1-2.", st: "Khetha 1-2."}
    text: {en: "Home district?", st: "Setereke sa hae?"}
    options:
      - {value: "LS-D", next: done, label: {en: "Berea", st: "Berea"}}
      - {value: "LS-A", next: done, label: {en: "Maseru", st: "Maseru"}}
  done: {type: end, text: {en: "Thank you.", st: "Kea leboha."}}
"""


def menu(text: str = MENU) -> Menu:
    return load_menu(text, known_handlers=set())


def lines(step: Step) -> list[str]:
    assert step.reply is not None
    return step.reply.text.splitlines()


def languages(step: Step) -> list[str]:
    return [e.lang for e in step.effects if isinstance(e, SetLanguage)]


def test_a_new_phone_starts_on_the_main_menu_in_the_first_language() -> None:
    step = engine.start(menu(), None, PARAMS)
    assert (step.state.screen, step.state.lang) == ("main", "st")
    assert lines(step) == ["Lumela. Khetha:", "1 Ingolise", "2 English"]
    assert step.state.answers == {NEW_PHONE: True} and languages(step) == []


def test_going_on_in_the_language_shown_remembers_it_once() -> None:
    first = engine.start(menu(), None, PARAMS)
    step = engine.advance(menu(), first.state, "1", PARAMS)
    assert step.state.screen == "district" and languages(step) == ["st"]
    assert NEW_PHONE not in step.state.answers
    assert languages(engine.advance(menu(), step.state, "2", PARAMS)) == []


def test_a_wrong_answer_on_the_first_screen_remembers_nothing() -> None:
    first = engine.start(menu(), None, PARAMS)
    step = engine.advance(menu(), first.state, "7", PARAMS)
    assert lines(step)[0] == "Khetha nomoro e teng." and languages(step) == []
    assert step.state.answers == {NEW_PHONE: True}


def test_one_key_switches_the_language_and_shows_the_menu_in_it() -> None:
    first = engine.start(menu(), None, PARAMS)
    step = engine.advance(menu(), first.state, "2", PARAMS)
    assert (step.state.screen, step.state.lang) == ("main", "en")
    assert lines(step) == ["Welcome. Choose:", "1 Register", "2 Sesotho"]
    assert languages(step) == ["en"]
    back = engine.advance(menu(), step.state, "2", PARAMS)
    assert back.state.lang == "st" and languages(back) == ["st"]


def test_a_known_phone_starts_on_the_menu_without_the_marker() -> None:
    step = engine.start(menu(), "en", PARAMS)
    assert (step.state.screen, step.state.lang, dict(step.state.answers)) == ("main", "en", {})


def test_a_screen_s_own_error_line_replaces_the_shared_one() -> None:
    step = engine.start(menu(), "en", PARAMS)
    step = engine.advance(menu(), step.state, "1", PARAMS)
    step = engine.advance(menu(), step.state, "9", PARAMS)
    assert lines(step)[:2] == ["Choose 1-2.", "Home district?"]


def test_a_switch_to_an_unknown_language_is_a_fault() -> None:
    with pytest.raises(MenuError, match=r"not in settings\.languages"):
        menu(MENU.replace("language: {st: en, en: st}", "language: {st: fr}"))


def test_without_first_screen_the_language_screen_is_required() -> None:
    with pytest.raises(MenuError, match="language_screen"):
        menu(MENU.replace("first_screen: main, ", ""))


def test_the_error_line_needs_every_language() -> None:
    with pytest.raises(MenuError, match="missing translation 'st' for error"):
        menu(MENU.replace('error: {en: "Choose 1-2.", st: "Khetha 1-2."}', 'error: {en: "x"}'))
