"""Property tests: whatever a caller types, the engine answers with a reply that fits a handset."""

from __future__ import annotations

import copy
import json
from dataclasses import replace
from functools import cache
from pathlib import Path

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from ussd_app import gsm7
from ussd_app.menu import engine, render
from ussd_app.menu.loader import MenuError, Problem, load_menu
from ussd_app.menu.model import RESUME_SCREEN, Menu, Option
from ussd_app.menu.types import HandlerResult, Params, SessionState, Step
from ussd_app.menu.validators import VALIDATORS

VALID = Path(__file__).resolve().parents[1] / "data" / "menus" / "valid.yaml"
HANDLERS = {"register_returnee", "submit_report", "check_status"}
# The engine properties hold for the test menu and for the shipped menus.yaml alike.
SHIPPED = Path(__file__).resolve().parents[2] / "menus.yaml"
SHIPPED_HANDLERS = {"register_returnee", "submit_report", "check_reference", "delete_my_data"}
TARGETS = ("test", "shipped")
PARAMS = Params(emergency_number="112")
GSM_TEXT = st.text(alphabet=sorted(gsm7.BASIC_CHARS - {"\n", "\r"}), min_size=1, max_size=60)


@cache
def menu(target: str = "test") -> Menu:
    if target == "shipped":
        return load_menu(SHIPPED, known_handlers=SHIPPED_HANDLERS)
    return load_menu(VALID, known_handlers=HANDLERS)


def _keys() -> list[str]:
    menus = [menu(target) for target in TARGETS]
    keys = {
        k for m in menus for s in m.screens.values() for o in s.options for k in (o.key, *o.also)
    }
    return sorted(keys | {"9"})


user_inputs = st.one_of(
    st.sampled_from(_keys()),
    st.sampled_from(["0", "00", "98", "*", "#", "", " ", "1#", "*1*2#", "13", "3 1", "T-5307"]),
    st.sampled_from(["Thabo", "’Mathabo", "A123 BCD", "x" * 500, "😀", "\u0000", "٣"]),
    st.text(max_size=40),
    st.text(min_size=200, max_size=2000),
)
handler_values = st.dictionaries(
    st.sampled_from(["ref", "name", "status", "district", "extra"]), st.text(max_size=300)
)
outcomes = st.sampled_from(["ok", "ok", "ok", "duplicate", "surprise"])
openings = st.sampled_from(["none", "en", "st", "shortcut", "resume", "fr"])


def _open(how: str, previous: SessionState, target: str = "test") -> Step:
    if how == "shortcut":
        return engine.start_at(menu(target), "en", menu(target).shortcuts["1"], PARAMS)
    if how == "resume":
        return engine.start(menu(target), previous.lang, PARAMS, resumable=previous)
    return engine.start(menu(target), None if how == "none" else how, PARAMS)


def _check(step: Step, target: str = "test") -> None:
    assert step.reply is not None
    wire = step.reply.wire()
    assert wire.startswith(("CON ", "END "))
    assert gsm7.septets(wire) <= menu(target).budget, wire
    state = step.state
    assert state.screen == RESUME_SCREEN or state.screen in menu(target).screens
    assert all(screen in menu(target).screens for screen in state.history)
    assert SessionState.from_dict(json.loads(json.dumps(state.to_dict()))) == state


@pytest.mark.parametrize("target", TARGETS)
@settings(max_examples=300, deadline=None)
@given(
    opening=openings,
    inputs=st.lists(user_inputs, max_size=40),
    values=handler_values,
    outcome=outcomes,
    reopen=openings,
)
def test_every_reply_fits_and_nothing_raises(
    target: str, opening: str, inputs: list[str], values: dict[str, str], outcome: str, reopen: str
) -> None:
    step = _open(opening, SessionState(menu(target).start, "en"), target)
    _check(step, target)
    for user_input in inputs:
        step = engine.advance(menu(target), step.state, user_input, PARAMS)
        if step.action is not None:
            assert step.reply is None
            assert step.action.screen == step.state.screen
            step = engine.complete(menu(target), step.state, HandlerResult(values, outcome), PARAMS)
            assert step.action is None
        _check(step, target)
        assert step.reply is not None
        if step.reply.end:
            step = _open(reopen, step.state, target)
            _check(step, target)


