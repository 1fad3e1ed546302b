"""The pure engine: navigation, answers, routes, handlers, resume, and the validators it uses."""

from __future__ import annotations

import json
from collections.abc import Iterable
from functools import cache
from pathlib import Path

import pytest

from ussd_app.menu import engine
from ussd_app.menu.loader import load_menu
from ussd_app.menu.model import PENDING_NEXT, Menu
from ussd_app.menu.types import (
    FlowEnded,
    HandlerResult,
    Params,
    RunHandler,
    SessionState,
    SetLanguage,
    Step,
)
from ussd_app.menu.validators import VALIDATORS

VALID = Path(__file__).resolve().parents[1] / "data" / "menus" / "valid.yaml"
HANDLERS = {"register_returnee", "submit_report", "check_status"}
PARAMS = Params(emergency_number="112")


@cache
def menu() -> Menu:
    return load_menu(VALID, known_handlers=HANDLERS)


def text(step: Step) -> str:
    assert step.reply is not None
    return step.reply.text


def ended(step: Step) -> bool:
    assert step.reply is not None
    return step.reply.end


def lines(step: Step) -> list[str]:
    return text(step).splitlines()


def at(screen: str, lang: str = "en", **fields: object) -> SessionState:
    """A state sitting on `screen`."""
    return SessionState.from_dict({"screen": screen, "lang": lang, **fields})


def run(inputs: Iterable[str], state: SessionState | None = None) -> Step:
    """Start in English at the main menu (or at `state`) and feed the inputs."""
    step = engine.start(menu(), "en", PARAMS) if state is None else Step(state, None)
    for user_input in inputs:
        step = engine.advance(menu(), step.state, user_input, PARAMS)
    return step


class TestStart:
    def test_no_language_shows_the_language_screen_in_the_default_language(self) -> None:
        step = engine.start(menu(), None, PARAMS)
        assert step.state.screen == "language"
        assert step.state.lang == "st"
        # No "00 Qalo": a first caller has no menu to go back to, nor a language chosen yet.
        assert lines(step) == ["Khetha puo", "1 Sesotho", "2 English"]

    def test_choosing_a_language_sets_it_and_emits_set_language(self) -> None:
        step = engine.advance(menu(), engine.start(menu(), None, PARAMS).state, "2", PARAMS)
        assert step.effects == (SetLanguage("en"),)
        assert step.state.lang == "en"
        assert step.state.screen == "main"
        assert lines(step)[0] == "Welcome to Khutlela Hae"

    def test_known_language_starts_at_the_main_menu(self) -> None:
        step = engine.start(menu(), "st", PARAMS)
        assert step.state.screen == "main"
        assert lines(step)[0] == "Rea u amohela Khutlela Hae"
        assert not ended(step)

    def test_unknown_language_is_treated_as_none(self) -> None:
        assert engine.start(menu(), "fr", PARAMS).state.screen == "language"

    def test_start_at_a_shortcut_screen(self) -> None:
        step = engine.start_at(menu(), "en", "report_danger", PARAMS)
        assert step.state.screen == "report_danger"
        assert step.state.history == ()
        assert "0 Back" not in lines(step)

    def test_start_at_an_unknown_screen_falls_back_to_start(self) -> None:
        assert engine.start_at(menu(), "en", "nope", PARAMS).state.screen == "main"


class TestResume:
    def suspended(self) -> SessionState:
        return at("reg_who", history=["main", "register", "reg_name"], answers={"consent": "yes"})

    def test_resume_screen_is_offered_in_neutral_words(self) -> None:
        step = engine.start(menu(), "en", PARAMS, resumable=self.suspended())
        assert step.state.screen == "_resume"
        assert text(step) == "Welcome back.\n1 Continue\n2 Start again"

    def test_continue_restores_the_suspended_session(self) -> None:
        step = engine.start(menu(), "en", PARAMS, resumable=self.suspended())
        step = engine.advance(menu(), step.state, "1", PARAMS)
        assert step.state.screen == "reg_who"
        assert step.state.answers == {"consent": "yes"}
        assert step.state.suspended is None
        assert lines(step)[0] == "You are:"

    def test_start_again_begins_fresh_at_the_main_menu(self) -> None:
        step = engine.start(menu(), "en", PARAMS, resumable=self.suspended())
        step = engine.advance(menu(), step.state, "2", PARAMS)
        assert (step.state.screen, step.state.answers) == ("main", {})

    def test_anything_else_is_invalid_then_ends(self) -> None:
        step = engine.start(menu(), "en", PARAMS, resumable=self.suspended())
        step = engine.advance(menu(), step.state, "00", PARAMS)
        assert lines(step)[0] == "Choose a number from the list."
        assert step.state.screen == "_resume"
        step = engine.advance(menu(), step.state, "9", PARAMS)
        step = engine.advance(menu(), step.state, "x", PARAMS)
        assert ended(step)
        assert text(step) == "Too many tries. Please dial again."

    def test_resume_uses_the_callers_language(self) -> None:
        step = engine.start(menu(), "st", PARAMS, resumable=self.suspended())
        assert lines(step)[0] == "Rea u amohela hape."
        assert lines(engine.advance(menu(), step.state, "1", PARAMS))[0] == "U:"

    def test_suspended_state_on_a_removed_screen_is_not_offered(self) -> None:
        step = engine.start(menu(), "en", PARAMS, resumable=at("gone_screen"))
        assert step.state.screen == "main"


