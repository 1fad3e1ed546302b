"""The USSD engine: pure functions from (menu, state, input) to the next Step. No I/O.

Navigation (`0` back, `00` home, `98` more) works on every screen; answers are stored as the
caller goes; a screen with a handler hands control to the caller (Step.action) and resumes in
`complete`. Every reply fits the menu's budget because pages were laid out for the worst case.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace

from ussd_app.menu import render
from ussd_app.menu.model import (
    BACK,
    HOME,
    MORE,
    NEW_PHONE,
    PENDING_NEXT,
    RESUME_SCREEN,
    Menu,
    Screen,
)
from ussd_app.menu.types import (
    Effect,
    FlowEnded,
    HandlerResult,
    JSONValue,
    Params,
    Reply,
    RunHandler,
    SessionState,
    SetLanguage,
    Step,
)
from ussd_app.menu.validators import VALIDATORS

MAX_HISTORY = 30  # keeps the stored state small when a caller goes round in circles
# The answer that says someone is in danger now (the report flow's first question): every END
# after "yes", and a too-many-tries END on the screen asking it, carries the emergency number.
DANGER_ANSWER = "danger_now"


@dataclass(frozen=True)
class _Answer:
    """What a valid answer changes: stored answers, where to go, and the language."""

    next: str | None
    updates: dict[str, JSONValue] = field(default_factory=dict)
    lang: str | None = None


def start(
    menu: Menu, lang: str | None, params: Params, resumable: SessionState | None = None
) -> Step:
    """First hop of a session: resume offer, the new phone's first screen, or the main menu.

    A phone with no remembered language starts on `settings.first_screen` (the language screen
    unless set), in the first language; when that is not the language screen, the first answer
    given there remembers the language shown (NEW_PHONE), so a caller who simply goes on in
    Sesotho, or switches with one key, is greeted in that language next time."""
    known = lang if lang in menu.languages else None
    if resumable is not None and resumable.screen in menu.screens:
        state = SessionState(RESUME_SCREEN, known or menu.lang(resumable.lang), suspended=resumable)
        return Step(state, Reply(render.message(menu, "resume", state.lang)))
    if known is None:
        first = menu.new_phone_screen
        marker: dict[str, JSONValue] = {NEW_PHONE: True} if first != menu.language_screen else {}
        return _enter(menu, SessionState(first, menu.languages[0], answers=marker), params)
    return _enter(menu, SessionState(menu.start, known), params)


def start_at(menu: Menu, lang: str | None, screen_id: str, params: Params) -> Step:
    """First hop of a direct dial (`*123*2#`): start at the shortcut's screen."""
    if screen_id not in menu.screens:
        return start(menu, lang, params)
    return _enter(menu, SessionState(screen_id, menu.lang(lang)), params)


def advance(menu: Menu, state: SessionState, user_input: str, params: Params) -> Step:
    """Apply one input to the session and say what to show next."""
    text = user_input.strip()
    text = text[:-1].strip() if text.endswith("#") else text
    state = replace(state, lang=menu.lang(state.lang))
    if state.screen == RESUME_SCREEN:
        return _resume(menu, state, text, params)
    screen = menu.screens.get(state.screen)
    if screen is None or screen.type in ("end", "route"):
        return _show(menu, state, params)
    if text == HOME:
        return _home(menu, state, params)
    if text == BACK and render.shows_back(menu, screen, state.page, bool(state.history)):
        if state.page > 0:
            return _show(menu, replace(state, page=state.page - 1), params)
        back = replace(state, screen=state.history[-1], history=state.history[:-1])
        return _enter(menu, back, params)
    pages = len(screen.pages.get(state.lang, ()))
    if text == MORE and state.page + 1 < pages:
        return _show(menu, replace(state, page=state.page + 1), params)
    if text == MORE and pages > 1 and "no_more" in menu.messages:
        # `98` past the last page: say so above page 1 (not counted as a wrong answer).
        no_more = menu.messages["no_more"][state.lang]
        return _show(menu, replace(state, page=0), params, error=no_more)
    answer = _interpret(menu, screen, text, state.lang)
    if answer is None:
        return _invalid(menu, state, screen, params)
    answers = {k: v for k, v in state.answers.items() if k not in (PENDING_NEXT, NEW_PHONE)}
    answers.update(answer.updates)
    effects: tuple[Effect, ...] = ()
    if answer.lang is not None:
        state = replace(state, lang=answer.lang)
        effects = (SetLanguage(answer.lang),)
    elif NEW_PHONE in state.answers:
        effects = (SetLanguage(state.lang),)  # went on in the language shown: remember it
    if screen.handler is not None:
        answers[PENDING_NEXT] = answer.next
        waiting = replace(state, answers=answers, page=0, tries=0)
        return Step(waiting, None, effects, RunHandler(screen.handler, screen.id))
    if answer.next is None:
        return _fail(menu, state, params)
    history = (*state.history, screen.id)[-MAX_HISTORY:]
    moved = replace(state, screen=answer.next, answers=answers, history=history)
    return _enter(menu, moved, params, effects)


