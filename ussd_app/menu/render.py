"""Rendering and pagination of screens, shared by the engine and the loader's budget check.

Pages are laid out once, at load time, for the worst case (every placeholder at its declared
width, the screen's error line on page 1, every footer line it can have), so an option never
moves between pages during a session and any reply the engine renders fits the budget.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence

from ussd_app import gsm7
from ussd_app.menu.model import Menu, Screen
from ussd_app.menu.types import Params

PLACEHOLDER = re.compile(r"\{([A-Za-z_][A-Za-z0-9_]*)\}")


def fill(template: str, values: Mapping[str, str]) -> str:
    """Replace each `{name}` in `template` with its value (empty when missing)."""
    return PLACEHOLDER.sub(lambda m: values.get(m.group(1), ""), template)


def fit(value: str, width: int) -> str:
    """`value` as GSM-7, cut to `width` septets."""
    text = gsm7.to_gsm7(value)
    return gsm7.truncate_septets(text, width, ellipsis=".." if width > 2 else "")


def worst_values(screen: Screen) -> dict[str, str]:
    """Placeholder values at their declared maximum width."""
    return {name: "x" * width for name, width in screen.placeholders.items()}


def reply_septets(body: str) -> int:
    """Size of the whole reply, `CON `/`END ` prefix included, in GSM-7 septets."""
    return 4 + gsm7.septets(body)


def option_lines(screen: Screen, lang: str) -> tuple[str, ...]:
    """The screen's choices as `key label` lines, the "none of these" choice last."""
    lines = [f"{o.key} {o.label[lang]}" for o in screen.options]
    if screen.none_key is not None:
        lines.append(f"{screen.none_key} {screen.none_label[lang]}")
    return tuple(lines)


def error_line(menu: Menu, screen: Screen, lang: str) -> str | None:
    """The one-line reason shown above the screen after an invalid answer (None: never)."""
    if screen.type in ("info", "end", "route"):
        return None
    if lang in screen.error:
        return screen.error[lang]
    messages = menu.validator_messages.get(screen.validator or "")
    if screen.type == "input" and messages is not None:
        return messages[lang]
    return menu.messages["invalid_choice"][lang]


def shows_back(menu: Menu, screen: Screen, page: int, has_history: bool) -> bool:
    """Whether `0` goes back here (and `0 Back` is shown): a previous page or screen exists."""
    if not screen.back or screen.type == "end":
        return False
    if page > 0:
        return True
    return has_history and screen.id not in (menu.start, menu.language_screen)


def _compose(
    menu: Menu,
    screen: Screen,
    lang: str,
    head: Sequence[str],
    options: Sequence[str],
    *,
    more: bool,
    back: bool,
) -> str:
    """Join head lines, option lines and the footer into a reply body."""
    lines = [*head, *options]
    if screen.type != "end":
        nav = menu.navigation
        lines += [nav["more"][lang]] if more else []
        lines += [nav["back"][lang]] if back else []
        # No "00" on the menu itself, nor on the language choice: a first caller has no menu to
        # go back to yet, and the line would be in a language they have not chosen.
        lines += [nav["home"][lang]] if screen.id not in (menu.start, menu.language_screen) else []
    return "\n".join(lines)


def _fits(
    menu: Menu,
    screen: Screen,
    lang: str,
    head: Sequence[str],
    options: Sequence[str],
    *,
    more: bool,
    back: bool,
) -> bool:
    body = _compose(menu, screen, lang, head, options, more=more, back=back)
    return reply_septets(body) <= menu.budget


def _head(text: str | None, error: str | None) -> list[str]:
    return [line for line in (error, text) if line]


def paginate(menu: Menu, screen: Screen, lang: str) -> tuple[tuple[str, ...], ...]:
    """Split the option lines into pages that fit the budget in the worst case.

    Greedy: a page takes as many whole options as fit with `98 More`; the last page needs none.
    An option too long even alone gets a page of its own (the loader reports it as over budget).
    """
    options = option_lines(screen, lang)
    if not options:
        return ((),)
    head = _head(
        fill(screen.text.get(lang, ""), worst_values(screen)), error_line(menu, screen, lang)
    )
    pages: list[tuple[str, ...]] = []
    i = 0
    while i < len(options):
        page_head = head if not pages else []
        back = shows_back(menu, screen, len(pages), True)
        if _fits(menu, screen, lang, page_head, options[i:], more=False, back=back):
            pages.append(options[i:])
            break
        j = i
        while j < len(options) and _fits(
            menu, screen, lang, page_head, options[i : j + 1], more=True, back=back
        ):
            j += 1
        if j == i and pages:
            j = i + 1
        pages.append(options[i:j])
        i = j
    return tuple(pages)


def render(
    menu: Menu,
    screen: Screen,
    lang: str,
    page: int = 0,
    *,
    values: Mapping[str, str],
    error: str | None = None,
    back: bool = False,
) -> str:
    """The reply body for one page of `screen`; `values` are already cut to their widths."""
    pages = screen.pages.get(lang) or ((),)
    page = max(0, min(page, len(pages) - 1))
    text = fill(screen.text.get(lang, ""), values) if page == 0 else None
    head = _head(text, error if page == 0 else None)
    more = page < len(pages) - 1
    return _compose(menu, screen, lang, head, pages[page], more=more, back=back)


def worst_case(menu: Menu, screen: Screen, lang: str) -> list[str]:
    """Every page of `screen` as rendered in the worst case, for the budget check."""
    pages = screen.pages.get(lang) or ((),)
    return [
        render(
            menu,
            screen,
            lang,
            page,
            values=worst_values(screen),
            error=error_line(menu, screen, lang),
            back=shows_back(menu, screen, page, True),
        )
        for page in range(len(pages))
    ]


def message(
    menu: Menu, name: str, lang: str, error: str | None = None, params: Params | None = None
) -> str:
    """A system message (e.g. `resume`) as a reply body, optionally under an error line, with
    the engine params (`{emergency_number}`) filled in."""
    text = menu.messages[name][lang]
    for key, value in (params.as_dict() if params else {}).items():
        text = text.replace("{" + key + "}", value)
    return "\n".join(_head(text, error))