class TestNavigation:
    def test_back_returns_to_the_previous_screen_keeping_answers(self) -> None:
        step = run(["1", "1"])
        assert step.state.screen == "reg_name"
        step = engine.advance(menu(), step.state, "0", PARAMS)
        assert step.state.screen == "register"
        assert step.state.answers == {"consent": "yes"}
        assert step.state.history == ("main",)

    def test_back_on_the_start_screen_is_an_invalid_answer(self) -> None:
        step = run(["0"])
        assert step.state.screen == "main"
        assert lines(step)[0] == "Choose a number from the list."

    def test_back_false_makes_zero_an_answer(self) -> None:
        step = run(["1", "1", "1", "2", "5", "1"])
        assert step.state.screen == "reg_household"
        assert "0 Back" not in lines(step)
        step = engine.advance(menu(), step.state, "0", PARAMS)
        assert step.state.screen == "reg_household"
        assert lines(step)[0] == "Type a number, e.g. 3."

    def test_home_clears_answers_and_history(self) -> None:
        step = run(["1", "1", "Thabo", "00"])
        assert step.state.screen == "main"
        assert (step.state.answers, step.state.history) == ({}, ())

    def test_more_and_back_between_pages(self) -> None:
        step = run(["1", "1", "1", "2"])
        assert step.state.screen == "reg_district"
        step = engine.advance(menu(), step.state, "98", PARAMS)
        assert step.state.page == 1
        assert lines(step)[0] == "6 Mohale's Hoek"
        step = engine.advance(menu(), step.state, "0", PARAMS)
        assert (step.state.screen, step.state.page) == ("reg_district", 0)
        assert lines(step)[0].startswith("Which district")

    def test_more_on_the_last_page_is_an_invalid_answer(self) -> None:
        step = run(["1", "1", "1", "2", "98", "98"])
        assert (step.state.page, step.state.tries) == (0, 1)
        assert lines(step)[0] == "Choose a number from the list."

    def test_an_option_from_another_page_can_be_chosen(self) -> None:
        step = run(["1", "1", "1", "2", "10"])
        assert step.state.answers["district"] == "LS-K"

    def test_input_is_stripped_and_a_trailing_hash_ignored(self) -> None:
        assert run([" 1# "]).state.screen == "register"

    def test_route_screens_are_never_in_history(self) -> None:
        step = run(["2", "2"])
        assert step.state.screen == "report_vehicle"
        assert step.state.history == ("main", "report_danger")
        step = engine.advance(menu(), step.state, "0", PARAMS)
        assert step.state.screen == "report_danger"

    def test_info_screen_continues_on_any_input(self) -> None:
        step = run(["4", "anything"])
        assert step.state.screen == "main"


class TestInvalidInput:
    def test_invalid_choice_reshows_page_one_with_the_reason(self) -> None:
        step = run(["1", "1", "1", "2", "98", "77"])
        assert step.state.page == 0
        assert lines(step)[:2] == [
            "Choose a number from the list.",
            "Which district are you going home to? Choose one.",
        ]

    def test_validator_message_is_the_reason_on_input_screens(self) -> None:
        step = run(["1", "1", "T"])
        assert lines(step)[0] == "Type a name, e.g. Thabo."

    def test_too_many_tries_ends_the_session(self) -> None:
        step = run(["x", "y", "z"])
        assert ended(step)
        assert text(step) == "Too many tries. Please dial again."
        assert step.effects == (FlowEnded("main"),)  # the flow is over: no "Continue" next dial

    def test_tries_reset_on_a_new_screen(self) -> None:
        step = run(["x", "y", "1"])
        assert (step.state.screen, step.state.tries) == ("register", 0)


