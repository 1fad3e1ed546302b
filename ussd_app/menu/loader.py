"""Load menus.yaml into a compiled Menu, or raise MenuError listing every problem with its line.

The steps, each in its own module: read the YAML with the line of every key
(`yaml_source`), compile it against the shape of the file (`schema`), check the whole journey
over the compiled screens (`checks`), lay out each screen's pages, and check every reply against
the screen budget (`checks`). Every problem found by any step is reported, in file order.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from ussd_app.menu import render
from ussd_app.menu.checks import check_budget, check_journey
from ussd_app.menu.journeys import check_journeys
from ussd_app.menu.model import Menu, Screen, Texts
from ussd_app.menu.problems import Problem, Problems
from ussd_app.menu.schema import NAV_KEYS, compile_menu
from ussd_app.menu.yaml_source import YamlSyntaxError, parse

__all__ = ["MenuError", "Problem", "check_menu_file", "format_problem", "load_menu"]


class MenuError(Exception):
    """menus.yaml is not valid; `problems` lists every fault found."""

    def __init__(self, problems: list[Problem], path: str | None = None) -> None:
        self.problems = problems
        self.path = path or "menus.yaml"
        super().__init__(
            f"{self.path}: {len(problems)} problem{'s' if len(problems) != 1 else ''}:\n"
            + "\n".join(format_problem(self.path, p) for p in problems)
        )


def format_problem(path: str, problem: Problem) -> str:
    """`path:LINE: screen 'ID': message`, leaving out what is unknown."""
    where = f"{path}:{problem.line}" if problem.line is not None else path
    screen = f" screen '{problem.screen}':" if problem.screen else ""
    return f"{where}:{screen} {problem.message}"


def load_menu(path_or_text: str | Path, *, known_handlers: set[str], budget: int = 160) -> Menu:
    """Compile menus.yaml (a path, or YAML text when it has a newline); raise MenuError if bad."""
    path: str | None = None
    if isinstance(path_or_text, Path) or "\n" not in path_or_text:
        path = str(path_or_text)
        try:
            text = Path(path_or_text).read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
            problem = Problem(None, f"cannot read menu file: {reason}", None)
            raise MenuError([problem], path) from exc
    else:
        text = path_or_text
    menu, problems = _compile(text, known_handlers, budget)
    if problems or menu is None:
        raise MenuError(problems, path)
    return menu


def check_menu_file(path: str | Path, known_handlers: set[str], budget: int = 160) -> list[Problem]:
    """Every problem in the menu file at `path` (empty when it is valid)."""
    try:
        load_menu(Path(path), known_handlers=known_handlers, budget=budget)
    except MenuError as exc:
        return exc.problems
    return []


def _compile(text: str, known_handlers: set[str], budget: int) -> tuple[Menu | None, list[Problem]]:
    """Parse, compile and check; the Menu is None when there are problems."""
    try:
        source = parse(text)
    except YamlSyntaxError as exc:
        return None, [exc.problem]
    problems = Problems(source.lines)
    for path in source.duplicates:
        screen = str(path[1]) if len(path) > 1 and path[0] == "screens" else None
        problems.report(screen, f"duplicate key '{path[-1]}' (YAML keeps only the last)", path)
    menu = compile_menu(source.data, problems, known_handlers=known_handlers, budget=budget)
    if menu is None:
        return None, problems.found
    check_journey(menu, problems)
    menu = _lay_out_pages(menu)
    check_budget(menu, problems)
    if not problems:  # answer counts mean something only on a graph without faults
        check_journeys(menu, problems)
    return (menu if not problems else None), problems.in_file_order()


def _lay_out_pages(menu: Menu) -> Menu:
    """The menu with each screen's pages laid out, in every language the screen is complete in."""
    compiled: dict[str, Screen] = {}
    for sid, screen in menu.screens.items():
        if screen.type == "route":  # never shown: nothing to lay out (and maybe no text at all)
            compiled[sid] = screen
            continue
        langs = [lang for lang in menu.languages if _complete(menu, screen, lang)]
        pages = {lang: render.paginate(menu, screen, lang) for lang in langs}
        compiled[sid] = replace(screen, pages=pages)
    return replace(menu, screens=compiled)


def _complete(menu: Menu, screen: Screen, lang: str) -> bool:
    """Whether every text the screen's rendering needs exists in `lang`."""
    texts: list[Texts] = [screen.text, *(o.label for o in screen.options)]
    texts += [screen.none_label] if screen.none_key else []
    texts += [menu.navigation.get(k, {}) for k in NAV_KEYS]
    texts += [menu.messages.get("invalid_choice", {})]
    if screen.validator in menu.validator_messages:
        texts.append(menu.validator_messages[screen.validator or ""])
    return screen.type == "route" or all(lang in t for t in texts)
