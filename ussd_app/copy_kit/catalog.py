"""Every string shown on a handset or sent by SMS, with its id, review note and budget left.

Ids are stable and say where a string is: `nav:back`, `message:invalid_choice`,
`validator:count`, `screen:reg_district:text`, `screen:reg_district:option:3` (the number the
caller presses), `screen:reg_needs:none_label`, and `sms:<section>:<key>` for the Python-side
texts in ussd_app/sms_texts.yaml (`sms:replies:help`, `sms:status_words:closed`...).

The budget left is in GSM-7 septets. A screen string: the budget (160) minus the worst-case
reply of the page it is on (error line, every placeholder at its declared width, options and
footer, `CON `/`END ` included), exactly as `ussd-app menus check` lays it out; a footer, error
or validator line: the least left on any reply that shows it. An SMS string: 160 minus the worst
SMS it is part of, placeholders filled with their longest plausible value (the `placeholders`
widths in sms_texts.yaml); a status word: its `{status}` width (40) minus the word, at most.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from typing import Any, Literal

import yaml

from ussd_app import gsm7, sms_texts
from ussd_app.copy_kit.yaml_edit import Path_, review_note, scalars
from ussd_app.menu import render
from ussd_app.menu.loader import MenuError, load_menu
from ussd_app.menu.model import Menu
from ussd_app.menu.problems import Problem

SMS_LIMIT = 160
STATUS_WIDTH = 40  # check_result's {status} placeholder
# menus.yaml messages with a placeholder are filled at this width (as the screens declare it).
MESSAGE_PLACEHOLDERS = {"emergency_number": 12}

FileKind = Literal["menus", "sms"]


@dataclass(frozen=True)
class Entry:
    """One string in one language."""

    id: str
    lang: str
    file: FileKind
    path: Path_
    text: str
    note: str


def _languages(data: Mapping[str, Any]) -> list[str]:
    langs = (data.get("settings") or {}).get("languages") or []
    return [str(lang) for lang in langs]


def menu_entries(text: str) -> list[Entry]:
    """The strings of menus.yaml in file order: navigation, messages, validators, screens."""
    data = yaml.safe_load(text) or {}
    found = scalars(text)
    langs = _languages(data)
    out: list[Entry] = []

    def add(id_: str, path: Path_) -> None:
        for lang in langs:
            scalar = found.get((*path, lang))
            if scalar is not None:
                out.append(
                    Entry(
                        id_, lang, "menus", (*path, lang), scalar.value, review_note(text, scalar)
                    )
                )

    for section, prefix in (
        ("navigation", "nav"),
        ("messages", "message"),
        ("validators", "validator"),
    ):
        for name in data.get(section) or {}:
            add(f"{prefix}:{name}", (section, str(name)))
    for sid, screen in (data.get("screens") or {}).items():
        if not isinstance(screen, dict) or screen.get("type") == "route":
            continue
        add(f"screen:{sid}:text", ("screens", sid, "text"))
        multi = screen.get("type") == "multiselect"
        for i, option in enumerate(screen.get("options") or []):
            key = (
                str(i + 1)
                if multi or not isinstance(option, dict)
                else str(option.get("key", i + 1))
            )
            add(f"screen:{sid}:option:{key}", ("screens", sid, "options", i, "label"))
        add(f"screen:{sid}:none_label", ("screens", sid, "none_label"))
    return out


def sms_entries(text: str) -> list[Entry]:
    """The strings of sms_texts.yaml in file order."""
    data = yaml.safe_load(text) or {}
    found = scalars(text)
    out: list[Entry] = []
    for section in sms_texts.SECTIONS:
        for key, by_lang in (data.get(section) or {}).items():
            for lang in by_lang:
                scalar = found.get((section, str(key), str(lang)))
                if scalar is not None:
                    out.append(
                        Entry(
                            f"sms:{section}:{key}",
                            str(lang),
                            "sms",
                            (section, str(key), str(lang)),
                            scalar.value,
                            review_note(text, scalar),
                        )
                    )
    return out


# -- menus.yaml ------------------------------------------------------------------------------


def compile_menu(
    text: str, known_handlers: set[str], budget: int
) -> tuple[Menu | None, list[Problem]]:
    """The compiled menu and no problems, or None and every problem `menus check` reports."""
    try:
        return load_menu(text, known_handlers=known_handlers, budget=budget), []
    except MenuError as exc:
        return None, exc.problems


def _contains(body: str, text: str) -> bool:
    return f"\n{text}\n" in f"\n{body}\n"


def menu_budgets(menu: Menu, entries: Iterable[Entry]) -> dict[tuple[str, str], int]:
    """(id, language) -> septets left, for every menus.yaml entry the compiled menu shows."""
    left: dict[tuple[str, str], int] = {}
    replies: list[tuple[str, str, int]] = []  # (lang, body, septets left)
    for sid, screen in menu.screens.items():
        for lang, pages in screen.pages.items():
            bodies = render.worst_case(menu, screen, lang)
            room = [menu.budget - render.reply_septets(body) for body in bodies]
            replies += [(lang, body, r) for body, r in zip(bodies, room, strict=True)]
            left[(f"screen:{sid}:text", lang)] = room[0]
            page_of = {line: n for n, lines in enumerate(pages) for line in lines}
            lines = render.option_lines(screen, lang)
            for option, line in zip(screen.options, lines, strict=False):
                left[(f"screen:{sid}:option:{option.key}", lang)] = room[page_of.get(line, 0)]
            if screen.none_key is not None:
                left[(f"screen:{sid}:none_label", lang)] = room[page_of.get(lines[-1], 0)]
    for name, texts in menu.messages.items():
        for lang in texts:
            error = menu.messages.get("invalid_choice", {}).get(lang) if name == "resume" else None
            body = render.message(menu, name, lang, error)
            widths = {k: "x" * w for k, w in MESSAGE_PLACEHOLDERS.items()}
            body = render.fill(body, widths)
            own = menu.budget - render.reply_septets(body)
            left[(f"message:{name}", lang)] = own
            replies.append((lang, body, own))
    shared = [("nav", menu.navigation), ("validator", menu.validator_messages)]
    shared.append(("message", {"invalid_choice": menu.messages.get("invalid_choice", {})}))
    for prefix, section in shared:
        for name, texts in section.items():
            for lang, line in texts.items():
                rooms = [r for rl, body, r in replies if rl == lang and _contains(body, line)]
                alone = menu.budget - render.reply_septets(line)
                left[(f"{prefix}:{name}", lang)] = min([*rooms, alone])
    return {key: room for key, room in left.items() if key in {(e.id, e.lang) for e in entries}}


# -- sms_texts.yaml --------------------------------------------------------------------------


@dataclass(frozen=True)
class SmsMessage:
    """One SMS (or slot) as sent in the worst case, and the entries it is built from."""

    name: str
    lang: str
    ids: tuple[str, ...]
    septets: int
    limit: int
    must_fit: bool  # False: the code sends something shorter when it does not fit


def sms_messages(texts: sms_texts.Texts, widths: Mapping[str, int]) -> list[SmsMessage]:
    """Every SMS the Python side builds, at its longest, in each language."""
    return [m for lang in ("en", "st") for m in _sms_messages_in(texts, widths, lang)]


def _sms_messages_in(
    texts: sms_texts.Texts, widths: Mapping[str, int], lang: str
) -> list[SmsMessage]:
    out: list[SmsMessage] = []
    values = {name: "x" * width for name, width in widths.items()}
    status = {k: v[lang] for k, v in texts["status_words"].items() if lang in v}
    needs = [v[lang] for v in texts["need_words"].values() if lang in v]
    when = [v["en"] for v in texts["when_words"].values()]
    values["status"] = max(status.values(), key=gsm7.septets, default="")
    values["needs"] = ", ".join(needs)
    values["when"] = max(when, key=gsm7.septets, default="")

    def add(name: str, keys: list[str], extra: Iterable[str] = (), must: bool = True) -> None:
        parts = []
        for ref in keys:
            section, key = ref.split(":")
            part = texts[section].get(key, {}).get(lang)
            if part is None:
                return
            parts.append(_fill(part, values))
        ids = tuple(f"sms:{k}" for k in (*keys, *extra))
        size = gsm7.septets(" ".join(parts))
        out.append(SmsMessage(name, lang, ids, size, SMS_LIMIT, must))

    for key in texts["replies"]:
        extra = [f"status_words:{k}" for k in status] if key == "status" else []
        add(f"reply {key}", [f"replies:{key}"], extra)
    for key in texts["staff_replies"]:
        add(f"staff reply {key}", [f"staff_replies:{key}"])
    add("reporter confirmation", ["confirmations:reporter", "confirmations:reporter_check"])
    add("returnee confirmation", ["confirmations:returnee", "confirmations:returnee_check"])
    add(
        "returnee confirmation with needs",
        ["confirmations:returnee", "confirmations:returnee_about", "confirmations:returnee_check"],
        [f"need_words:{k}" for k in texts["need_words"]],
        must=False,  # the needs are left out when they do not fit
    )
    for key in ("returnee_taken", "returnee_arranged", "returnee_checkin"):  # issue 10: 5, 6
        add(f"returnee {key.removeprefix('returnee_')}", [f"confirmations:{key}"])
    for key, word in status.items():
        ids = (f"sms:status_words:{key}",)
        out.append(
            SmsMessage(f"status word {key}", lang, ids, gsm7.septets(word), STATUS_WIDTH, True)
        )
    if lang == "en":
        parts = ["full", "incomplete", "seen", "flags", "child"]
        # The acknowledgement ends every full alert; when it does not fit, the brief one goes.
        add(
            "full alert",
            [f"alerts:{p}" for p in parts],
            [f"when_words:{k}" for k in texts["when_words"]],
            must=False,
        )
        out[-1] = _plus(out[-1], 1 + widths.get("ack", 0))
        add("brief alert", ["alerts:brief"], ["alerts:incomplete"])
        add("escalation", ["alerts:escalation"], ["alerts:incomplete"])
        add("possible flood", ["alerts:flood"])  # to the duty desk (cases/floods.py)
        add("possible flood update", ["alerts:flood_update"])
        add("possible flood escalation", ["alerts:flood_escalation"])  # cases/escalation.py
    return out


def _plus(message: SmsMessage, septets: int) -> SmsMessage:
    return replace(message, septets=message.septets + septets)


def _fill(template: str, values: Mapping[str, str]) -> str:
    return sms_texts.PLACEHOLDER.sub(lambda m: values.get(m.group(1), "x" * 10), template)


def sms_budgets(texts: sms_texts.Texts, widths: Mapping[str, int]) -> dict[tuple[str, str], int]:
    """(id, language) -> septets left in the tightest SMS (or slot) the string must fit in.

    A string that is only part of texts the code shortens when they are too long (the needs in a
    returnee's confirmation, the details of a full alert) gets the room left in the longest form.
    """
    must: dict[tuple[str, str], int] = {}
    optional: dict[tuple[str, str], int] = {}
    for message in sms_messages(texts, widths):
        found = must if message.must_fit else optional
        for id_ in message.ids:
            room = message.limit - message.septets
            key = (id_, message.lang)
            found[key] = min(found.get(key, room), room)
    return {**optional, **must}
