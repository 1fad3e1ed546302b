"""The new answer is what follows the previous hop's text, so `*` inside an answer survives."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from ussd_app.ussd.hops import new_input


def test_first_answer() -> None:
    assert new_input("", "2") == "2"


def test_later_answers_are_the_suffix() -> None:
    assert new_input("2*1", "2*1*13") == "13"


def test_an_answer_with_a_star_is_kept_whole() -> None:
    assert new_input("2*1", "2*1*AB*12") == "AB*12"


def test_an_empty_answer() -> None:
    assert new_input("2*1", "2*1*") == ""


def test_text_that_does_not_extend_the_previous_is_taken_whole() -> None:
    # Some operators send only the latest input.
    assert new_input("2*1", "5") == "5"


@given(st.lists(st.text(alphabet="0123456789*# abc", max_size=8), min_size=1, max_size=8))
def test_the_gateway_join_is_undone_exactly(answers: list[str]) -> None:
    text = ""
    for answer in answers:
        previous = text
        text = answer if text == "" else text + "*" + answer
        if previous == "" or text != previous:
            expected = answer if previous else text
            assert new_input(previous, text) == expected
