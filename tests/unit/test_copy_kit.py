"""The copy-review kit: `ussd-app copy export` / `copy import` on copies of the real files.

Every test works on copies of menus.yaml and ussd_app/sms_texts.yaml in a tmp dir; the real files
are only read.
"""

from __future__ import annotations

import csv
import shutil
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner, Result

import handlers
from ussd_app import sms_texts
from ussd_app.cases import lookups
from ussd_app.cli import main
from ussd_app.copy_kit.importer import ENCODING, Sources, import_csv
from ussd_app.copy_kit.yaml_edit import replace_strings
from ussd_app.inbound import commands
from ussd_app.menu.loader import check_menu_file

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def files(tmp_path: Path) -> dict[str, Path]:
    menus = tmp_path / "menus.yaml"
    texts = tmp_path / "sms_texts.yaml"
    shutil.copyfile(REPO / "menus.yaml", menus)
    shutil.copyfile(sms_texts.PATH, texts)
    return {"menus": menus, "texts": texts, "csv": tmp_path / "copy.csv"}


def _run(files: dict[str, Path], command: str) -> Result:
    args = ["copy", command, str(files["csv"]), "--menus", str(files["menus"])]
    return CliRunner().invoke(main, [*args, "--texts", str(files["texts"])])


def _rows(path: Path) -> list[dict[str, str]]:
    with path.open(encoding=ENCODING, newline="") as handle:
        return list(csv.DictReader(handle))


def _write_rows(path: Path, rows: list[dict[str, str]]) -> None:
    """As a spreadsheet saves "CSV UTF-8": a byte-order mark and CRLF line ends."""
    with path.open("w", encoding=ENCODING, newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]), lineterminator="\r\n")
        writer.writeheader()
        writer.writerows(rows)


def _edit(rows: list[dict[str, str]], id_: str, lang: str, text: str) -> int:
    """Change one row's text; returns its spreadsheet row number (the header is row 1)."""
    for number, row in enumerate(rows, start=2):
        if row["id"] == id_ and row["language"] == lang:
            row["text"] = text
            return number
    raise AssertionError(f"no row {id_} [{lang}]")


def _exported(files: dict[str, Path]) -> list[dict[str, str]]:
    result = _run(files, "export")
    assert result.exit_code == 0, result.output
    return _rows(files["csv"])


def test_export_then_import_unchanged_changes_nothing(files: dict[str, Path]) -> None:
    menus_before, texts_before = files["menus"].read_bytes(), files["texts"].read_bytes()
    rows = _exported(files)
    _write_rows(files["csv"], rows)  # opened and saved again in a spreadsheet

    result = _run(files, "import")

    assert result.exit_code == 0, result.output
    assert f"0 changed, 0 rejected, {len(rows)} unchanged" in result.output
    assert files["menus"].read_bytes() == menus_before
    assert files["texts"].read_bytes() == texts_before


def test_export_covers_every_screen_option_and_message_in_both_languages(
    files: dict[str, Path],
) -> None:
    rows = {(r["id"], r["language"]): r for r in _exported(files)}
    data = yaml.safe_load(files["menus"].read_text(encoding="utf-8"))
    expected = [f"nav:{k}" for k in data["navigation"]]
    expected += [f"message:{k}" for k in data["messages"]]
    expected += [f"validator:{k}" for k in data["validators"]]
    for sid, screen in data["screens"].items():
        if screen["type"] == "route":
            continue
        expected.append(f"screen:{sid}:text")
        for i, option in enumerate(screen.get("options", []), start=1):
            expected.append(f"screen:{sid}:option:{option.get('key', i)}")
    for section, entries in sms_texts.load().items():
        expected += [f"sms:{section}:{key}" for key in entries]
    for id_ in expected:
        english_only = id_.startswith(("sms:staff_", "sms:alerts", "sms:when"))
        langs = ("en",) if english_only else ("st", "en")
        for lang in langs:
            assert (id_, lang) in rows, f"{id_} [{lang}] is not exported"
            assert rows[(id_, lang)]["budget_left"] != "", f"{id_} [{lang}] has no budget"
    assert rows[("screen:main:option:2", "st")]["review_note"].startswith("REVIEW(st):")
    assert "khoebo ea batho" in rows[("screen:main:option:2", "st")]["review_note"]
    assert rows[("screen:main:option:2", "en")]["review_note"] == ""
    assert rows[("sms:replies:help", "st")]["review_note"].startswith("REVIEW(st)")


def test_budget_left_matches_the_worst_case_reply(files: dict[str, Path]) -> None:
    rows = {(r["id"], r["language"]): r for r in _exported(files)}
    # delete_done is an END screen without options: 160 - ("END " + text).
    text = rows[("screen:delete_done:text", "st")]["text"]
    assert int(rows[("screen:delete_done:text", "st")]["budget_left"]) == 160 - 4 - len(text)
    # An SMS reply: 160 minus the text with {ref} at its longest (10).
    reply = rows[("sms:replies:no_such_ref", "en")]["text"]
    expected = 160 - (len(reply) - len("{ref}") + 10)
    assert int(rows[("sms:replies:no_such_ref", "en")]["budget_left"]) == expected


