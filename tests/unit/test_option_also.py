"""An option's `also` keys: a count typed where it is no other option's key chooses the option."""

from __future__ import annotations

from pathlib import Path

import pytest

from ussd_app.menu.loader import check_menu_file, load_menu

SHIPPED = Path(__file__).resolve().parents[2] / "menus.yaml"
SHIPPED_HANDLERS = {"register_returnee", "submit_report", "check_reference", "delete_my_data"}


def test_typed_counts_choose_the_option_on_the_shipped_menu() -> None:
    screen = load_menu(SHIPPED, known_handlers=SHIPPED_HANDLERS).screens["report_count"]
    chosen = {key: getattr(screen.option(key), "value", None) for key in "123456789"}
    assert chosen == {
        **{"1": "1", "2": "2_5", "3": "6p", "4": "unsure", "5": "2_5"},
        **{"6": "6p", "7": "6p", "8": "6p", "9": "6p"},
    }
    assert getattr(screen.option("10"), "value", None) == "6p"


def test_no_label_starts_with_a_digit_on_report_count() -> None:
    screen = load_menu(SHIPPED, known_handlers=SHIPPED_HANDLERS).screens["report_count"]
    for option in screen.options:
        for lang, label in option.label.items():
            assert not label[0].isdigit(), (lang, label)


@pytest.mark.parametrize(
    ("also", "message"),
    [
        ('["3"]', "key '3' chooses both option 3 and 2"),
        ('["98"]', "key '98' is reserved for navigation"),
        ('"6"', "'also' must be a list of keys"),
    ],
)
def test_an_ambiguous_or_reserved_also_key_is_a_problem(
    tmp_path: Path, also: str, message: str
) -> None:
    text = SHIPPED.read_text(encoding="utf-8")
    text = text.replace('also: ["5"]', f"also: {also}", 1)
    path = tmp_path / "menus.yaml"
    path.write_text(text, encoding="utf-8")
    problems = check_menu_file(path, SHIPPED_HANDLERS)
    assert any(message in p.message and p.screen == "report_count" for p in problems), problems


def test_no_more_may_not_be_longer_than_invalid_choice(tmp_path: Path) -> None:
    text = SHIPPED.read_text(encoding="utf-8")
    text = text.replace(
        'en: "No more. First page:"', 'en: "There are no more options on this list."'
    )
    path = tmp_path / "menus.yaml"
    path.write_text(text, encoding="utf-8")
    problems = check_menu_file(path, SHIPPED_HANDLERS)
    assert [p.message for p in problems] == [
        "messages.no_more in 'en' is longer than messages.invalid_choice"
    ]
