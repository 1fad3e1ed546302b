"""Answers per flow, computed from the menu graph; `journeys:` limits; the README table."""

from __future__ import annotations

import re
from pathlib import Path

from click.testing import CliRunner

from ussd_app.cli import main as cli
from ussd_app.menu.journeys import counts, table
from ussd_app.menu.loader import check_menu_file, load_menu

ROOT = Path(__file__).resolve().parents[2]
SHIPPED = ROOT / "menus.yaml"
SHIPPED_HANDLERS = {"register_returnee", "submit_report", "check_reference", "delete_my_data"}


def shipped_counts() -> dict[tuple[str, str], tuple[int | None, int | None]]:
    menu = load_menu(SHIPPED, known_handlers=SHIPPED_HANDLERS)
    return {(c.journey, c.lang): (c.fewest, c.worst) for c in counts(menu, menu.journeys)}


def copy_with(tmp_path: Path, *edits: tuple[str, str]) -> Path:
    text = SHIPPED.read_text(encoding="utf-8")
    for old, new in edits:
        assert text.count(old) == 1, old
        text = text.replace(old, new)
    path = tmp_path / "menus.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def known_counts() -> dict[tuple[str, str], int | None]:
    menu = load_menu(SHIPPED, known_handlers=SHIPPED_HANDLERS)
    return {(c.journey, c.lang): c.known for c in counts(menu, menu.journeys)}


def test_the_shipped_file_is_within_its_limits() -> None:
    assert check_menu_file(SHIPPED, SHIPPED_HANDLERS) == []
    found = shipped_counts()
    # Issue 13: registering is 10 answers from dialling on a new phone (the language, the menu
    # and 8 questions: stay/visit and the optional name are left to the case worker, the SMS
    # question became the contact question); every list it needs is one screen, so paging adds
    # nothing.
    assert found[("register", "st")] == found[("register", "en")] == (10, 10)
    assert found[("report", "st")][0] == found[("report", "en")][0] == 10
    assert found[("check", "st")] == (3, 3)
    known = known_counts()
    # A known phone: 9 answers from dialling (the menu choice + 8) for a report and a registration.
    assert known[("report", "st")] == known[("report", "en")] == 9
    assert known[("register", "st")] == known[("register", "en")] == 9


def test_a_registration_needing_11_answers_fails_its_limit_of_10(tmp_path: Path) -> None:
    # One more question (the optional first name, as before issue 13) after "About you":
    # 11 answers from a new phone, 10 from a known one: one too many each.
    path = copy_with(
        tmp_path,
        (
            "\n  reg_contact:\n",
            "\n  reg_name:\n    type: input\n    store: name\n    validator: name\n"
            '    skip_key: "1"\n'
            '    text: {en: "Your first name? Or 1 to skip.", st: "Lebitso? Kapa 1."}\n'
            "    next: reg_contact\n\n  reg_contact:\n",
        ),
    )
    text = path.read_text(encoding="utf-8")
    about, contact = text.index("\n  reg_about:\n"), text.index("\n  reg_name:\n")
    section = text[about:contact].replace("next: reg_contact", "next: reg_name")
    path.write_text(text[:about] + section + text[contact:], encoding="utf-8")
    problems = check_menu_file(path, SHIPPED_HANDLERS)
    messages = [p.message for p in problems if "journey" in p.message]
    assert messages == [
        f"journey 'register' takes {n} answers in '{lang}' from {where}, over its {limit}"
        for lang in ("st", "en")
        for n, where, limit in (
            (11, "a new phone's first screen", "max_answers of 10"),
            (10, "the main menu of a known phone", "max_answers_known of 9"),
        )
    ], problems
    lines = text.splitlines()
    line = next(n for n, row in enumerate(lines, 1) if row.startswith("  register: {to:"))
    assert all(p.line == line for p in problems if "journey" in p.message)


def test_the_known_phone_limit_is_checked_on_its_own(tmp_path: Path) -> None:
    path = copy_with(
        tmp_path,
        (
            "max_answers: 10, max_answers_known: 9}\n  check:",
            "max_answers: 10, max_answers_known: 8}\n  check:",
        ),
    )
    messages = [p.message for p in check_menu_file(path, SHIPPED_HANDLERS)]
    assert messages == [
        f"journey 'report' takes 9 answers in '{lang}' from the main menu of a known phone,"
        " over its max_answers_known of 8"
        for lang in ("st", "en")
    ]


SWITCH = (
    '      - next: language\n        label:\n          en: "Puo/Language"\n',
    "      - next: main\n        language: {st: en, en: st}\n        label:\n"
    '          en: "Sesotho"\n',
)


def test_starting_on_the_sesotho_menu_saves_the_language_answer(tmp_path: Path) -> None:
    # `first_screen: main` with a one-key switch ("6 English"): a Sesotho speaker saves the
    # language answer; an English speaker spends it on the switch instead.
    path = copy_with(
        tmp_path,
        ("  language_screen: language\n", "  first_screen: main\n  language_screen: language\n"),
        SWITCH,
    )
    assert check_menu_file(path, SHIPPED_HANDLERS) == []
    menu = load_menu(path, known_handlers=SHIPPED_HANDLERS)
    found = {(c.journey, c.lang): c.fewest for c in counts(menu, menu.journeys)}
    assert found[("register", "st")] == 9 and found[("register", "en")] == 10
    assert found[("report", "st")] == 9 and found[("report", "en")] == 10


def test_without_the_one_key_switch_english_costs_two_answers(tmp_path: Path) -> None:
    # "6 Puo/Language" then "2 English": 11 answers to register in English, over the limit.
    path = copy_with(
        tmp_path,
        ("  language_screen: language\n", "  first_screen: main\n  language_screen: language\n"),
    )
    messages = [p.message for p in check_menu_file(path, SHIPPED_HANDLERS)]
    assert (
        "journey 'register' takes 11 answers in 'en' from a new phone's first screen, over its"
        " max_answers of 10"
    ) in messages


def test_an_unknown_end_screen_is_named(tmp_path: Path) -> None:
    path = copy_with(tmp_path, ("check: {to: check_result,", "check: {to: check_resultt,"))
    problems = check_menu_file(path, SHIPPED_HANDLERS)
    assert any(
        "journey 'check' ends at unknown screen 'check_resultt'" in p.message for p in problems
    )


def test_the_command_prints_the_table_and_the_readme_carries_it() -> None:
    result = CliRunner().invoke(cli, ["menus", "journeys", str(SHIPPED)])
    assert result.exit_code == 0, result.output
    menu = load_menu(SHIPPED, known_handlers=SHIPPED_HANDLERS)
    assert result.output.splitlines() == table(menu, menu.journeys)
    assert "| register | Sesotho | 10 | 10 | 120 s | 9 | 10 / 9 |" in result.output
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    block = re.search(r"<!-- journeys:start -->\n(.*?)<!-- journeys:end -->", readme, re.S)
    assert block is not None
    assert block.group(1) == result.output, "README table is stale: paste `ussd-app menus journeys`"