def test_over_budget_and_non_gsm7_edits_are_rejected_naming_the_row(
    files: dict[str, Path],
) -> None:
    menus_before, texts_before = files["menus"].read_bytes(), files["texts"].read_bytes()
    rows = _exported(files)
    long_row = _edit(rows, "screen:reg_declined:text", "st", "Ha ho letho le bolokiloeng. " * 7)
    bad_row = _edit(rows, "screen:delete_done:text", "st", "Ngoliso ea hao e hlakotsoe ✓")
    sms_row = _edit(rows, "sms:replies:stopped", "st", "Ha u sa tla fumana melaetsa ŋ.")
    _write_rows(files["csv"], rows)

    result = _run(files, "import")

    assert result.exit_code == 1
    assert f"row {long_row}: rejected: screen:reg_declined:text [st]" in result.output
    assert "over the budget of 160" in result.output
    assert f"row {bad_row}: rejected: screen:delete_done:text [st]: not GSM-7" in result.output
    assert "U+2713" in result.output
    assert f"row {sms_row}: rejected: sms:replies:stopped [st]: not GSM-7" in result.output
    assert files["menus"].read_bytes() == menus_before
    assert files["texts"].read_bytes() == texts_before


def test_changed_placeholders_are_rejected(files: dict[str, Path]) -> None:
    rows = _exported(files)
    number = _edit(rows, "sms:replies:no_such_ref", "st", "Ha ho nyeoe. Sheba nomoro.")
    screen = _edit(rows, "screen:report_done:text", "st", "Kea leboha. Tlaleho {reff} e rometsoe.")
    _write_rows(files["csv"], rows)

    result = _run(files, "import")

    assert result.exit_code == 1
    assert f"row {number}: rejected" in result.output
    assert "placeholders must stay as they are (were {ref}, now none)" in result.output
    assert f"row {screen}: rejected" in result.output


def test_accepted_sesotho_screen_edit_lands_with_comments_intact(files: dict[str, Path]) -> None:
    before = files["menus"].read_text(encoding="utf-8")
    rows = _exported(files)
    new = "Ngoliso ea hao e hlakotsoe. Kea leboha haholo."
    number = _edit(rows, "screen:delete_done:text", "st", new)
    _write_rows(files["csv"], rows)

    result = _run(files, "import")

    assert result.exit_code == 0, result.output
    assert f"row {number}: accepted: screen:delete_done:text [st]" in result.output
    after = files["menus"].read_text(encoding="utf-8")
    changed = [
        (old, line)
        for old, line in zip(before.splitlines(), after.splitlines(), strict=True)
        if old != line
    ]
    assert changed == [
        ('      st: "Ngoliso ea hao e hlakotsoe. Kea leboha."', f'      st: "{new}"')
    ]
    assert yaml.safe_load(after)["screens"]["delete_done"]["text"]["st"] == new
    assert check_menu_file(files["menus"], set(handlers.load_all())) == []
    assert 'REVIEW(st): "e hlakotsoe" = was deleted.' in after
    assert files["texts"].read_bytes() == sms_texts.PATH.read_bytes()


def test_transliterated_option_edit_and_sms_edit_are_written(files: dict[str, Path]) -> None:
    rows = _exported(files)
    _edit(rows, "screen:report_count:option:4", "st", "Ha ke tsebe hantle")
    _edit(rows, "sms:replies:started", "st", "Melaetsa e qalile hape. Romela EMISA ho e emisa…")
    _write_rows(files["csv"], rows)

    result = _run(files, "import")

    assert result.exit_code == 0, result.output
    menus = yaml.safe_load(files["menus"].read_text(encoding="utf-8"))
    assert menus["screens"]["report_count"]["options"][3]["label"]["st"] == "Ha ke tsebe hantle"
    texts, _ = sms_texts.parse(files["texts"].read_text(encoding="utf-8"))
    assert texts["replies"]["started"]["st"] == "Melaetsa e qalile hape. Romela EMISA ho e emisa..."
    assert "written as GSM-7" in result.output
    # a second import of the same CSV finds nothing left to change
    again = _run(files, "import")
    assert again.exit_code == 0, again.output
    assert "0 changed, 0 rejected" in again.output


def test_unknown_and_repeated_rows_are_rejected(files: dict[str, Path]) -> None:
    rows = _exported(files)
    extra = dict(rows[0], id="screen:nowhere:text")
    repeat = dict(rows[1], text=rows[1]["text"] + " x")
    _write_rows(files["csv"], [*rows, extra, repeat])
    sources = Sources(files["menus"], files["texts"], frozenset(handlers.load_all()))

    report = import_csv(sources, files["csv"], dry_run=True)

    count = len(rows)
    assert [n for n, _ in report.rejected] == [count + 2, count + 3]
    assert "unknown id 'screen:nowhere:text'" in report.rejected[0][1]
    assert "is also on row 3" in report.rejected[1][1]


def test_replace_strings_touches_only_the_string() -> None:
    text = 'a:\n  # note\n  b: {en: "x", st: "y"}   # tail\n  c: plain\n'
    out = replace_strings(text, {("a", "b", "st"): 'y "quoted"\nline', ("a", "c"): "new"})
    assert out == 'a:\n  # note\n  b: {en: "x", st: "y \\"quoted\\"\\nline"}   # tail\n  c: "new"\n'


def test_python_side_texts_come_from_the_data_file() -> None:
    texts = sms_texts.load()
    assert texts["replies"] == commands.REPLIES
    assert commands.STAFF_REPLIES["acked"] == texts["staff_replies"]["acked"]["en"]
    assert lookups.STATUS_WORDS["st"]["closed"] == texts["status_words"]["closed"]["st"]
    assert set(lookups.STATUS_WORDS["en"]) == set(lookups.REPORT_STATUS_VIEW.values()) | {
        "with_case_worker",
        "service_arranged",
    }