class TestAnswers:
    def test_menu_stores_the_option_value(self) -> None:
        assert run(["1", "2"]).state.answers == {"consent": "no"}

    def test_menu_option_set_stores_more_answers(self) -> None:
        step = run(["1", "1", "1", "3"])
        assert step.state.answers["sex"] == "child"
        assert step.state.answers["adult"] == "no"

    def test_input_stores_the_normalised_value(self) -> None:
        step = run(["1", "1", "  ’mathabo  "])
        assert step.state.answers["name"] == "'mathabo"

    def test_skip_key_stores_null(self) -> None:
        step = run(["1", "1", "1"])
        assert step.state.screen == "reg_who"
        assert step.state.answers["name"] is None

    @pytest.mark.parametrize(
        ("typed", "chosen"),
        [
            ("13", ["clinic", "skills"]),
            ("31", ["clinic", "skills"]),
            ("1, 3,3", ["clinic", "skills"]),
            ("4 2", ["livelihood", "documents"]),
            ("9", []),
        ],
    )
    def test_multiselect(self, typed: str, chosen: list[str]) -> None:
        step = run(["1", "1", "1", "1", "1", typed])
        assert step.state.screen == "reg_household"
        assert step.state.answers["needs"] == chosen

    @pytest.mark.parametrize("typed", ["5", "19", "", "1a", ",", "98"])
    def test_multiselect_invalid(self, typed: str) -> None:
        step = run(["1", "1", "1", "1", "1", typed])
        assert step.state.screen == "reg_needs"
        assert step.state.tries == 1


class TestRoutesAndHandlers:
    def test_route_to_an_end_screen_with_a_param_placeholder(self) -> None:
        step = run(["2", "1"])
        assert step.state.screen == "report_urgent"
        assert ended(step)
        assert text(step) == "Call the police now on 112."
        assert step.effects == (FlowEnded("report_urgent"),)

    def test_route_default(self) -> None:
        assert run(["2", "2"]).state.screen == "report_vehicle"

    def test_handler_screen_asks_the_caller_to_run_it_after_storing(self) -> None:
        step = run(["2", "2", "a123 bcd"])
        assert step.reply is None
        assert step.action == RunHandler("submit_report", "report_vehicle")
        assert step.state.answers["vehicle"] == "A123 BCD"

    def test_complete_follows_next_and_clears_history(self) -> None:
        step = run(["2", "2", "1"])
        step = engine.complete(menu(), step.state, HandlerResult({"ref": "T-5307"}), PARAMS)
        assert step.state.screen == "report_done"
        assert text(step) == "Report T-5307 received. Thank you."
        assert step.state.history == ()
        assert PENDING_NEXT not in step.state.answers
        assert step.state.values == {"ref": "T-5307"}
        assert step.effects == (FlowEnded("report_done"),)

    def registered(self, outcome: str = "ok", **values: str) -> Step:
        step = run(["1", "1", "Thabo", "1", "98", "6", "9", "3", "1"])
        assert step.action == RunHandler("register_returnee", "reg_confirm")
        return engine.complete(menu(), step.state, HandlerResult(values, outcome), PARAMS)

    def test_placeholders_from_values_and_answer_labels(self) -> None:
        step = self.registered(ref="R-123456")
        assert text(step) == "Thank you Thabo. Your reference is R-123456. District: Mohale's Hoek."

    def test_placeholders_are_truncated_to_their_width(self) -> None:
        step = self.registered(ref="R-1234567890")
        assert "reference is R-1234.." in text(step)

    def test_declared_outcome_picks_its_screen(self) -> None:
        step = self.registered("duplicate", ref="R-1")
        assert (step.state.screen, text(step)) == ("reg_exists", "You are already registered: R-1.")

    def test_undeclared_outcome_ends_with_the_error_message(self) -> None:
        step = self.registered("exploded")
        assert ended(step)
        assert text(step) == "Sorry, something went wrong. Please dial again."

    def test_multiselect_answers_show_labels_joined_with_commas(self) -> None:
        step = run(["1", "1", "1", "1", "1", "31", "2"])
        assert lines(step)[0] == "Needs: Clinic,Skills. Press 1 to send your registration."
        step = run(["9"], at("reg_needs", lang="st", history=["main"]))
        step = run(["2"], step.state)
        assert lines(step)[0] == "Litlhoko: . Tobetsa 1 ho romela ngoliso."

    def test_placeholder_labels_follow_the_session_language(self) -> None:
        state = at("reg_household", lang="st", answers={"needs": ["documents"]})
        assert lines(run(["4"], state))[0].startswith("Litlhoko: Litokomane.")

    def test_state_round_trips_through_json_between_hops(self) -> None:
        step = engine.start(menu(), None, PARAMS)
        for user_input in ["1", "1", "1", "Palesa", "2", "5", "13", "4"]:
            state = SessionState.from_dict(json.loads(json.dumps(step.state.to_dict())))
            step = engine.advance(menu(), state, user_input, PARAMS)
        assert step.state.screen == "reg_confirm"
        assert step.state.answers["needs"] == ["clinic", "skills"]


