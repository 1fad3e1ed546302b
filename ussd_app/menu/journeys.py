"""How many answers each flow takes, computed from the menu graph, and the limits in menus.yaml.

`journeys:` in menus.yaml names each flow's end screens and its limit:

    journeys:
      register: {to: [reg_done], max_answers: 12}

An answer is one reply the caller sends: a choice, a typed value, or `98` to reach an option on a
later page. Dialling is not an answer; route screens cost nothing. The count starts where a new
phone starts (the language screen), so the language choice is included. `fewest` is the shortest
path with every chosen option on the earliest page it can be; `worst` is the shortest path when
every list must be paged to its end first. At 12 seconds an answer (a caller reading and typing
one screen), `worst * 12` is what the operator's session timeout must allow.
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
    """One flow in one language: fewest answers, and answers when every list is paged through."""

    journey: str
    lang: str
    fewest: int | None
    worst: int | None

    @property
    def worst_seconds(self) -> int | None:
        return None if self.worst is None else self.worst * SECONDS_PER_ANSWER


def _steps(screen: Screen, lang: str, worst: bool) -> Iterator[tuple[str, int]]:
    """(next screen, answers it costs) for every way out of `screen`."""
    pages = screen.pages.get(lang, ())
    paging = max(len(pages) - 1, 0)
    if screen.type == "route":
        for target in screen.targets():
            yield target, 0
        return
    if screen.type in ("menu", "language"):
        for option in screen.options:
            page = next((i for i, p in enumerate(pages) if option.key in _keys(p)), 0)
            cost = 1 + (paging if worst else page)
            for out in (option.next, *screen.outcomes.values()):
                if out:
                    yield out, cost
        return
    cost = 1 + (paging if worst else 0)
    for out in (screen.next, *screen.outcomes.values()):
        if out:
            yield out, cost


def _keys(page: tuple[str, ...]) -> set[str]:
    """The option keys laid out on one page (its lines read `KEY Label`)."""
    return {line.split(" ", 1)[0] for line in page}


def shortest(menu: Menu, start: str, ends: tuple[str, ...], lang: str, worst: bool) -> int | None:
    """Fewest answers from `start` to any of `ends` in `lang` (None: no way there)."""
    best: dict[str, int] = {start: 0}
    queue = [(0, start)]
    while queue:
        cost, sid = heapq.heappop(queue)
        if sid in ends:
            return cost
        if cost > best.get(sid, cost):
            continue
        screen = menu.screens.get(sid)
        if screen is None or screen.type == "end":
            continue
        for target, step in _steps(screen, lang, worst):
            if cost + step < best.get(target, 1 << 30):
                best[target] = cost + step
                heapq.heappush(queue, (cost + step, target))
    return None


def counts(menu: Menu, journeys: tuple[Journey, ...]) -> list[Count]:
    """Every flow's answer counts from a new phone's first screen, in every language."""
    start = menu.language_screen or menu.start
    out = []
    for journey in journeys:
        for lang in menu.languages:
            fewest = shortest(menu, start, journey.to, lang, worst=False)
            worst = shortest(menu, start, journey.to, lang, worst=True)
            out.append(Count(journey.name, lang, fewest, worst))
    return out


def check_journeys(menu: Menu, problems: Problems) -> None:
    """Report a flow whose fewest answers exceed its `max_answers`, or that cannot end."""
    journeys = menu.journeys
    for count in counts(menu, journeys):
        path = ("journeys", count.journey)
        if count.fewest is None:
            ends = ", ".join(_to(journeys, count))
            problems.report(None, f"journey '{count.journey}' never reaches {ends}", path)
        elif count.fewest > _limit(journeys, count):
            problems.report(
                None,
                f"journey '{count.journey}' takes {count.fewest} answers in '{count.lang}' from "
                f"a new phone's first screen, over its max_answers of {_limit(journeys, count)}",
                path,
            )


def _limit(journeys: tuple[Journey, ...], count: Count) -> int:
    return next(j.max_answers for j in journeys if j.name == count.journey)


def _to(journeys: tuple[Journey, ...], count: Count) -> tuple[str, ...]:
    return next(j.to for j in journeys if j.name == count.journey)


def table(menu: Menu, journeys: tuple[Journey, ...]) -> list[str]:
    """The README table: answers and worst-case seconds per flow and language."""
    names = {"st": "Sesotho", "en": "English"}
    lines = [
        f"| flow | language | answers (fewest) | answers, every list paged | worst case at "
        f"{SECONDS_PER_ANSWER} s an answer | limit |",
        "|---|---|---|---|---|---|",
    ]
    for count in counts(menu, journeys):
        seconds = "-" if count.worst_seconds is None else f"{count.worst_seconds} s"
        lines.append(
            f"| {count.journey} | {names.get(count.lang, count.lang)} | {count.fewest} | "
            f"{count.worst} | {seconds} | {_limit(journeys, count)} |"
        )
    return lines
