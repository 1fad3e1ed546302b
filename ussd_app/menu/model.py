"""The compiled menu: immutable screens, options and routes built once from menus.yaml."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from ussd_app.menu.types import JSONValue

Texts = Mapping[str, str]  # language code -> text

SCREEN_TYPES = ("menu", "multiselect", "input", "info", "end", "route", "language")
RESERVED_KEYS = frozenset({"0", "00", "98"})
BACK, HOME, MORE = "0", "00", "98"
RESUME_SCREEN = "_resume"  # reserved id of the "Welcome back" screen
# An engine answer on a new phone's first hop: its first answer remembers the language shown.
NEW_PHONE = "_new_phone"
PENDING_NEXT = "_next"  # reserved answer key: where to go when the running handler says "ok"


@dataclass(frozen=True)
class Option:
    """One numbered choice on a menu, language or multiselect screen."""

    key: str
    label: Texts
    value: str
    next: str | None = None  # None on multiselect options (the screen's `next` applies)
    sets: Mapping[str, str] = field(default_factory=dict)
    also: tuple[str, ...] = ()  # more keys meaning this option (typing 6 for "Six or more")
    # Choosing it switches the session (and the phone's remembered) language: current -> new.
    language: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Route:
    """One rule of a route screen: go to `next` when the stored answer matches."""

    answer: str
    next: str
    equals: str | None = None
    one_of: tuple[str, ...] | None = None
    is_set: bool | None = None

    def matches(self, answers: Mapping[str, JSONValue]) -> bool:
        """All given conditions hold; a list answer matches when any of its items does."""
        value = answers.get(self.answer)
        items = [str(v) for v in value] if isinstance(value, list) else [str(value)]
        present = value is not None and value != []
        if self.is_set is not None and present != self.is_set:
            return False
        if self.equals is not None and not (present and self.equals in items):
            return False
        return self.one_of is None or (present and any(v in self.one_of for v in items))


@dataclass(frozen=True)
class Screen:
    """A compiled screen; `pages` holds each language's option lines already split into pages."""

    id: str
    type: str
    line: int | None = None
    text: Texts = field(default_factory=dict)
    error: Texts = field(default_factory=dict)  # own wrong-answer line (else the shared one)
    next: str | None = None
    options: tuple[Option, ...] = ()
    store: str | None = None
    handler: str | None = None
    outcomes: Mapping[str, str] = field(default_factory=dict)
    placeholders: Mapping[str, int] = field(default_factory=dict)
    back: bool = True
    validator: str | None = None
    skip_key: str | None = None
    min: int = 1
    none_key: str | None = None
    none_label: Texts = field(default_factory=dict)
    routes: tuple[Route, ...] = ()
    default: str | None = None
    pages: Mapping[str, tuple[tuple[str, ...], ...]] = field(default_factory=dict)

    def option(self, key: str) -> Option | None:
        """The option chosen by `key`, if any."""
        found = next((o for o in self.options if o.key == key), None)
        return found or next((o for o in self.options if key in o.also), None)

    def targets(self) -> list[str]:
        """Every screen id this screen can lead to."""
        found = [self.next, self.default, *(o.next for o in self.options)]
        found += [r.next for r in self.routes] + list(self.outcomes.values())
        return [t for t in found if t is not None]


@dataclass(frozen=True)
class Journey:
    """A flow's end screens and the most answers it may take (menus.yaml `journeys:`)."""

    name: str
    to: tuple[str, ...]
    max_answers: int  # from a new phone's first screen
    max_answers_known: int | None = None  # from the main menu of a phone whose language is known


@dataclass(frozen=True)
class Menu:
    """The whole compiled menus.yaml."""

    start: str
    language_screen: str
    languages: tuple[str, ...]
    max_tries: int
    navigation: Mapping[str, Texts]  # back, home, more
    messages: Mapping[str, Texts]  # invalid_choice, too_many_tries, resume, error
    validator_messages: Mapping[str, Texts]
    shortcuts: Mapping[str, str]
    screens: Mapping[str, Screen]
    budget: int = 160
    # answer key -> stored value -> option label, so placeholders show words, not codes
    labels: Mapping[str, Mapping[str, Texts]] = field(default_factory=dict)
    journeys: tuple[Journey, ...] = ()  # answer limits per flow (ussd_app.menu.journeys)
    first_screen: str = ""  # settings.first_screen: where a new phone starts ("": language_screen)

    @property
    def new_phone_screen(self) -> str:
        """The first screen of a phone with no remembered language."""
        return self.first_screen or self.language_screen or self.start

    @property
    def default_language(self) -> str:
        """The first language in settings.languages."""
        return self.languages[0]

    def message(self, name: str, lang: str | None) -> str:
        """A system message (`messages.<name>`) in `lang`, or the default language."""
        return self.messages[name][self.lang(lang)]

    def lang(self, lang: str | None) -> str:
        """`lang` when the menu has it, else the default (first) language."""
        if lang is not None and lang in self.languages:
            return lang
        return self.languages[0]
