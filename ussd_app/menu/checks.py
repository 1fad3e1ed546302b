"""Checks over the compiled menu: the whole journey and the screen budget.

The journey: every target names a screen, every screen is reachable from the start, the language
screen or a shortcut, every screen has a way forward and some path from it reaches an end screen,
and route rules can match. The budget: every page of every screen, and every message, fits in
`menu.budget` septets in each language, in the worst case (pages laid out by the loader).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from ussd_app.menu import render
from ussd_app.menu.model import Menu, Screen
from ussd_app.menu.problems import PathKey, Problems
from ussd_app.menu.schema import MESSAGE_KEYS, OPTIONAL_MESSAGE_KEYS
from ussd_app.menu.types import Params
from ussd_app.menu.validators import VALIDATORS


def check_journey(menu: Menu, problems: Problems) -> None:
    """Targets exist, every screen is reachable and has a way forward, routes can match."""
    screens = menu.screens
    validators = menu.validator_messages
    path: PathKey
    entries = {
        "settings.start": (menu.start, ("settings", "start")),
        "settings.language_screen": (menu.language_screen, ("settings", "language_screen")),
        "settings.first_screen": (menu.first_screen, ("settings", "first_screen")),
    }
    for key, target in menu.shortcuts.items():
        entries[f"shortcut '{key}'"] = (target, ("shortcuts", key))
    for what, (target, path) in entries.items():
        if target and target not in screens:
            problems.report(None, f"{what} names unknown screen '{target}'", path)
    stored = {s.store for s in screens.values()} | {
        k for s in screens.values() for o in s.options for k in o.sets
    }
    for screen in screens.values():
        path = ("screens", screen.id)
        for target, where in _target_paths(screen):
            if target not in screens:
                problems.report(screen.id, f"leads to unknown screen '{target}'", where)
        if screen.validator in VALIDATORS and screen.validator not in validators:
            problem = f"validator '{screen.validator}' has no message in 'validators'"
            problems.report(screen.id, problem, (*path, "validator"))
        for route in screen.routes:
            if route.answer not in stored:
                problems.report(screen.id, f"route answer '{route.answer}' is never stored", path)
        if screen.type != "end":
            dead = _dead_end(screen)
            if dead:
                problems.report(screen.id, f"dead end: {dead}", path)
    roots = [menu.start, menu.language_screen, menu.new_phone_screen, *menu.shortcuts.values()]
    reachable = _reach(roots, screens)
    for sid in screens:
        if sid not in reachable:
            problem = "unreachable: no path from start, language screen or a shortcut"
            problems.report(sid, problem, ("screens", sid))
    finishing = _can_finish(screens)
    for sid in reachable:
        screen = screens[sid]
        dangling = any(t not in screens for t in screen.targets())
        if sid not in finishing and screen.type != "end" and not (_dead_end(screen) or dangling):
            problem = "dead end: no path from here reaches an end screen"
            problems.report(sid, problem, ("screens", sid))


MAX_EMERGENCY_NUMBER = 12  # septets: a message's {emergency_number} at its widest


def check_budget(menu: Menu, problems: Problems) -> None:
    """Report any reply over the budget: each page of each screen and each message, in every
    language it has pages or text in."""
    over = f", over the budget of {menu.budget}"
    for sid, screen in menu.screens.items():
        for lang in screen.pages if screen.type != "route" else ():
            for number, body in enumerate(render.worst_case(menu, screen, lang), start=1):
                size = render.reply_septets(body)
                if size > menu.budget:
                    problem = f"page {number} in '{lang}' is {size} septets{over}"
                    problems.report(sid, problem, ("screens", sid))
    widest = Params(emergency_number="9" * MAX_EMERGENCY_NUMBER)
    for name in (*MESSAGE_KEYS, *OPTIONAL_MESSAGE_KEYS):
        for lang in menu.languages:
            if lang not in menu.messages.get(name, {}):
                continue
            invalid = menu.messages.get("invalid_choice", {})
            error = invalid.get(lang) if name == "resume" else None
            if name == "no_more" and _septets(menu, name, lang) > _septets(
                menu, "invalid_choice", lang
            ):
                problem = f"messages.no_more in '{lang}' is longer than messages.invalid_choice"
                problems.report(None, problem, ("messages", name))
            body = render.message(menu, name, lang, error, params=widest)
            size = render.reply_septets(body)
            if size > menu.budget:
                problem = f"messages.{name} in '{lang}' is {size} septets{over}"
                problems.report(None, problem, ("messages", name))


def _septets(menu: Menu, name: str, lang: str) -> int:
    return render.reply_septets(menu.messages.get(name, {}).get(lang, ""))


def _target_paths(screen: Screen) -> list[tuple[str, PathKey]]:
    """Each screen id this screen names, with the path of the field naming it."""
    path: PathKey = ("screens", screen.id)
    found = [(screen.next, (*path, "next")), (screen.default, (*path, "default"))]
    found += [(o.next, (*path, "options", i, "next")) for i, o in enumerate(screen.options)]
    found += [(r.next, (*path, "routes", i, "next")) for i, r in enumerate(screen.routes)]
    found += [(t, (*path, "outcomes", name)) for name, t in screen.outcomes.items()]
    return [(target, where) for target, where in found if target is not None]


def _dead_end(screen: Screen) -> str | None:
    """Why a non-end screen has no way forward, or None."""
    if screen.type == "route":
        return None if screen.default else "route has no 'default'"
    if screen.type in ("menu", "language"):
        if not screen.options:
            return "no options"
        missing = [o.key for o in screen.options if o.next is None]
        return f"option {', '.join(missing)} has no 'next'" if missing else None
    return None if screen.next else "no 'next'"


def _reach(roots: Iterable[str], screens: Mapping[str, Screen]) -> set[str]:
    """Screens reachable from `roots`."""
    seen: set[str] = set()
    todo = [r for r in roots if r in screens]
    while todo:
        sid = todo.pop()
        if sid not in seen:
            seen.add(sid)
            todo += [t for t in screens[sid].targets() if t in screens]
    return seen


def _can_finish(screens: Mapping[str, Screen]) -> set[str]:
    """Screens from which some path reaches an end screen."""
    done = {sid for sid, s in screens.items() if s.type == "end"}
    changed = True
    while changed:
        changed = False
        for sid, screen in screens.items():
            if sid not in done and any(t in done for t in screen.targets()):
                done.add(sid)
                changed = True
    return done