def complete(menu: Menu, state: SessionState, result: HandlerResult, params: Params) -> Step:
    """Continue after the handler named in Step.action ran: follow its outcome, forget history."""
    screen = menu.screens.get(state.screen)
    answers = dict(state.answers)
    pending = answers.pop(PENDING_NEXT, None)
    if screen is None:
        return _fail(menu, state, params)
    target = screen.outcomes.get(result.outcome)
    if target is None and result.outcome == "ok":
        target = pending if isinstance(pending, str) else screen.next
    if target is None:
        return _fail(menu, state, params)
    values = {str(k): str(v) for k, v in result.values.items()}
    moved = replace(state, screen=target, answers=answers, values=values, history=())
    return _enter(menu, moved, params)


def _interpret(menu: Menu, screen: Screen, text: str, lang: str) -> _Answer | None:
    """The meaning of a (non-navigation) input on `screen` shown in `lang`, or None when it is
    invalid; a language option, or an option switching from `lang`, says the new language."""
    updates: dict[str, JSONValue] = {}
    if screen.type in ("menu", "language"):
        option = screen.option(text)
        if option is None:
            return None
        if screen.store:
            updates[screen.store] = option.value
        updates.update(option.sets)
        new_lang = option.value if screen.type == "language" else option.language.get(lang)
        return _Answer(option.next, updates, new_lang)
    if screen.type == "multiselect":
        chosen = _multiselect(screen, text)
        if chosen is None:
            return None
        if screen.store:
            updates[screen.store] = list(chosen)
        return _Answer(screen.next, updates)
    if screen.type == "input":
        if screen.skip_key is not None and text == screen.skip_key:
            value = None
        else:
            value = VALIDATORS[screen.validator or ""](text)
            if value is None:
                return None
        if screen.store:
            updates[screen.store] = value
        return _Answer(screen.next, updates)
    return _Answer(screen.next)  # info: any input continues


def _multiselect(screen: Screen, text: str) -> list[str] | None:
    """Option values for digits like `1 3,7` (in option order), [] for the none key, or None."""
    if screen.none_key is not None and text == screen.none_key:
        return []
    keys = set(text.replace(",", "").replace(" ", ""))
    chosen = [o.value for o in screen.options if o.key in keys]
    if not keys or len(keys) != len(chosen) or len(chosen) < screen.min:
        return None
    return chosen


def _resume(menu: Menu, state: SessionState, text: str, params: Params) -> Step:
    """The "Welcome back" screen: 1 continues the suspended session, 2 starts again."""
    suspended = state.suspended
    if text == "1" and suspended is not None and suspended.screen in menu.screens:
        return _show(menu, replace(suspended, lang=state.lang, tries=0, suspended=None), params)
    if text in ("1", "2"):
        return _enter(menu, SessionState(menu.start, state.lang), params)
    tries = state.tries + 1
    if tries >= menu.max_tries:
        return _too_many_tries(menu, replace(state, tries=tries), None, params)
    error = menu.messages["invalid_choice"][state.lang]
    body = render.message(menu, "resume", state.lang, error)
    return Step(replace(state, tries=tries), Reply(body))


def _home(menu: Menu, state: SessionState, params: Params) -> Step:
    """`00`: back to the main menu with a clean slate (answers and history cleared)."""
    return _enter(menu, SessionState(menu.start, state.lang), params)


def _invalid(menu: Menu, state: SessionState, screen: Screen, params: Params) -> Step:
    """Re-show page 1 with the reason, or end after too many invalid answers."""
    tries = state.tries + 1
    if tries >= menu.max_tries:
        return _too_many_tries(menu, replace(state, tries=tries), screen, params)
    return _show(menu, replace(state, page=0, tries=tries), params, invalid=True)


