"""`ussd-app menus check`: validate menus.yaml and print every problem with screen and line."""

from __future__ import annotations

from pathlib import Path

from ussd_app.menu.loader import MenuError, format_problem, load_menu


def run_check(path: str, known_handlers: set[str], budget: int) -> int:
    """Print each problem as `path:LINE: screen 'ID': message` and a summary; 0 when valid."""
    try:
        menu = load_menu(Path(path), known_handlers=known_handlers, budget=budget)
    except MenuError as exc:
        for problem in exc.problems:
            print(format_problem(path, problem))
        count = len(exc.problems)
        print(f"{path}: {count} problem{'s' if count != 1 else ''} found")
        return 1
    languages = ", ".join(menu.languages)
    print(
        f"{path}: OK: {len(menu.screens)} screens in {languages}, every reply fits {budget} septets"
    )
    return 0
