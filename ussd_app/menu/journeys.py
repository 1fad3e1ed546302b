"""How many answers each flow takes, computed from the menu graph, and the limits in menus.yaml.

`journeys:` in menus.yaml names each flow's end screens and its limits:

    journeys:
      register: {to: [reg_done], max_answers: 10}
      report: {to: [report_done], max_answers: 10, max_answers_known: 9}

An answer is one reply the caller sends: a choice, a typed value, a key that switches the
language, or `98` to reach an option on a later page. Dialling is not an answer; route screens
cost nothing. `max_answers` counts from where a new phone starts (`settings.first_screen`, else the
language screen) in the first language, so choosing the other language is included; the flow must
end in the language counted. `max_answers_known` (optional) counts from the main menu of a phone
whose language is remembered. `fewest` is the shortest path with every chosen option on the
earliest page it can be; `worst` is the shortest path when every list must be paged to its end
first. At 12 seconds an answer (a caller reading and typing one screen), `worst * 12` is what the
operator's session timeout must allow.
"""

from __future__ import annotations

import heapq
from collections.abc import Iterator
from dataclasses import dataclass

from ussd_app.menu.model import Journey, Menu, Screen
from ussd_app.menu.problems import Problems

SECONDS_PER_ANSWER = 12


@dataclass(frozen=True)
class Count:
    """One flow in one language: fewest answers and answers when every list is paged through
    (from a new phone's first screen), and fewest answers from the menu on a known phone."""

    journey: str
    lang: str
    fewest: int | None
    worst: int | None
    known: int | None = None

    @property
    def worst_seconds(self) -> int | None:
        return None if self.worst is None else self.worst * SECONDS_PER_ANSWER


def _steps(screen: Screen, lang: str, worst: bool) -> Iterator[tuple[str, str, int]]:
    """(next screen, language there, answers it costs) for every way out of `screen`."""
    pages = screen.pages.get(lang, ())
    paging = max(len(pages) - 1, 0)
    if screen.type == "route":
        for target in screen.targets():
            yield target, lang, 0
        return
    if screen.type in ("menu", "language"):
        for option in screen.options:
            page = next((i for i, p in enumerate(pages) if option.key in _keys(p)), 0)
            cost = 1 + (paging if worst else page)
            new = option.value if screen.type == "language" else option.language.get(lang, lang)
            for out in (option.next, *screen.outcomes.values()):
                if out:
                    yield out, new, cost
        return
    cost = 1 + (paging if worst else 0)
    for out in (screen.next, *screen.outcomes.values()):
        if out:
            yield out, lang, cost


def _keys(page: tuple[str, ...]) -> set[str]:
    """The option keys laid out on one page (its lines read `KEY Label`)."""
    return {line.split(" ", 1)[0] for line in page}


def shortest(
    menu: Menu,
    start: str,
    ends: tuple[str, ...],
    lang: str,
    worst: bool,
    start_lang: str | None = None,
) -> int | None:
    """Fewest answers from `start` (shown in `start_lang`, default `lang`) to any of `ends`
    reached in `lang` (None: no way there). Language switches on the way are followed."""
    first = (start, start_lang or lang)
    best: dict[tuple[str, str], int] = {first: 0}
    queue = [(0, *first)]
    while queue:
        cost, sid, now = heapq.heappop(queue)
        if sid in ends and now == lang:
            return cost
        if cost > best.get((sid, now), cost):
            continue
        screen = menu.screens.get(sid)
        if screen is None or screen.type == "end":
            continue
        for target, there, step in _steps(screen, now, worst):
            if cost + step < best.get((target, there), 1 << 30):
                best[(target, there)] = cost + step
                heapq.heappush(queue, (cost + step, target, there))
    return None


def counts(menu: Menu, journeys: tuple[Journey, ...]) -> list[Count]:
    """Every flow's answer counts in every language: from a new phone's first screen (in the
    first language), and from the main menu of a phone that remembers the language."""
    first, default = menu.new_phone_screen, menu.default_language
    out = []
    for journey in journeys:
        for lang in menu.languages:
            fewest = shortest(menu, first, journey.to, lang, False, default)
            worst = shortest(menu, first, journey.to, lang, True, default)
            known = shortest(menu, menu.start, journey.to, lang, False)
            out.append(Count(journey.name, lang, fewest, worst, known))
    return out


def check_journeys(menu: Menu, problems: Problems) -> None:
    """Report a flow whose fewest answers exceed its `max_answers` (new phone) or its
    `max_answers_known` (known phone), or that cannot end."""
    journeys = menu.journeys
    for count in counts(menu, journeys):
        path = ("journeys", count.journey)
        journey = next(j for j in journeys if j.name == count.journey)
        if count.fewest is None:
            ends = ", ".join(journey.to)
            problems.report(None, f"journey '{count.journey}' never reaches {ends}", path)
            continue
        if count.fewest > journey.max_answers:
            problems.report(
                None,
                f"journey '{count.journey}' takes {count.fewest} answers in '{count.lang}' from "
                f"a new phone's first screen, over its max_answers of {journey.max_answers}",
                path,
            )
        limit = journey.max_answers_known
        if limit is not None and count.known is not None and count.known > limit:
            problems.report(
                None,
                f"journey '{count.journey}' takes {count.known} answers in '{count.lang}' from "
                f"the main menu of a known phone, over its max_answers_known of {limit}",
                path,
            )


def _limits(journeys: tuple[Journey, ...], count: Count) -> str:
    """`new` or `new / known` as the README shows a flow's limits."""
    journey = next(j for j in journeys if j.name == count.journey)
    known = journey.max_answers_known
    return f"{journey.max_answers}" if known is None else f"{journey.max_answers} / {known}"


def table(menu: Menu, journeys: tuple[Journey, ...]) -> list[str]:
    """The README table: answers and worst-case seconds per flow and language, from a new phone
    (first screen in the first language) and from the menu of a phone that is known."""
    names = {"st": "Sesotho", "en": "English"}
    lines = [
        f"| flow | language | answers, new phone (fewest) | answers, new phone, every list "
        f"paged | worst case at {SECONDS_PER_ANSWER} s an answer | answers, known phone | "
        f"limit (new / known) |",
        "|---|---|---|---|---|---|---|",
    ]
    for count in counts(menu, journeys):
        seconds = "-" if count.worst_seconds is None else f"{count.worst_seconds} s"
        lines.append(
            f"| {count.journey} | {names.get(count.lang, count.lang)} | {count.fewest} | "
            f"{count.worst} | {seconds} | {count.known} | {_limits(journeys, count)} |"
        )
    return lines
