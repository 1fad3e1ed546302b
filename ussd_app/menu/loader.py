"""Load, validate and compile menus.yaml into a Menu, reporting every problem with screen and line.

The file is read with `yaml.safe_load` semantics; the node tree from `yaml.compose` gives each
key's line so a problem can say where it is. Checks run in two passes: the schema (types, keys,
texts, GSM-7) while compiling each part, then the whole journey (targets, reachability, dead ends,
the length budget) over the compiled screens.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import replace
from pathlib import Path
from typing import Any, NamedTuple

import yaml

from ussd_app import gsm7
from ussd_app.menu import render
from ussd_app.menu.model import RESERVED_KEYS, SCREEN_TYPES, Menu, Option, Route, Screen, Texts
from ussd_app.menu.validators import VALIDATORS

PathKey = tuple[str | int, ...]

SCREEN_ID = re.compile(r"[a-z][a-z0-9_]*")
KEY = re.compile(r"[0-9]{1,3}")
TOP_KEYS = {"version", "settings", "navigation", "messages", "validators", "shortcuts", "screens"}
SETTINGS_KEYS = {"start", "language_screen", "languages", "max_tries"}
NAV_KEYS = ("back", "home", "more")
MESSAGE_KEYS = ("invalid_choice", "too_many_tries", "resume", "error")
_COMMON = {"type", "text", "store", "handler", "placeholders", "back", "outcomes"}
SCREEN_KEYS: dict[str, set[str]] = {
    "menu": _COMMON | {"options"},
    "language": _COMMON | {"options"},
    "multiselect": _COMMON | {"options", "next", "min", "none_key", "none_label"},
    "input": _COMMON | {"validator", "next", "skip_key"},
    "info": _COMMON | {"next"},
    "end": {"type", "text", "placeholders"},
    "route": {"type", "routes", "default"},
}
OPTION_KEYS = {"label", "next", "value", "key", "set"}
MULTI_OPTION_KEYS = {"label", "value"}
ROUTE_KEYS = {"answer", "equals", "in", "is_set", "next"}


# libyaml's parser when installed (about 5x faster at start-up); same safe_load semantics.
_SafeLoader: type[yaml.SafeLoader] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class Problem(NamedTuple):
    """One fault in menus.yaml: which screen (if any), what, and the file line (if known)."""

    screen: str | None
    message: str
    line: int | None


class MenuError(Exception):
    """menus.yaml is not valid; `problems` lists every fault found."""

    def __init__(self, problems: list[Problem]) -> None:
        self.problems = problems
        super().__init__("\n".join(format_problem("menus.yaml", p) for p in problems))


def format_problem(path: str, problem: Problem) -> str:
    """`path:LINE: screen 'ID': message`, leaving out what is unknown."""
    where = f"{path}:{problem.line}" if problem.line is not None else path
    screen = f" screen '{problem.screen}':" if problem.screen else ""
    return f"{where}:{screen} {problem.message}"


def load_menu(path_or_text: str | Path, *, known_handlers: set[str], budget: int = 160) -> Menu:
    """Compile menus.yaml (a path, or YAML text when it has a newline); raise MenuError if bad."""
    if isinstance(path_or_text, Path) or "\n" not in path_or_text:
        try:
            text = Path(path_or_text).read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise MenuError([Problem(None, f"cannot read menu file: {exc}", None)]) from exc
    else:
        text = path_or_text
    menu, problems = _Compiler(text, known_handlers, budget).run()
    if problems or menu is None:
        raise MenuError(problems)
    return menu


def check_menu_file(path: str | Path, known_handlers: set[str], budget: int = 160) -> list[Problem]:
    """Every problem in the menu file at `path` (empty when it is valid)."""
    try:
        load_menu(Path(path), known_handlers=known_handlers, budget=budget)
    except MenuError as exc:
        return exc.problems
    return []


def _line_map(
    node: yaml.Node, path: PathKey, lines: dict[PathKey, int], duplicates: list[PathKey]
) -> None:
    """Record the line of every mapping key and sequence item under `node`, and repeated keys.

    YAML quietly keeps the last of two equal keys, so a second screen with the same id would
    silently replace the first; the loader reports it instead.
    """
    lines[path] = node.start_mark.line + 1
    if isinstance(node, yaml.MappingNode):
        for key_node, value_node in node.value:
            key = str(key_node.value)
            if (*path, key) in lines:
                duplicates.append((*path, key))
            _line_map(value_node, (*path, key), lines, duplicates)
            lines[(*path, key)] = key_node.start_mark.line + 1
    elif isinstance(node, yaml.SequenceNode):
        for i, item in enumerate(node.value):
            _line_map(item, (*path, i), lines, duplicates)


def _screen_near(text: str, line: int) -> str | None:
    """Best guess at the screen being defined at `line` (for YAML syntax errors)."""
    found = None
    in_screens = False
    for number, raw in enumerate(text.splitlines()[:line], start=1):
        if re.match(r"screens:\s*$", raw):
            in_screens = True
        elif in_screens and (match := re.match(r" {1,4}([a-z][a-z0-9_]*):\s*$", raw)):
            found = match.group(1)
        elif raw and not raw[0].isspace() and not raw.startswith("#") and number < line:
            in_screens = False
    return found


class _Compiler:
    """One compilation: the parsed data, the line map, and the problems found so far."""

    def __init__(self, text: str, known_handlers: set[str], budget: int) -> None:
        self.text = text
        self.known_handlers = known_handlers
        self.budget = budget
        self.lines: dict[PathKey, int] = {}
        self.problems: list[Problem] = []
        self.languages: tuple[str, ...] = ()

    # -- reporting and typed reads -------------------------------------------------------------

    def report(self, screen: str | None, message: str, path: PathKey = ()) -> None:
        """Record a problem at the line of `path` (or of its nearest parent that has one)."""
        while path and path not in self.lines:
            path = path[:-1]
        self.problems.append(Problem(screen, message, self.lines.get(path) if path else None))

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

    def run(self) -> tuple[Menu | None, list[Problem]]:
        """Parse, compile and check; the Menu is None when there are problems."""
        loader = _SafeLoader(self.text)
        try:
            node = loader.get_single_node()
            data = loader.construct_document(node) if node is not None else None
        except yaml.MarkedYAMLError as exc:
            mark = exc.problem_mark or exc.context_mark
            line = mark.line + 1 if mark else None
            screen = _screen_near(self.text, line) if line else None
            message = f"YAML syntax error: {exc.problem or exc.context}"
            return None, [Problem(screen, message, line)]
        except yaml.YAMLError as exc:
            return None, [Problem(None, f"YAML error: {exc}", None)]
        finally:
            loader.dispose()
        duplicates: list[PathKey] = []
        if node is not None:
            _line_map(node, (), self.lines, duplicates)
        for path in duplicates:
            screen = str(path[1]) if len(path) > 1 and path[0] == "screens" else None
            self.report(screen, f"duplicate key '{path[-1]}' (YAML keeps only the last)", path)
        top = self.mapping(data, None, (), "the file")
        if not top:
            self.report(None, "the file is empty or not a mapping")
            return None, self.problems
        menu = self.compile(top)
        self.problems.sort(key=lambda p: -1 if p.line is None else p.line)
        return (menu if not self.problems else None), self.problems

    def compile(self, top: dict[str, Any]) -> Menu:
        """Compile the top-level sections and screens, then check the whole journey."""
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
        lang_screen = self.required(settings, "language_screen", None, ("settings",), "settings")
        max_tries = self.integer(
            settings.get("max_tries"), None, ("settings", "max_tries"), "max_tries", 3
        )
        nav = self.text_section(top, "navigation", NAV_KEYS)
        messages = self.text_section(top, "messages", MESSAGE_KEYS)
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
        menu = Menu(
            start=start,
            language_screen=lang_screen or "",
            languages=self.languages or ("en",),
            max_tries=max_tries,
            navigation=nav,
            messages=messages,
            validator_messages=validators,
            shortcuts=shortcuts,
            screens=screens,
            budget=self.budget,
            labels=_labels(screens.values()),
        )
        self.check_journey(menu, validators)
        return self.check_budget(menu)

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
        self, top: Mapping[str, Any], section: str, names: tuple[str, ...], required: bool = True
    ) -> dict[str, Texts]:
        """A section of named texts (navigation, messages, validators)."""
        data = self.mapping(top.get(section), None, (section,), section)
        out: dict[str, Texts] = {}
        for name, value in data.items():
            if name not in names:
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
            return Screen(sid, "end", self.lines.get(path))
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
            line=self.lines.get(path),
            text=text_of("text", "text"),
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
            out.append(Option(key or str(i), label, value_ or str(i), nxt, sets))
        return tuple(out)

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

    # -- the whole journey -------------------------------------------------------------------

    def check_journey(self, menu: Menu, validators: Mapping[str, Texts]) -> None:
        """Targets exist, every screen is reachable and has a way forward, routes can match."""
        screens = menu.screens
        path: PathKey
        entries = {
            "settings.start": (menu.start, ("settings", "start")),
            "settings.language_screen": (menu.language_screen, ("settings", "language_screen")),
        }
        for key, target in menu.shortcuts.items():
            entries[f"shortcut '{key}'"] = (target, ("shortcuts", key))
        for what, (target, path) in entries.items():
            if target and target not in screens:
                self.report(None, f"{what} names unknown screen '{target}'", path)
        stored = {s.store for s in screens.values()} | {
            k for s in screens.values() for o in s.options for k in o.sets
        }
        for screen in screens.values():
            path = ("screens", screen.id)
            for target, where in _target_paths(screen):
                if target not in screens:
                    self.report(screen.id, f"leads to unknown screen '{target}'", where)
            if screen.validator in VALIDATORS and screen.validator not in validators:
                problem = f"validator '{screen.validator}' has no message in 'validators'"
                self.report(screen.id, problem, (*path, "validator"))
            for route in screen.routes:
                if route.answer not in stored:
                    self.report(screen.id, f"route answer '{route.answer}' is never stored", path)
            if screen.type != "end":
                dead = _dead_end(screen)
                if dead:
                    self.report(screen.id, f"dead end: {dead}", path)
        reachable = _reach([menu.start, menu.language_screen, *menu.shortcuts.values()], screens)
        for sid in screens:
            if sid not in reachable:
                problem = "unreachable: no path from start, language screen or a shortcut"
                self.report(sid, problem, ("screens", sid))
        finishing = _can_finish(screens)
        for sid in reachable:
            screen = screens[sid]
            dangling = any(t not in screens for t in screen.targets())
            if (
                sid not in finishing
                and screen.type != "end"
                and not (_dead_end(screen) or dangling)
            ):
                problem = "dead end: no path from here reaches an end screen"
                self.report(sid, problem, ("screens", sid))

    def check_budget(self, menu: Menu) -> Menu:
        """Lay out pages for every screen and language; report any reply over the budget."""
        compiled: dict[str, Screen] = {}
        over = f", over the budget of {menu.budget}"
        for sid, screen in menu.screens.items():
            langs = [lang for lang in menu.languages if _complete(menu, screen, lang)]
            pages = {lang: render.paginate(menu, screen, lang) for lang in langs}
            screen = replace(screen, pages=pages)
            compiled[sid] = screen
            for lang in langs if screen.type != "route" else ():
                for number, body in enumerate(render.worst_case(menu, screen, lang), start=1):
                    size = render.reply_septets(body)
                    if size > menu.budget:
                        problem = f"page {number} in '{lang}' is {size} septets{over}"
                        self.report(sid, problem, ("screens", sid))
        menu = replace(menu, screens=compiled)
        for name in MESSAGE_KEYS:
            for lang in menu.languages:
                if lang not in menu.messages.get(name, {}):
                    continue
                invalid = menu.messages.get("invalid_choice", {})
                error = invalid.get(lang) if name == "resume" else None
                size = render.reply_septets(render.message(menu, name, lang, error))
                if size > menu.budget:
                    problem = f"messages.{name} in '{lang}' is {size} septets{over}"
                    self.report(None, problem, ("messages", name))
        return menu


def _target_paths(screen: Screen) -> list[tuple[str, PathKey]]:
    """Each screen id this screen names, with the path of the field naming it."""
    path: PathKey = ("screens", screen.id)
    found = [(screen.next, (*path, "next")), (screen.default, (*path, "default"))]
    found += [(o.next, (*path, "options", i, "next")) for i, o in enumerate(screen.options)]
    found += [(r.next, (*path, "routes", i, "next")) for i, r in enumerate(screen.routes)]
    found += [(t, (*path, "outcomes", name)) for name, t in screen.outcomes.items()]
    return [(target, where) for target, where in found if target is not None]


def _complete(menu: Menu, screen: Screen, lang: str) -> bool:
    """Whether every text the screen's rendering needs exists in `lang`."""
    texts: list[Texts] = [screen.text, *(o.label for o in screen.options)]
    texts += [screen.none_label] if screen.none_key else []
    texts += [menu.navigation.get(k, {}) for k in NAV_KEYS]
    texts += [menu.messages.get("invalid_choice", {})]
    if screen.validator in menu.validator_messages:
        texts.append(menu.validator_messages[screen.validator or ""])
    return screen.type == "route" or all(lang in t for t in texts)


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


def _labels(screens: Iterable[Screen]) -> dict[str, dict[str, Texts]]:
    """answer key -> stored value -> option label, from every screen with options and a store."""
    labels: dict[str, dict[str, Texts]] = {}
    for screen in screens:
        if screen.store:
            for option in screen.options:
                labels.setdefault(screen.store, {}).setdefault(option.value, option.label)
    return labels
