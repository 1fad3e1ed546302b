"""The menus.yaml loader: compiles the valid fixture, and names screen, fault and line otherwise."""

from __future__ import annotations

from pathlib import Path

import pytest

from ussd_app.menu.check import run_check
from ussd_app.menu.loader import MenuError, Problem, check_menu_file, load_menu

DATA = Path(__file__).resolve().parents[1] / "data" / "menus"
VALID = DATA / "valid.yaml"
BROKEN = DATA / "broken"
VALID_HANDLERS = {"register_returnee", "submit_report", "check_status"}
BROKEN_HANDLERS = {"save"}
BASE = (BROKEN / "unknown_handler.yaml").read_text(encoding="utf-8").replace("save_it", "save")


def problems_for(name: str) -> list[Problem]:
    return check_menu_file(BROKEN / f"{name}.yaml", BROKEN_HANDLERS)


def problems_in_text(text: str, handlers: set[str] = BROKEN_HANDLERS) -> list[Problem]:
    with pytest.raises(MenuError) as caught:
        load_menu(text, known_handlers=handlers)
    return caught.value.problems


def line_of(name: str, needle: str) -> int:
    """1-based line of the first line containing `needle` in a broken fixture."""
    lines = (BROKEN / f"{name}.yaml").read_text(encoding="utf-8").splitlines()
    return next(i for i, line in enumerate(lines, start=1) if needle in line)


def only(problems: list[Problem]) -> Problem:
    assert len(problems) == 1, problems
    return problems[0]


class TestValidMenu:
    def test_valid_fixture_compiles_with_every_screen(self) -> None:
        menu = load_menu(VALID, known_handlers=VALID_HANDLERS)
        assert menu.start == "main"
        assert menu.languages == ("st", "en")
        kinds = {screen.type for screen in menu.screens.values()}
        assert kinds == {"menu", "multiselect", "input", "info", "end", "route", "language"}

    def test_base_of_broken_fixtures_is_itself_valid(self) -> None:
        assert load_menu(BASE, known_handlers=BROKEN_HANDLERS).screens["bye"].type == "end"

    def test_curly_quotes_and_s_caron_are_transliterated_on_load(self) -> None:
        menu = load_menu(VALID, known_handlers=VALID_HANDLERS)
        assert menu.messages["error"]["st"].startswith("Ts'oarelo")
        labels = [o.label["st"] for o in menu.screens["reg_district"].options]
        assert "Mohale's Hoek" in labels

    def test_options_are_numbered_at_compile_time(self) -> None:
        menu = load_menu(VALID, known_handlers=VALID_HANDLERS)
        keys = [o.key for o in menu.screens["reg_district"].options]
        assert keys == [str(n) for n in range(1, 11)]

    def test_option_value_defaults_to_its_key(self) -> None:
        menu = load_menu(VALID, known_handlers=VALID_HANDLERS)
        assert [o.value for o in menu.screens["main"].options] == ["1", "2", "3", "4", "5"]

    def test_long_option_lists_are_paginated_at_load(self) -> None:
        menu = load_menu(VALID, known_handlers=VALID_HANDLERS)
        assert len(menu.screens["reg_district"].pages["en"]) == 2

    def test_smaller_budget_is_enforced(self) -> None:
        with pytest.raises(MenuError) as caught:
            load_menu(VALID, known_handlers=VALID_HANDLERS, budget=60)
        assert any("over the budget of 60" in p.message for p in caught.value.problems)


