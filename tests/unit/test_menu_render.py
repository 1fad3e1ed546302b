"""Rendering and pagination: septet budget, whole options per page, footer rules."""

from __future__ import annotations

from dataclasses import replace
from functools import cache
from pathlib import Path

from ussd_app import gsm7
from ussd_app.menu import render
from ussd_app.menu.loader import load_menu
from ussd_app.menu.model import Menu, Option, Screen

VALID = Path(__file__).resolve().parents[1] / "data" / "menus" / "valid.yaml"
HANDLERS = {"register_returnee", "submit_report", "check_status"}


@cache
def menu() -> Menu:
    return load_menu(VALID, known_handlers=HANDLERS)


def page(
    screen_id: str,
    number: int = 0,
    lang: str = "en",
    *,
    error: str | None = None,
    back: bool = False,
) -> str:
    """One page of a screen of the valid menu, placeholders at their widest."""
    screen = menu().screens[screen_id]
    values = render.worst_values(screen)
    return render.render(menu(), screen, lang, number, values=values, error=error, back=back)


class TestPlaceholders:
    def test_fill_replaces_known_and_blanks_unknown(self) -> None:
        assert render.fill("Ref {ref} for {who}", {"ref": "R-1"}) == "Ref R-1 for "

    def test_fit_transliterates_and_truncates_with_ellipsis(self) -> None:
        assert render.fit("Ts’ele — Mokhotlong", 10) == "Ts'ele -.."
        assert gsm7.septets(render.fit("€€€€€€", 5)) <= 5

    def test_fit_replaces_characters_outside_gsm7(self) -> None:
        assert render.fit("Zoë 😀", 10) == "Zo? ?"

    def test_fit_tiny_width_has_no_ellipsis(self) -> None:
        assert render.fit("abcdef", 2) == "ab"
        assert render.fit("abcdef", 0) == ""


class TestFooter:
    def test_start_screen_has_neither_back_nor_home(self) -> None:
        body = page("main", back=render.shows_back(menu(), menu().screens["main"], 0, True))
        assert body.splitlines()[-1] == "5 Language"

    def test_the_language_screen_has_neither_back_nor_home(self) -> None:
        screen = menu().language_screen
        back = render.shows_back(menu(), menu().screens[screen], 0, True)
        for lang in ("st", "en"):
            lines = page(screen, lang=lang, back=back).splitlines()
            assert not any(line.startswith(("0 ", "00 ")) for line in lines), lines

    def test_other_screens_get_back_and_home_in_session_language(self) -> None:
        assert page("register", lang="st", back=True).splitlines()[-2:] == ["0 Morao", "00 Qalo"]

    def test_no_back_when_screen_opts_out(self) -> None:
        screen = menu().screens["reg_household"]
        assert not render.shows_back(menu(), screen, 0, True)

    def test_no_back_on_language_screen_or_without_history(self) -> None:
        screens = menu().screens
        assert not render.shows_back(menu(), screens["language"], 0, True)
        assert not render.shows_back(menu(), screens["register"], 0, False)
        assert render.shows_back(menu(), screens["register"], 0, True)

    def test_later_pages_can_always_go_back_a_page(self) -> None:
        assert render.shows_back(menu(), menu().screens["main"], 1, False)

    def test_end_screen_has_no_footer(self) -> None:
        body = page("bye", back=True)
        assert body == "Thank you. Dial again any time."


class TestPagination:
    def test_page_one_carries_the_text_and_later_pages_only_options(self) -> None:
        first = page("reg_district", back=True).splitlines()
        second = page("reg_district", 1, back=True).splitlines()
        assert first[0].startswith("Which district")
        assert first[-3:] == ["98 More", "0 Back", "00 Menu"]
        assert second[0] == "6 Mohale's Hoek"
        assert "98 More" not in second

    def test_every_option_appears_exactly_once_and_whole(self) -> None:
        screen = menu().screens["reg_district"]
        for lang in menu().languages:
            lines = [line for p in screen.pages[lang] for line in p]
            assert lines == list(render.option_lines(screen, lang))

    def test_every_worst_case_page_fits_the_budget(self) -> None:
        for screen in menu().screens.values():
            if screen.type == "route":
                continue
            for lang in menu().languages:
                for body in render.worst_case(menu(), screen, lang):
                    assert render.reply_septets(body) <= menu().budget, (screen.id, lang, body)

    def test_page_one_reserves_room_for_the_error_line(self) -> None:
        with_error = page("reg_district", error="Choose a number from the list.", back=True)
        assert render.reply_septets(with_error) <= 160
        assert with_error.splitlines()[0] == "Choose a number from the list."

    def test_error_line_is_shown_on_page_one_only(self) -> None:
        assert "Oops" not in page("reg_district", 1, error="Oops", back=True)

    def test_long_labels_paginate_into_several_pages(self) -> None:
        base = menu().screens["main"]
        options = tuple(
            Option(str(i), {"en": f"Option number {i} " + "x" * 30, "st": "y"}, str(i), "bye")
            for i in range(1, 11)
        )
        screen = replace(base, id="many", options=options)
        pages = render.paginate(menu(), screen, "en")
        assert len(pages) > 2
        assert [line for p in pages for line in p] == list(render.option_lines(screen, "en"))
        screen = replace(screen, pages={"en": pages})
        for body in render.worst_case(menu(), screen, "en"):
            assert render.reply_septets(body) <= 160

    def test_screen_without_options_has_one_empty_page(self) -> None:
        screen = Screen("x", "info", text={"en": "Hi"}, next="main")
        assert render.paginate(menu(), screen, "en") == ((),)

    def test_multiselect_none_choice_is_listed_last(self) -> None:
        lines = render.option_lines(menu().screens["reg_needs"], "st")
        assert lines[-1] == "9 Ha ho letho"


class TestMessages:
    def test_message_with_error_line_on_top(self) -> None:
        body = render.message(menu(), "resume", "en", "Choose a number from the list.")
        assert body.splitlines() == [
            "Choose a number from the list.",
            "Welcome back.",
            "1 Continue",
            "2 Start again",
        ]

    def test_error_line_uses_the_validator_message_on_input_screens(self) -> None:
        screens = menu().screens
        assert render.error_line(menu(), screens["reg_household"], "en") == "Type a number, e.g. 3."
        assert render.error_line(menu(), screens["main"], "st") == "Khetha nomoro lethathamong."
        assert render.error_line(menu(), screens["about"], "en") is None