def _enter(
    menu: Menu, state: SessionState, params: Params, effects: tuple[Effect, ...] = ()
) -> Step:
    """Arrive at `state.screen`: follow routes, then show its first page."""
    screen_id = state.screen
    for _ in range(len(menu.screens) + 1):
        screen = menu.screens.get(screen_id)
        if screen is None or screen.type != "route":
            break
        rule = next((r for r in screen.routes if r.matches(state.answers)), None)
        screen_id = rule.next if rule else (screen.default or "")
    history = () if screen_id == menu.start else state.history
    arrived = replace(state, screen=screen_id, page=0, tries=0, history=history)
    return _show(menu, arrived, params, effects=effects)


def _show(
    menu: Menu,
    state: SessionState,
    params: Params,
    *,
    invalid: bool = False,
    error: str | None = None,
    effects: tuple[Effect, ...] = (),
) -> Step:
    """Render the current page of `state.screen` (routes are followed, END ends the flow)."""
    if state.screen == RESUME_SCREEN:
        return Step(state, Reply(render.message(menu, "resume", state.lang)), effects)
    screen = menu.screens.get(state.screen)
    if screen is None:
        return _fail(menu, state, params, effects)
    if screen.type == "route":
        return _enter(menu, state, params, effects)
    values = _placeholder_values(menu, screen, state, params)
    if screen.type == "end":
        body = render.render(menu, screen, state.lang, values=values)
        return Step(state, Reply(body, end=True), (*effects, FlowEnded(screen.id)))
    body = render.render(
        menu,
        screen,
        state.lang,
        state.page,
        values=values,
        error=render.error_line(menu, screen, state.lang) if invalid else error,
        back=render.shows_back(menu, screen, state.page, bool(state.history)),
    )
    return Step(state, Reply(body), effects)


def _placeholder_values(
    menu: Menu, screen: Screen, state: SessionState, params: Params
) -> dict[str, str]:
    """Each declared placeholder's value: handler values, then answers, then params."""
    extra = params.as_dict()
    values: dict[str, str] = {}
    for name, width in screen.placeholders.items():
        if name in state.values:
            raw = str(state.values[name])
        elif name in state.answers:
            raw = _display(menu, name, state.answers[name], state.lang)
        else:
            raw = extra.get(name, "")
        values[name] = render.fit(raw, width)
    return values


def _display(menu: Menu, key: str, value: JSONValue, lang: str) -> str:
    """An answer as words: a menu choice shows its label; lists are joined with commas."""
    labels: Mapping[str, Mapping[str, str]] = menu.labels.get(key, {})
    items = value if isinstance(value, list) else [value]
    shown = [
        labels[item][lang] if isinstance(item, str) and item in labels else str(item)
        for item in items
        if item is not None
    ]
    return ",".join(shown)


def _danger(state: SessionState, screen: Screen | None = None) -> bool:
    """Whether the caller said someone is in danger now, or is being asked it on `screen`."""
    answers = state.suspended.answers if state.suspended is not None else state.answers
    asked = screen is not None and screen.store == DANGER_ANSWER
    return asked or answers.get(DANGER_ANSWER) == "yes"


def _too_many_tries(menu: Menu, state: SessionState, screen: Screen | None, params: Params) -> Step:
    """End after `max_tries` invalid answers, in words fitting the screen: the emergency number
    when there may be danger now, "type your answer" on a free-text screen. The flow is over (no
    "Continue" on the next dial), but the state is kept for the abandoned-report sweep."""
    name = "too_many_tries"
    if _danger(state, screen) and "too_many_tries_danger" in menu.messages:
        name = "too_many_tries_danger"
    elif screen is not None and screen.type == "input" and "too_many_tries_text" in menu.messages:
        name = "too_many_tries_text"
    body = render.message(menu, name, state.lang, params=params)
    return Step(state, Reply(body, end=True), (FlowEnded(state.screen),))


def _fail(
    menu: Menu, state: SessionState, params: Params, effects: tuple[Effect, ...] = ()
) -> Step:
    """End politely when the state no longer fits the menu (e.g. a screen removed by a deploy);
    with the emergency number on a report that said danger now."""
    name = "error_danger" if _danger(state) and "error_danger" in menu.messages else "error"
    body = render.message(menu, name, state.lang, params=params)
    return Step(state, Reply(body, end=True), effects)