class TestBrokenFixtures:
    def test_dangling_target(self) -> None:
        problem = only(problems_for("dangling_target"))
        assert problem == Problem(
            "how_many", "leads to unknown screen 'byee'", line_of("dangling_target", "byee")
        )

    def test_unreachable_screen(self) -> None:
        problem = only(problems_for("unreachable_screen"))
        assert problem.screen == "orphan"
        assert problem.message.startswith("unreachable")
        assert problem.line == line_of("unreachable_screen", "orphan:")

    def test_dead_end(self) -> None:
        problem = only(problems_for("dead_end"))
        assert (problem.screen, problem.message) == ("about", "dead end: no 'next'")
        assert problem.line == line_of("dead_end", "  about:")

    def test_missing_translation(self) -> None:
        problem = only(problems_for("missing_translation"))
        assert (problem.screen, problem.message) == ("main", "missing translation 'st' for text")
        assert problem.line == line_of("missing_translation", 'text: {en: "Main menu"}')

    def test_over_budget(self) -> None:
        problem = only(problems_for("over_budget"))
        assert problem.screen == "main"
        assert "page 1 in 'en'" in problem.message
        assert "over the budget of 160" in problem.message
        assert problem.line == line_of("over_budget", "  main:")

    def test_non_gsm7_character_is_named(self) -> None:
        problem = only(problems_for("non_gsm7"))
        assert problem.screen == "bye"
        assert "'☺' (U+263A)" in problem.message
        assert "text [en]" in problem.message
        assert problem.line == line_of("non_gsm7", "☺")

    def test_reserved_key(self) -> None:
        problem = only(problems_for("reserved_key"))
        assert problem.screen == "main"
        assert problem.message.startswith("key '0' is reserved")
        assert problem.line == line_of("reserved_key", 'key: "0"')

    def test_unknown_handler(self) -> None:
        problem = only(problems_for("unknown_handler"))
        line = line_of("unknown_handler", "save_it")
        assert problem == Problem("how_many", "unknown handler 'save_it'", line)

    def test_unknown_validator(self) -> None:
        problem = only(problems_for("unknown_validator"))
        line = line_of("unknown_validator", "validator: age")
        assert problem == Problem("how_many", "unknown validator 'age'", line)

    def test_yaml_syntax_error_names_line_and_nearest_screen(self) -> None:
        problem = only(problems_for("yaml_syntax"))
        assert problem.screen == "how_many"
        assert problem.message.startswith("YAML syntax error")
        assert problem.line == line_of("yaml_syntax", "    next: bye")  # where the {...} should end

    def test_schema_error_reports_every_fault(self) -> None:
        problems = problems_for("schema_error")
        assert [(p.screen, p.line) for p in problems] == [
            ("how_many", line_of("schema_error", "colour")),
            ("how_many", line_of("schema_error", "back: maybe")),
        ]
        assert "unknown key 'colour'" in problems[0].message
        assert "'back' must be true or false" in problems[1].message