@pytest.mark.parametrize("target", TARGETS)
@settings(max_examples=200, deadline=None)
@given(inputs=st.lists(st.sampled_from(["1", "2", "3", "98", "0"]), max_size=25))
def test_back_after_forward_returns_to_the_same_screen(target: str, inputs: list[str]) -> None:
    step = engine.start(menu(target), "en", PARAMS)
    for user_input in inputs:
        before = step.state
        step = engine.advance(menu(target), before, user_input, PARAMS)
        if step.action is not None or (step.reply is not None and step.reply.end):
            return
        moved = step.state.screen != before.screen and step.state.history[-1:] == (before.screen,)
        if moved and menu(target).screens[step.state.screen].back:
            back = engine.advance(menu(target), step.state, "0", PARAMS)
            assert back.state.screen == before.screen
            assert back.state.answers == step.state.answers


@settings(max_examples=300, deadline=None)
@given(labels=st.lists(GSM_TEXT, min_size=1, max_size=20), text=GSM_TEXT)
def test_pagination_keeps_every_option_whole_and_in_order(labels: list[str], text: str) -> None:
    base = menu().screens["reg_who"]
    options = tuple(
        Option(str(i), {"en": label, "st": label}, str(i), "bye")
        for i, label in enumerate(labels, start=1)
    )
    screen = replace(base, options=options, text={"en": text, "st": text})
    pages = render.paginate(menu(), screen, "en")
    assert [line for page in pages for line in page] == list(render.option_lines(screen, "en"))
    assert all(pages[1:]), "only page 1 may be empty of options"
    screen = replace(screen, pages={"en": pages})
    for body in render.worst_case(menu(), screen, "en"):
        assert render.reply_septets(body) <= menu().budget


@settings(max_examples=300, deadline=None)
@given(name=st.sampled_from(sorted(VALIDATORS)), typed=st.text(max_size=120))
def test_validators_never_raise_and_are_idempotent(name: str, typed: str) -> None:
    value = VALIDATORS[name](typed)
    if value is not None:
        assert gsm7.is_gsm7(value)
        assert VALIDATORS[name](value) == value


def _paths(data: object, path: tuple[object, ...] = ()) -> list[tuple[object, ...]]:
    """Every path to a value inside nested dicts and lists."""
    found = [path]
    if isinstance(data, dict):
        for key, value in data.items():
            found += _paths(value, (*path, key))
    elif isinstance(data, list):
        for i, value in enumerate(data):
            found += _paths(value, (*path, i))
    return found


VALID_DATA = yaml.safe_load(VALID.read_text(encoding="utf-8"))
ODD_VALUES = st.sampled_from(
    [None, 0, 7, -1, "", "x", "0", "main", "☺", True, [], [1, "a"], {}, {"en": 1}, {"zz": "q"}]
)


@settings(max_examples=150, deadline=None)
@given(
    picks=st.lists(st.tuples(st.integers(min_value=0), ODD_VALUES), min_size=1, max_size=3),
)
def test_loader_reports_problems_but_never_crashes_on_mangled_menus(
    picks: list[tuple[int, object]],
) -> None:
    data = copy.deepcopy(VALID_DATA)
    for index, value in picks:
        paths = _paths(data)
        path = paths[index % len(paths)]
        if not path:
            data = copy.deepcopy(value)
            continue
        parent = data
        for step in path[:-1]:
            parent = parent[step]
        parent[path[-1]] = copy.deepcopy(value)
    text = yaml.safe_dump(data, allow_unicode=True) + "\n"
    assert all(p.message for p in _problems(text))


def _problems(text: str) -> list[Problem]:
    try:
        load_menu(text, known_handlers=HANDLERS)
    except MenuError as exc:
        return exc.problems
    return []
