"""`ussd-app copy export` and `copy import`: the review CSV out, checked edits back in.

An edit is accepted only when the string, transliterated as the loader does it, is GSM-7, keeps
its `{placeholders}`, and the file it goes into still passes its own checks: for menus.yaml,
everything `ussd-app menus check` checks (the screen's every page with options and footer within
the budget, in the worst case), with no problem the file did not already have; for an SMS text,
every SMS it is part of within 160 septets with placeholders at their longest. Rows are taken in
order, each checked against the file with the rows accepted before it.
"""

from __future__ import annotations

import csv
import os
import tempfile
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from ussd_app import gsm7, sms_texts
from ussd_app.copy_kit import catalog
from ussd_app.copy_kit.catalog import Entry
from ussd_app.copy_kit.yaml_edit import EditError, replace_strings
from ussd_app.menu.model import Menu
from ussd_app.menu.problems import Problem

COLUMNS = ("id", "language", "text", "review_note", "budget_left")
ENCODING = "utf-8-sig"  # with a byte-order mark, so spreadsheets read it as UTF-8


class CopyError(Exception):
    """The files or the CSV cannot be used at all (nothing was written)."""


@dataclass(frozen=True)
class Sources:
    """The two files that hold the texts, and how menus.yaml is checked."""

    menus: Path
    texts: Path = sms_texts.PATH
    known_handlers: frozenset[str] = frozenset()
    budget: int = 160


@dataclass
class ImportReport:
    accepted: list[tuple[int, str, str]] = field(default_factory=list)  # (row, id, language)
    rejected: list[tuple[int, str]] = field(default_factory=list)  # (row, reason)
    unchanged: int = 0
    notes: list[str] = field(default_factory=list)
    written: list[Path] = field(default_factory=list)