class TestRobustness:
    def test_unknown_screen_in_state_ends_politely(self) -> None:
        step = engine.advance(menu(), at("removed_in_deploy"), "1", PARAMS)
        assert ended(step)
        assert text(step).startswith("Sorry")

    def test_advance_on_an_end_screen_shows_it_again(self) -> None:
        step = engine.advance(menu(), at("bye"), "1", PARAMS)
        assert ended(step)

    @pytest.mark.parametrize(
        "garbage", ["", "*", "#", "##", "*123#", "x" * 5000, "\u0000", "😀", "١٢"]
    )
    def test_garbage_never_raises(self, garbage: str) -> None:
        for screen in menu().screens:
            step = engine.advance(menu(), at(screen), garbage, PARAMS)
            assert step.reply is not None or step.action is not None


class TestValidators:
    @pytest.mark.parametrize(
        ("typed", "value"),
        [("3", "3"), ("007", "7"), ("9999", "9999"), ("0", None), ("10000", None), ("3.5", None),
         ("-1", None), ("", None), ("٣", None)],
    )  # fmt: skip
    def test_count(self, typed: str, value: str | None) -> None:
        assert VALIDATORS["count"](typed) == value

    @pytest.mark.parametrize(
        ("typed", "value"),
        [("Thabo", "Thabo"), ("  ’Mathabo   Mokoena ", "'Mathabo Mokoena"), ("Ntšoe", "Nts'oe"),
         ("Jean-Luc", "Jean-Luc"), ("T", None), ("Thabo2", None), ("Иван", None), ("x" * 41, None),
         ("--", None)],
    )  # fmt: skip
    def test_name(self, typed: str, value: str | None) -> None:
        assert VALIDATORS["name"](typed) == value

    @pytest.mark.parametrize(
        ("typed", "value"),
        [("a123 bcd", "A123 BCD"), ("Maseru-Mafeteng", "MASERU-MAFETENG"), ("F/12", "F/12"),
         ("A", None), ("--", None), ("A*1", None), ("x" * 31, None)],
    )  # fmt: skip
    def test_vehicle(self, typed: str, value: str | None) -> None:
        assert VALIDATORS["vehicle"](typed) == value

    @pytest.mark.parametrize(
        ("typed", "value"),
        [("T-5307", "T-5307"), ("t5307", "T-5307"), ("r-123456", "R-123456"), ("R 1234", "R-1234"),
         ("T-1234567", "T-1234567"),  # an old report code widened to 7 digits still works
         ("t 4821 3906", "T-48213906"), ("R-20519366", "R-20519366"),  # new: check digit right
         ("T-48213907", None), ("T-48213960", None), ("R-48213906", None),  # typo, swap, letter
         ("T-123", None), ("TT-5307", None),
         # the digits alone, for either kind: the look-up resolves them (refs.reference_candidates)
         ("5307", "5307"), (" 4821 3906 ", "48213906"), ("123456", "123456"),
         ("48213907", None), ("123", None)],
    )  # fmt: skip
    def test_reference(self, typed: str, value: str | None) -> None:
        assert VALIDATORS["reference"](typed) == value

    @pytest.mark.parametrize(
        ("typed", "value"),
        [("  near the  bridge ", "near the bridge"), ("“red” taxi", '"red" taxi'), ("😀", "?"),
         ("   ", None), ("x" * 81, None), ("x" * 80, "x" * 80)],
    )  # fmt: skip
    def test_free_text(self, typed: str, value: str | None) -> None:
        assert VALIDATORS["free_text"](typed) == value