class TestMoreChecks:
    def test_all_problems_are_reported_not_just_the_first(self) -> None:
        text = BASE.replace("handler: save", "handler: nope").replace("next: bye\n", "next: gone\n")
        messages = {p.message for p in problems_in_text(text)}
        assert {"unknown handler 'nope'", "leads to unknown screen 'gone'"} <= messages

    def test_duplicate_option_keys(self) -> None:
        text = BASE.replace("next: how_many}", 'key: "2", next: how_many}')
        assert "duplicate option key '2'" in {p.message for p in problems_in_text(text)}

    def test_extra_language_is_reported(self) -> None:
        text = BASE.replace('{en: "Main menu", st: "Qalo"}', '{en: "Main", st: "Qalo", fr: "Menu"}')
        problem = only(problems_in_text(text))
        assert (problem.screen, problem.message) == ("main", "text has unknown language 'fr'")

    def test_missing_nav_translation_is_reported(self) -> None:
        text = BASE.replace('more: {en: "98 More", st: "98 Ho hong"}', 'more: {en: "98 More"}')
        problem = only(problems_in_text(text))
        assert problem.message == "missing translation 'st' for navigation.more"
        assert problem.line == text.splitlines().index('  more: {en: "98 More"}') + 1

    def test_undeclared_placeholder(self) -> None:
        text = BASE.replace('"Thank you."', '"Thank you {name}."')
        problem = only(problems_in_text(text))
        assert problem.screen == "bye"
        assert "placeholder '{name}' [en] is not declared" in problem.message

    def test_outcomes_without_handler(self) -> None:
        text = BASE.replace("    handler: save\n", "    outcomes: {full: bye}\n")
        assert "'outcomes' without a 'handler'" in {p.message for p in problems_in_text(text)}

    def test_outcome_to_unknown_screen(self) -> None:
        text = BASE.replace(
            "    handler: save\n", "    handler: save\n    outcomes: {full: nowhere}\n"
        )
        assert only(problems_in_text(text)).message == "leads to unknown screen 'nowhere'"

    def test_screen_id_format(self) -> None:
        text = BASE.replace("how_many", "HowMany")
        problem = problems_in_text(text)[0]
        assert problem.screen == "HowMany"
        assert "must match" in problem.message

    def test_reserved_screen_id(self) -> None:
        text = BASE.replace("how_many", "_resume")
        assert any("is reserved" in p.message for p in problems_in_text(text))

    def test_unknown_screen_type(self) -> None:
        text = BASE.replace("type: input", "type: question")
        problem = only(problems_in_text(text))
        assert (problem.screen, problem.message) == ("how_many", "unknown screen type 'question'")

    def test_missing_required_field(self) -> None:
        text = BASE.replace("    validator: count\n", "")
        problem = only(problems_in_text(text))
        assert (problem.screen, problem.message) == (
            "how_many",
            "missing required field 'validator'",
        )

    def test_unquoted_yes_gets_a_hint(self) -> None:
        text = BASE.replace("next: bye}", "value: yes, next: bye}")
        problem = only(problems_in_text(text))
        assert "must be a string (quote yes/no/on/off in YAML)" in problem.message

    def test_multiselect_with_more_than_nine_options(self) -> None:
        options = "".join(
            f'      - {{label: {{en: "N{i}", st: "N{i}"}}, value: v{i}}}\n' for i in range(10)
        )
        screen = (
            "  pick:\n    type: multiselect\n    store: picks\n"
            '    text: {en: "Pick", st: "Khetha"}\n    next: bye\n    options:\n' + options
        )
        text = BASE.replace("next: how_many}", "next: pick}") + screen
        text = text.replace("  how_many:", "  how_many_unused:")
        messages = {p.message for p in problems_in_text(text)}
        assert "multiselect has 10 options (at most 9)" in messages

    def test_route_without_default_is_a_dead_end(self) -> None:
        screen = (
            "  check:\n    type: route\n    routes:\n"
            '      - {answer: people, equals: "1", next: bye}\n'
        )
        text = BASE.replace("    next: bye\n", "    next: check\n") + screen
        problem = only(problems_in_text(text))
        assert (problem.screen, problem.message) == ("check", "dead end: route has no 'default'")

    def test_route_on_an_answer_never_stored(self) -> None:
        screen = (
            "  check:\n    type: route\n    default: bye\n    routes:\n"
            '      - {answer: age, equals: "1", next: bye}\n'
        )
        text = BASE.replace("    next: bye\n", "    next: check\n") + screen
        assert only(problems_in_text(text)).message == "route answer 'age' is never stored"

    def test_loop_without_an_end_is_a_dead_end(self) -> None:
        text = BASE.replace("    next: bye\n", "    next: main\n").replace(
            '      - {label: {en: "Exit", st: "Tsoa"}, next: bye}\n', ""
        )
        by_screen = {p.screen: p.message for p in problems_in_text(text)}
        assert by_screen["bye"].startswith("unreachable")
        for screen in ("main", "how_many", "language"):
            assert by_screen[screen] == "dead end: no path from here reaches an end screen"

    def test_validator_without_message(self) -> None:
        text = BASE.replace('  count: {en: "Type a number.", st: "Ngola nomoro."}\n', "  {}\n")
        text = text.replace("validators:\n  {}\n", "")
        problem = only(problems_in_text(text))
        assert problem.message == "validator 'count' has no message in 'validators'"

    def test_dangling_start_and_shortcut(self) -> None:
        text = BASE.replace("start: main", "start: mian") + 'shortcuts:\n  "1": nowhere\n'
        messages = {p.message for p in problems_in_text(text)}
        assert "settings.start names unknown screen 'mian'" in messages
        assert "shortcut '1' names unknown screen 'nowhere'" in messages

    def test_system_message_over_budget(self) -> None:
        text = BASE.replace('error: {en: "Sorry, try again."', f'error: {{en: "{"x" * 160}"')
        problem = only(problems_in_text(text))
        assert problem.message.startswith("messages.error in 'en' is 164 septets")

    def test_empty_file(self) -> None:
        assert only(problems_in_text("\n")).message == "the file is empty or not a mapping"


class TestRunCheck:
    def test_valid_file_returns_zero(self, capsys: pytest.CaptureFixture[str]) -> None:
        assert run_check(str(VALID), VALID_HANDLERS, 160) == 0
        assert "OK: 20 screens" in capsys.readouterr().out

    def test_broken_file_prints_screen_line_and_summary(
        self, capsys: pytest.CaptureFixture[str]
    ) -> None:
        path = str(BROKEN / "unknown_handler.yaml")
        assert run_check(path, BROKEN_HANDLERS, 160) == 1
        out = capsys.readouterr().out.splitlines()
        line = line_of("unknown_handler", "save_it")
        assert out == [
            f"{path}:{line}: screen 'how_many': unknown handler 'save_it'",
            f"{path}: 1 problem found",
        ]

    def test_missing_file(self, capsys: pytest.CaptureFixture[str]) -> None:
        assert run_check("/nonexistent/menus.yaml", set(), 160) == 1
        assert "cannot read menu file" in capsys.readouterr().out


def test_a_lost_screen_header_after_a_route_is_listed_not_a_crash() -> None:
    """Deleting the header line of the screen after a route screen merges its keys into the
    route (a second `type:` key); the checker lists the problems instead of raising KeyError."""
    shipped = (Path(__file__).resolve().parents[2] / "menus.yaml").read_text(encoding="utf-8")
    broken = shipped.replace("\n  reg_declined:\n", "\n", 1)
    import handlers

    problems = problems_in_text(broken, set(handlers.load_all()))
    assert problems
    assert any("reg_declined" in p.message or "type" in p.message for p in problems)