def _read(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise CopyError(f"cannot read {path}: {exc}") from exc


def entries(menus_text: str, sms_text: str) -> list[Entry]:
    return catalog.menu_entries(menus_text) + catalog.sms_entries(sms_text)


def budgets(sources: Sources, menus_text: str, sms_text: str) -> dict[tuple[str, str], int]:
    """Septets left for every entry; raises CopyError when a file does not pass its checks."""
    menu, problems = catalog.compile_menu(menus_text, set(sources.known_handlers), sources.budget)
    if menu is None:
        first = "; ".join(_describe(p) for p in problems[:3])
        raise CopyError(f"{sources.menus} does not pass `menus check`: {first}")
    try:
        texts, widths = sms_texts.parse(sms_text)
    except sms_texts.SmsTextsError as exc:
        raise CopyError(f"{sources.texts}: {exc}") from exc
    found = catalog.menu_budgets(menu, catalog.menu_entries(menus_text))
    found.update(catalog.sms_budgets(texts, widths))
    return found


def export_csv(sources: Sources, out: Path) -> int:
    """Write the review CSV; returns the number of rows."""
    menus_text, sms_text = _read(sources.menus), _read(sources.texts)
    rows = entries(menus_text, sms_text)
    room = budgets(sources, menus_text, sms_text)
    with out.open("w", encoding=ENCODING, newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(COLUMNS)
        for e in rows:
            left = room.get((e.id, e.lang))
            writer.writerow([e.id, e.lang, e.text, e.note, "" if left is None else left])
    return len(rows)


def normalise(text: str) -> str:
    """A cell as the loader would read it: one kind of line break, transliterated, trimmed."""
    return gsm7.transliterate(text.replace("\r\n", "\n").replace("\r", "\n")).strip()


def _describe(problem: Problem) -> str:
    where = f"screen '{problem.screen}': " if problem.screen else ""
    return f"{where}{problem.message}"


def _problem_keys(problems: Iterable[Problem]) -> set[tuple[str | None, str]]:
    return {(p.screen, p.message) for p in problems}


def _placeholders(text: str) -> list[str]:
    return sorted(sms_texts.PLACEHOLDER.findall(text))


def _string_fault(old: str, new: str) -> str | None:
    """Why `new` cannot replace `old` whatever the file: empty, not GSM-7, placeholders."""
    if not new:
        return "the text is empty"
    bad = gsm7.non_gsm7_chars(new)
    if bad:
        shown = ", ".join(f"{ch!r} (U+{ord(ch):04X})" for ch in bad)
        return f"not GSM-7: {shown}"
    if _placeholders(old) != _placeholders(new):
        was = " ".join(f"{{{n}}}" for n in _placeholders(old)) or "none"
        now = " ".join(f"{{{n}}}" for n in _placeholders(new)) or "none"
        return f"placeholders must stay as they are (were {was}, now {now})"
    rest = sms_texts.PLACEHOLDER.sub("", new)
    if "{" in rest or "}" in rest:
        return "a { or } that is not part of a {placeholder}"
    return None


def import_csv(sources: Sources, csv_path: Path, *, dry_run: bool = False) -> ImportReport:
    """Check every row of the CSV and write the accepted edits back (unless `dry_run`)."""
    menus0, sms0 = _read(sources.menus), _read(sources.texts)
    known = {(e.id, e.lang): e for e in entries(menus0, sms0)}
    base_menu, base_problems = catalog.compile_menu(
        menus0, set(sources.known_handlers), sources.budget
    )
    base = _problem_keys(base_problems)
    report = ImportReport()
    menus_text, sms_text = menus0, sms0
    seen: dict[tuple[str, str], int] = {}
    for number, row in _rows(csv_path):
        key = ((row.get("id") or "").strip(), (row.get("language") or "").strip())
        entry = known.get(key)
        if entry is None:
            report.rejected.append((number, f"unknown id {key[0]!r} in language {key[1]!r}"))
            continue
        if key in seen:
            report.rejected.append((number, f"{key[0]} [{key[1]}] is also on row {seen[key]}"))
            continue
        seen[key] = number
        raw = row.get("text") or ""
        new, old = normalise(raw), normalise(entry.text)
        if new == old:
            report.unchanged += 1
            continue
        fault = _string_fault(old, new)
        if fault is None and entry.file == "menus":
            fault, menus_text = _try_menu(sources, menus_text, entry, new, base)
        elif fault is None:
            fault, sms_text = _try_sms(sms_text, entry, new)
        if fault is not None:
            report.rejected.append((number, f"{entry.id} [{entry.lang}]: {fault}"))
            continue
        report.accepted.append((number, entry.id, entry.lang))
        if new != raw.replace("\r\n", "\n").strip():
            report.notes.append(f"row {number}: written as GSM-7: {new!r}")
    if base_menu is not None and menus_text != menus0:
        report.notes += _page_notes(sources, base_menu, menus_text)
    changes = [
        (path, before, after)
        for path, before, after in (
            (sources.menus, menus0, menus_text),
            (sources.texts, sms0, sms_text),
        )
        if after != before
    ]
    if not dry_run and changes:
        for path, before, _ in changes:  # both files first, so neither is written if one moved
            if _read(path) != before:
                raise CopyError(
                    f"{path} changed while the import ran; nothing written, run it again"
                )
        for path, _, after in changes:
            _write(path, after)
            report.written.append(path)
    return report


def _rows(csv_path: Path) -> Iterable[tuple[int, dict[str, str]]]:
    """(spreadsheet row number, row) for each data row; the header is row 1."""
    try:
        with csv_path.open(encoding=ENCODING, newline="") as handle:
            reader = csv.DictReader(handle)
            missing = {"id", "language", "text"} - set(reader.fieldnames or ())
            if missing:
                raise CopyError(f"{csv_path}: missing column(s) {', '.join(sorted(missing))}")
            rows = [(n, row) for n, row in enumerate(reader, start=2)]
    except UnicodeDecodeError as exc:
        raise CopyError(f"{csv_path} is not UTF-8: save it as 'CSV UTF-8' ({exc})") from exc
    except OSError as exc:
        raise CopyError(f"cannot read {csv_path}: {exc}") from exc
    return rows


def _try_menu(
    sources: Sources, text: str, entry: Entry, new: str, base: set[tuple[str | None, str]]
) -> tuple[str | None, str]:
    """(None, edited text) when menus.yaml still passes its checks, else (why, `text`)."""
    try:
        candidate = replace_strings(text, {entry.path: new})
    except (EditError, yaml.YAMLError) as exc:
        return str(exc), text
    _, problems = catalog.compile_menu(candidate, set(sources.known_handlers), sources.budget)
    added = [p for p in problems if (p.screen, p.message) not in base]
    if added:
        return "; ".join(_describe(p) for p in added), text
    return None, candidate


def _try_sms(text: str, entry: Entry, new: str) -> tuple[str | None, str]:
    """(None, edited text) when every SMS the string is part of still fits, else (why, `text`)."""
    try:
        candidate = replace_strings(text, {entry.path: new})
        texts, widths = sms_texts.parse(candidate)
    except (EditError, yaml.YAMLError, sms_texts.SmsTextsError) as exc:
        return str(exc), text
    for message in catalog.sms_messages(texts, widths):
        mine = message.must_fit and entry.id in message.ids and message.lang == entry.lang
        if mine and message.septets > message.limit:
            return (
                f"the {message.name} SMS would be {message.septets} septets with "
                f"placeholders at their longest, over {message.limit}",
                text,
            )
    return None, candidate


def _page_notes(sources: Sources, before: Menu, after_text: str) -> list[str]:
    """A note for each screen whose options now take a different number of pages."""
    after, _ = catalog.compile_menu(after_text, set(sources.known_handlers), sources.budget)
    if after is None:
        return []
    notes = []
    for sid, screen in after.screens.items():
        for lang, pages in screen.pages.items():
            was = len(before.screens[sid].pages.get(lang, ())) if sid in before.screens else 0
            if was and len(pages) != was:
                notes.append(f"screen {sid} [{lang}] now takes {len(pages)} pages (was {was})")
    return notes


def _write(path: Path, after: str) -> None:
    """Replace `path` with `after` atomically (a reader sees the old file or the new one)."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as handle:
            handle.write(after)
        os.chmod(tmp, path.stat().st_mode & 0o777)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
