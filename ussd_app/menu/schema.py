"""The shape of menus.yaml: its sections, keys and types, the screens, texts in every language.

`compile_menu` turns the parsed file into a Menu, reporting every schema problem (a wrong type, an
unknown or missing key, a missing translation, a character outside GSM-7, an unknown handler or
validator) at its line. The journey through the screens and the screen budget are checked
afterwards, over the compiled Menu (`ussd_app.menu.checks`).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any

from ussd_app import gsm7
from ussd_app.menu import render
from ussd_app.menu.model import (
    RESERVED_KEYS,
    SCREEN_TYPES,
    Journey,
    Menu,
    Option,
    Route,
    Screen,
    Texts,
)
from ussd_app.menu.problems import PathKey, Problems
from ussd_app.menu.validators import VALIDATORS

SCREEN_ID = re.compile(r"[a-z][a-z0-9_]*")
KEY = re.compile(r"[0-9]{1,3}")
TOP_KEYS = {
    *("version", "settings", "navigation", "messages", "validators", "shortcuts", "screens"),
    "journeys",
}
# `first_screen`: where a phone with no remembered language starts (default: the language
# screen, then required), e.g. the main menu in the first language with a one-key switch to the
# other; `language_screen` is then optional.
SETTINGS_KEYS = {"start", "language_screen", "first_screen", "languages", "max_tries"}
NAV_KEYS = ("back", "home", "more")
MESSAGE_KEYS = ("invalid_choice", "too_many_tries", "resume", "error")
# Optional: the failure text for a report that said danger now (falls back to `error`); the
# too-many-tries END for free-text screens and for a report that said (or was asked) danger now
# (both fall back to `too_many_tries`).
# `no_more`: the line above page 1 when `98` is typed on a list's last page (no longer than
# `invalid_choice`, whose room on page 1 it takes).
OPTIONAL_MESSAGE_KEYS = (
    "error_danger",
    "too_many_tries_text",
    "too_many_tries_danger",
    "no_more",
    # The END of a hop over a USSD limit (ussd_app.ussd.limits), of a reference check over its
    # limit (handlers/reports.py); without them the service says "error".
    "limit_sessions",
    "limit_checks",
)
_COMMON = {"type", "text", "store", "handler", "placeholders", "back", "outcomes"}
# `error`: this screen's own line above it after a wrong answer, in place of
# `messages.invalid_choice` or the validator's line (a short one lets a full list fit one page).
SCREEN_KEYS: dict[str, set[str]] = {
    "menu": _COMMON | {"options", "error"},
    "language": _COMMON | {"options", "error"},
    "multiselect": _COMMON | {"options", "next", "min", "none_key", "none_label", "error"},
    "input": _COMMON | {"validator", "next", "skip_key", "error"},
    "info": _COMMON | {"next"},
    "end": {"type", "text", "placeholders"},
    "route": {"type", "routes", "default"},
}
# `language`: {current language: language to switch to}, e.g. "6 English" on the Sesotho menu.
OPTION_KEYS = {"label", "next", "value", "key", "set", "also", "language"}
MULTI_OPTION_KEYS = {"label", "value"}
ROUTE_KEYS = {"answer", "equals", "in", "is_set", "next"}


def compile_menu(
    data: object, problems: Problems, *, known_handlers: set[str], budget: int
) -> Menu | None:
    """The Menu that the parsed file describes (pages not yet laid out), reporting every schema
    problem to `problems`; None when the file is empty or not a mapping."""
    return _Schema(problems, known_handlers, budget).file(data)


class _Schema:
    """One reading of the file: its languages once known, and where problems go."""

    def __init__(self, problems: Problems, known_handlers: set[str], budget: int) -> None:
        self.problems = problems
        self.known_handlers = known_handlers
        self.budget = budget
        self.languages: tuple[str, ...] = ()

    def report(self, screen: str | None, message: str, path: PathKey = ()) -> None:
        self.problems.report(screen, message, path)

    # -- typed reads ---------------------------------------------------------------------------

    def mapping(
        self, value: object, screen: str | None, path: PathKey, what: str
    ) -> dict[str, Any]:
        """`value` as a dict with string keys ({} and a problem when it is not a mapping)."""
        if isinstance(value, dict):
            return {str(k): v for k, v in value.items()}
        if value is not None:
            self.report(screen, f"{what} must be a mapping", path)
        return {}

    def keys(
        self,
        data: Mapping[str, Any],
        allowed: Iterable[str],
        screen: str | None,
        path: PathKey,
        what: str,
    ) -> None:
        """Report every key of `data` that is not `allowed`."""
        for key in data:
            if key not in allowed:
                self.report(screen, f"unknown key '{key}' in {what}", (*path, key))

    def string(self, value: object, screen: str | None, path: PathKey, what: str) -> str | None:
        """`value` when it is a non-empty string (an int is accepted as its digits)."""
        if isinstance(value, int) and not isinstance(value, bool):
            return str(value)
        if isinstance(value, str) and value:
            return value
        if value is not None:
            hint = " (quote yes/no/on/off in YAML)" if isinstance(value, bool) else ""
            self.report(screen, f"{what} must be a string{hint}", path)
        return None

    def required(
        self, data: Mapping[str, Any], key: str, screen: str | None, path: PathKey, what: str
    ) -> str | None:
        """The string at `data[key]`, reporting it when missing."""
        if key not in data:
            self.report(screen, f"missing required field '{key}' in {what}", path)
            return None
        return self.string(data[key], screen, (*path, key), f"'{key}' in {what}")

    def integer(
        self,
        value: object,
        screen: str | None,
        path: PathKey,
        what: str,
        default: int,
        low: int = 1,
    ) -> int:
        """A whole number >= `low`, or `default` when absent or wrong (reported)."""
        if value is None:
            return default
        if isinstance(value, bool) or not isinstance(value, int) or value < low:
            self.report(screen, f"{what} must be a whole number >= {low}", path)
            return default
        return value

    def texts(self, value: object, screen: str | None, path: PathKey, what: str) -> dict[str, str]:
        """A `{lang: text}` mapping: every language present, transliterated, GSM-7 only."""
        if not isinstance(value, dict):
            self.report(screen, f"{what} must be a mapping of language to text", path)
            return {}
        out: dict[str, str] = {}
        for lang, raw in value.items():
            lang = str(lang)
            if self.languages and lang not in self.languages:
                self.report(screen, f"{what} has unknown language '{lang}'", (*path, lang))
                continue
            if not isinstance(raw, str):
                self.report(screen, f"{what} [{lang}] must be a string", (*path, lang))
                continue
            text = gsm7.transliterate(raw).strip()
            for ch in gsm7.non_gsm7_chars(text):
                self.report(
                    screen,
                    f"character {ch!r} (U+{ord(ch):04X}) in {what} [{lang}] is not GSM-7",
                    (*path, lang),
                )
            out[lang] = gsm7.to_gsm7(text)  # reported above; keep checking the rest
        for lang in self.languages:
            if lang not in out and lang not in value:
                self.report(screen, f"missing translation '{lang}' for {what}", path)
        return out

    # -- top level ---------------------------------------------------------------------------

    def file(self, data: object) -> Menu | None:
        """The whole file: None (reported) when it is empty or not a mapping."""
        top = self.mapping(data, None, (), "the file")
        if not top:
            self.report(None, "the file is empty or not a mapping")
            return None
        return self.compile(top)

    def compile(self, top: dict[str, Any]) -> Menu:
        """Compile the top-level sections and screens."""
        self.keys(top, TOP_KEYS, None, (), "the file")
        for key in ("settings", "navigation", "messages", "screens"):
            if key not in top:
                self.report(None, f"missing required section '{key}'")
        if top.get("version") != 1:
            self.report(None, "version must be 1", ("version",))
        settings = self.mapping(top.get("settings"), None, ("settings",), "settings")
        self.keys(settings, SETTINGS_KEYS, None, ("settings",), "settings")
        self.languages = self.language_list(settings.get("languages"))
        start = self.required(settings, "start", None, ("settings",), "settings") or ""
        first = self.string(
            settings.get("first_screen"), None, ("settings", "first_screen"), "first_screen"
        )
        where: PathKey = ("settings", "language_screen")
        if first is None:  # a new phone starts on the language screen: it must be named
            lang_screen = self.required(settings, "language_screen", None, where[:1], "settings")
        else:
            lang_screen = self.string(settings.get("language_screen"), None, where, "screen id")
        max_tries = self.integer(
            settings.get("max_tries"), None, ("settings", "max_tries"), "max_tries", 3
        )
        nav = self.text_section(top, "navigation", NAV_KEYS)
        messages = self.text_section(top, "messages", MESSAGE_KEYS, optional=OPTIONAL_MESSAGE_KEYS)
        validators = self.text_section(top, "validators", tuple(VALIDATORS), required=False)
        shortcuts: dict[str, str] = {}
        for key, target in self.mapping(
            top.get("shortcuts"), None, ("shortcuts",), "shortcuts"
        ).items():
            value = self.string(target, None, ("shortcuts", key), f"shortcut '{key}'")
            if value:
                shortcuts[key] = value
        raw_screens = self.mapping(top.get("screens"), None, ("screens",), "screens")
        screens = {sid: self.screen(sid, raw) for sid, raw in raw_screens.items()}
        return Menu(
            start=start,
            language_screen=lang_screen or "",
            first_screen=first or lang_screen or "",
            languages=self.languages or ("en",),
            max_tries=max_tries,
            navigation=nav,
            messages=messages,
            validator_messages=validators,
            shortcuts=shortcuts,
            screens=screens,
            budget=self.budget,
            labels=_labels(screens.values()),
            journeys=self.journeys(top.get("journeys"), set(screens)),
        )

    def journeys(self, value: object, screen_ids: set[str]) -> tuple[Journey, ...]:
        """`journeys:` flow -> {to: screen or [screens], max_answers: n} (optional section)."""
        if value is None:
            return ()
        out: list[Journey] = []
        for name, raw in self.mapping(value, None, ("journeys",), "journeys").items():
            path: PathKey = ("journeys", name)
            data = self.mapping(raw, None, path, f"journey '{name}'")
            allowed = {"to", "max_answers", "max_answers_known"}
            self.keys(data, allowed, None, path, f"journey '{name}'")
            to = data.get("to")
            ends = tuple(to) if isinstance(to, list) else (to,)
            if not ends or not all(isinstance(e, str) for e in ends):
                self.report(None, f"journey '{name}': 'to' must be a screen or a list", path)
                continue
            for end in ends:
                if end not in screen_ids:
                    self.report(None, f"journey '{name}' ends at unknown screen '{end}'", path)
            limit = data.get("max_answers")
            if not isinstance(limit, int) or isinstance(limit, bool) or limit < 1:
                self.report(None, f"journey '{name}': 'max_answers' must be a whole number", path)
                continue
            known = data.get("max_answers_known")
            if known is not None and (
                not isinstance(known, int) or isinstance(known, bool) or known < 1
            ):
                problem = f"journey '{name}': 'max_answers_known' must be a whole number"
                self.report(None, problem, path)
                known = None
            out.append(Journey(str(name), tuple(str(e) for e in ends), limit, known))
        return tuple(out)

    def language_list(self, value: object) -> tuple[str, ...]:
        """settings.languages: a non-empty list of distinct codes."""
        path: PathKey = ("settings", "languages")
        if not isinstance(value, list) or not value or not all(isinstance(v, str) for v in value):
            self.report(None, "settings.languages must be a non-empty list of codes", path)
            return ()
        if len(set(value)) != len(value):
            self.report(None, "settings.languages lists a language twice", path)
        return tuple(value)

    def text_section(
        self,
        top: Mapping[str, Any],
        section: str,
        names: tuple[str, ...],
        required: bool = True,
        optional: tuple[str, ...] = (),
    ) -> dict[str, Texts]:
        """A section of named texts (navigation, messages, validators)."""
        data = self.mapping(top.get(section), None, (section,), section)
        out: dict[str, Texts] = {}
        for name, value in data.items():
            if name not in names and name not in optional:
                what = "validator" if section == "validators" else "key"
                self.report(None, f"unknown {what} '{name}' in {section}", (section, name))
                continue
            out[name] = self.texts(value, None, (section, name), f"{section}.{name}")
        for name in names if required else ():
            if name not in data:
                self.report(None, f"missing {section}.{name}", (section,))
        return out

    # -- screens ------------------------------------------------------------------------------

    def screen(self, sid: str, raw: object) -> Screen:
        """Compile one screen, reporting its schema problems."""
        path: PathKey = ("screens", sid)
        if not SCREEN_ID.fullmatch(sid):
            why = "is reserved" if sid.startswith("_") else "must match [a-z][a-z0-9_]*"
            self.report(sid, f"screen id '{sid}' {why}", path)
        data = self.mapping(raw, sid, path, "a screen")
        kind = data.get("type")
        if kind not in SCREEN_TYPES:
            problem = (
                "missing required field 'type'" if kind is None else f"unknown screen type {kind!r}"
            )
            self.report(sid, problem, (*path, "type") if kind is not None else path)
            return Screen(sid, "end", self.problems.lines.get(path))
        self.keys(data, SCREEN_KEYS[kind], sid, path, f"a screen of type '{kind}'")

        def text_of(key: str, what: str) -> dict[str, str]:
            if key not in data:
                return {}
            return self.texts(data[key], sid, (*path, key), what)

        def str_of(key: str) -> str | None:
            return self.string(data.get(key), sid, (*path, key), f"'{key}'")

        if kind != "route" and "text" not in data:
            self.report(sid, "missing required field 'text'", path)
        back = data.get("back", True)
        if not isinstance(back, bool):
            self.report(sid, "'back' must be true or false", (*path, "back"))
        screen = Screen(
            id=sid,
            type=kind,
            line=self.problems.lines.get(path),
            text=text_of("text", "text"),
            error=text_of("error", "error"),
            next=str_of("next"),
            options=self.options(sid, kind, data.get("options")),
            store=str_of("store"),
            handler=str_of("handler"),
            outcomes=self.str_map(sid, data, "outcomes"),
            placeholders=self.placeholders(sid, data.get("placeholders")),
            back=back is not False,
            validator=str_of("validator"),
            skip_key=self.key(data.get("skip_key"), sid, (*path, "skip_key")),
            min=self.integer(data.get("min"), sid, (*path, "min"), "'min'", 1),
            none_key=self.key(data.get("none_key"), sid, (*path, "none_key")),
            none_label=text_of("none_label", "none_label"),
            routes=self.routes(sid, data.get("routes")),
            default=str_of("default"),
        )
        self.check_fields(screen, data)
        return screen

    def key(self, value: object, sid: str, path: PathKey) -> str | None:
        """A key typed on the keypad: 1 to 3 digits."""
        key = self.string(value, sid, path, "a key")
        if key is not None and not KEY.fullmatch(key):
            self.report(sid, f"key {key!r} must be 1 to 3 digits", path)
            return None
        return key

    def str_map(self, sid: str, data: Mapping[str, Any], key: str) -> dict[str, str]:
        """A `{name: string}` field such as `outcomes` or an option's `set`."""
        path: PathKey = ("screens", sid, key)
        out: dict[str, str] = {}
        for name, value in self.mapping(data.get(key), sid, path, f"'{key}'").items():
            text = self.string(value, sid, (*path, name), f"'{key}.{name}'")
            if text is not None:
                out[name] = text
        return out

    def placeholders(self, sid: str, value: object) -> dict[str, int]:
        """`placeholders`: each name with its maximum width in septets."""
        path: PathKey = ("screens", sid, "placeholders")
        raw = self.mapping(value, sid, path, "'placeholders'")
        return {
            name: self.integer(width, sid, (*path, name), f"placeholder '{name}' width", 1)
            for name, width in raw.items()
        }

    def options(self, sid: str, kind: str, value: object) -> tuple[Option, ...]:
        """The options of a menu, language or multiselect screen, numbered 1..n."""
        path: PathKey = ("screens", sid, "options")
        if value is None:
            if kind in ("menu", "language", "multiselect"):
                self.report(sid, "missing required field 'options'", path[:-1])
            return ()
        if not isinstance(value, list):
            self.report(sid, "'options' must be a list", path)
            return ()
        multi = kind == "multiselect"
        out: list[Option] = []
        for i, raw in enumerate(value, start=1):
            where = (*path, i - 1)
            data = self.mapping(raw, sid, where, f"option {i}")
            self.keys(data, MULTI_OPTION_KEYS if multi else OPTION_KEYS, sid, where, f"option {i}")
            key = str(i) if multi else self.key(data.get("key", i), sid, (*where, "key"))
            label = self.texts(data.get("label"), sid, (*where, "label"), f"option {i} label")
            if multi:
                value_ = self.required(data, "value", sid, where, f"option {i}")
            else:
                value_ = self.string(data.get("value", key), sid, (*where, "value"), "'value'")
            nxt = self.string(data.get("next"), sid, (*where, "next"), "'next'")
            sets = self.str_map(sid, data, "set") if "set" in data else {}
            also = self.also_keys(sid, data.get("also"), (*where, "also")) if not multi else ()
            switch = self.switch(sid, data.get("language"), (*where, "language"))
            out.append(Option(key or str(i), label, value_ or str(i), nxt, sets, also, switch))
        self.unambiguous(sid, out, path)
        return tuple(out)

    def switch(self, sid: str, value: object, path: PathKey) -> dict[str, str]:
        """An option's `language`: {current language: new language}, both in settings.languages."""
        out: dict[str, str] = {}
        for current, new in self.mapping(value, sid, path, "'language'").items():
            target = self.string(new, sid, (*path, current), f"'language.{current}'")
            if current not in self.languages or target not in self.languages:
                problem = f"option 'language' {current} -> {target}: not in settings.languages"
                self.report(sid, problem, (*path, current))
            elif target is not None:
                out[current] = target
        return out

    def also_keys(self, sid: str, value: object, path: PathKey) -> tuple[str, ...]:
        """An option's `also`: more keys that choose it (e.g. "6" for "Six or more")."""
        if value is None:
            return ()
        if not isinstance(value, list):
            self.report(sid, "'also' must be a list of keys", path)
            return ()
        keys = [self.key(v, sid, (*path, n)) for n, v in enumerate(value)]
        return tuple(k for k in keys if k)

    def unambiguous(self, sid: str, options: list[Option], path: PathKey) -> None:
        """No `also` key may choose a second option (an option's own key, or another's `also`)."""
        owner = {option.key: i for i, option in enumerate(options)}
        for i, option in enumerate(options):
            for key in option.also:
                if owner.setdefault(key, i) != i:
                    message = f"key '{key}' chooses both option {owner[key] + 1} and {i + 1}"
                    self.report(sid, message, (*path, i, "also"))

    def routes(self, sid: str, value: object) -> tuple[Route, ...]:
        """The rules of a route screen."""
        path: PathKey = ("screens", sid, "routes")
        if value is None:
            return ()
        if not isinstance(value, list):
            self.report(sid, "'routes' must be a list", path)
            return ()
        out: list[Route] = []
        for i, raw in enumerate(value):
            where = (*path, i)
            data = self.mapping(raw, sid, where, f"route {i + 1}")
            self.keys(data, ROUTE_KEYS, sid, where, f"route {i + 1}")
            answer = self.required(data, "answer", sid, where, f"route {i + 1}")
            nxt = self.string(data.get("next"), sid, (*where, "next"), "'next'")
            equals = self.string(data.get("equals"), sid, (*where, "equals"), "'equals'")
            one_of = data.get("in")
            if one_of is not None and not (
                isinstance(one_of, list) and all(isinstance(v, str) for v in one_of)
            ):
                self.report(sid, "'in' must be a list of strings", (*where, "in"))
                one_of = None
            is_set = data.get("is_set")
            if is_set is not None and not isinstance(is_set, bool):
                self.report(sid, "'is_set' must be true or false", (*where, "is_set"))
                is_set = None
            if equals is None and one_of is None and is_set is None:
                self.report(sid, f"route {i + 1} needs 'equals', 'in' or 'is_set'", where)
            if nxt is None:
                self.report(sid, f"dead end: route {i + 1} has no 'next'", where)
            if answer is not None and nxt is not None:
                out.append(Route(answer, nxt, equals, tuple(one_of) if one_of else None, is_set))
        return tuple(out)

    def check_fields(self, screen: Screen, data: Mapping[str, Any]) -> None:
        """Per-screen rules: keys, validators, handlers, placeholders, option limits."""
        sid, path = screen.id, ("screens", screen.id)
        keys = [o.key for o in screen.options] + [k for k in (screen.none_key,) if k]
        used: list[tuple[str | None, PathKey]]
        used = [(o.key, (*path, "options", i, "key")) for i, o in enumerate(screen.options)]
        used += [(screen.none_key, (*path, "none_key")), (screen.skip_key, (*path, "skip_key"))]
        used += [
            (k, (*path, "options", i, "also")) for i, o in enumerate(screen.options) for k in o.also
        ]
        for key, where in used:
            if key in RESERVED_KEYS:
                self.report(sid, f"key '{key}' is reserved for navigation (0, 00, 98)", where)
        for key in sorted({k for k in keys if keys.count(k) > 1}):
            self.report(sid, f"duplicate option key '{key}'", (*path, "options"))
        if screen.type == "multiselect" and len(screen.options) > 9:
            self.report(sid, f"multiselect has {len(screen.options)} options (at most 9)", path)
        if screen.type == "multiselect" and (screen.none_key is None) != (not screen.none_label):
            self.report(sid, "'none_key' and 'none_label' go together", path)
        if screen.type == "input":
            if screen.validator is None and "validator" not in data:
                self.report(sid, "missing required field 'validator'", path)
            elif screen.validator is not None and screen.validator not in VALIDATORS:
                self.report(sid, f"unknown validator '{screen.validator}'", (*path, "validator"))
        if screen.type == "language":
            for o in screen.options:
                if o.value not in self.languages:
                    problem = f"language option value '{o.value}' is not in settings.languages"
                    self.report(sid, problem, (*path, "options"))
        if screen.handler is not None and screen.handler not in self.known_handlers:
            self.report(sid, f"unknown handler '{screen.handler}'", (*path, "handler"))
        if screen.outcomes and screen.handler is None:
            self.report(sid, "'outcomes' without a 'handler'", (*path, "outcomes"))
        for lang, text in screen.text.items():
            for name in render.PLACEHOLDER.findall(text):
                if name not in screen.placeholders:
                    problem = f"placeholder '{{{name}}}' [{lang}] is not declared in 'placeholders'"
                    self.report(sid, problem, (*path, "text", lang))


def _labels(screens: Iterable[Screen]) -> dict[str, dict[str, Texts]]:
    """answer key -> stored value -> option label, from every screen with options and a store."""
    labels: dict[str, dict[str, Texts]] = {}
    for screen in screens:
        if screen.store:
            for option in screen.options:
                labels.setdefault(screen.store, {}).setdefault(option.value, option.label)
    return labels
