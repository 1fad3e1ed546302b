"""One term per idea: the glossary in docs/menu-copy.md against every Sesotho text shipped.

The table's "not" column lists wrong variants (a phrase, matched as whole words, any case); no
Sesotho string in menus.yaml or ussd_app/sms_texts.yaml may contain one. Comments (the review
notes) are not read: they may quote the old words.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
GLOSSARY = ROOT / "docs" / "menu-copy.md"
SOURCES = (ROOT / "menus.yaml", ROOT / "ussd_app" / "sms_texts.yaml")


def glossary_rows(text: str) -> list[tuple[str, str, list[str]]]:
    """(English, Sesotho, wrong variants) for each row of the table under "## Glossary"."""
    section = text.split("## Glossary", 1)[1]
    rows = []
    for line in section.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if not line.startswith("|") or len(cells) < 4 or set(cells[0]) <= {"-"}:
            continue
        if cells[0] == "English":
            continue
        rows.append((cells[0], cells[1], [v.strip() for v in cells[2].split(",") if v.strip()]))
    return rows


def sesotho_texts(data: object, where: str = "") -> Iterator[tuple[str, str]]:
    """(where, text) for every string under an `st:` key, at any depth."""
    if isinstance(data, dict):
        for key, value in data.items():
            path = f"{where}.{key}" if where else str(key)
            if key == "st" and isinstance(value, str):
                yield path, value
            else:
                yield from sesotho_texts(value, path)
    elif isinstance(data, list):
        for i, item in enumerate(data):
            yield from sesotho_texts(item, f"{where}[{i}]")


def wrong_variants(
    texts: list[tuple[str, str]], rows: list[tuple[str, str, list[str]]]
) -> list[str]:
    """Every use of a listed wrong variant, as "where: 'variant' (use 'term')"."""
    found = []
    for english, term, variants in rows:
        for variant in variants:
            pattern = re.compile(rf"(?<!\w){re.escape(variant)}(?!\w)", re.IGNORECASE)
            for where, text in texts:
                if pattern.search(text):
                    found.append(f"{where}: {variant!r} (use {term!r} for {english})")
    return found


def test_the_glossary_lists_the_terms_issue_13_settled() -> None:
    rows = glossary_rows(GLOSSARY.read_text(encoding="utf-8"))
    terms = {english: term for english, term, _ in rows}
    assert terms["reference (T-/R- code)"] == "khoutu"
    assert terms["case worker"].startswith("mosebeletsi")
    assert terms["your"] == "hao"
    assert all(variants or english in ("number plate",) for english, _, variants in rows)


@pytest.mark.parametrize("source", SOURCES, ids=[p.name for p in SOURCES])
def test_no_sesotho_text_uses_a_wrong_variant(source: Path) -> None:
    rows = glossary_rows(GLOSSARY.read_text(encoding="utf-8"))
    texts = list(sesotho_texts(yaml.safe_load(source.read_text(encoding="utf-8"))))
    assert len(texts) > 20  # the walk found the texts
    assert wrong_variants(texts, rows) == []


def test_a_wrong_variant_is_caught_as_a_whole_word() -> None:
    rows = glossary_rows(GLOSSARY.read_text(encoding="utf-8"))
    texts = [
        ("sms.x", "Sheba nomoro 'me u leke hape. Ea hau."),  # two faults
        ("screen.y", "O tla u letsetsa haufinyane."),  # "hau" inside a word: fine
        ("screen.z", "Kapa Bophirimela"),  # the right form
        ("screen.w", "Kapa Bophirima"),
    ]
    assert wrong_variants(texts, rows) == [
        "sms.x: 'sheba nomoro' (use 'khoutu' for reference (T-/R- code))",
        "sms.x: 'hau' (use 'hao' for your)",
        "screen.w: 'kapa bophirima' (use 'Kapa Bophirimela' for Western Cape)",
    ]
