"""The SMS texts the Python side sends, read once from `sms_texts.yaml` beside this module.

The texts live in a data file so the copy-review kit (`ussd-app copy import`) can rewrite them
safely, one string at a time, instead of editing Python source. Every text is checked here at
import: a text outside GSM-7, an unknown section or a missing language stops the service from
starting, as a broken menus.yaml does.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from functools import cache
from pathlib import Path

import yaml

from ussd_app.gsm7 import non_gsm7_chars

PATH = Path(__file__).with_name("sms_texts.yaml")
PLACEHOLDER = re.compile(r"\{([A-Za-z_][A-Za-z0-9_]*)\}")

# section -> the languages each of its texts must have
SECTIONS: dict[str, tuple[str, ...]] = {
    "replies": ("en", "st"),
    "staff_replies": ("en",),
    "status_words": ("en", "st"),
    "confirmations": ("en", "st"),
    "need_words": ("en", "st"),
    "alerts": ("en",),
    "when_words": ("en",),
}

Texts = dict[str, dict[str, dict[str, str]]]  # section -> key -> language -> text


class SmsTextsError(ValueError):
    """sms_texts.yaml is not valid."""


def parse(text: str) -> tuple[Texts, dict[str, int]]:
    """(texts, placeholder widths) from the YAML `text`; raises SmsTextsError when invalid."""
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise SmsTextsError(f"sms texts: not YAML: {exc}") from exc
    if not isinstance(data, dict) or data.get("version") != 1:
        raise SmsTextsError("sms texts: expected a mapping with version: 1")
    widths = data.get("placeholders") or {}
    if not isinstance(widths, dict) or not all(isinstance(v, int) for v in widths.values()):
        raise SmsTextsError("sms texts: placeholders must map names to widths")
    unknown = set(data) - set(SECTIONS) - {"version", "placeholders"}
    if unknown:
        raise SmsTextsError(f"sms texts: unknown sections {sorted(unknown)}")
    texts: Texts = {}
    for section, languages in SECTIONS.items():
        entries = data.get(section)
        if not isinstance(entries, dict):
            raise SmsTextsError(f"sms texts: section {section!r} is missing")
        texts[section] = {}
        for key, by_lang in entries.items():
            where = f"sms texts: {section}.{key}"
            if not isinstance(by_lang, dict) or set(by_lang) != set(languages):
                raise SmsTextsError(f"{where} needs exactly the languages {languages}")
            for lang, value in by_lang.items():
                if not isinstance(value, str) or not value:
                    raise SmsTextsError(f"{where} [{lang}] must be a non-empty string")
                bad = non_gsm7_chars(value)
                if bad:
                    raise SmsTextsError(f"{where} [{lang}] has non-GSM-7 characters {bad}")
            texts[section][str(key)] = {str(k): v for k, v in by_lang.items()}
    return texts, {str(k): int(v) for k, v in widths.items()}


@cache
def load() -> Texts:
    """Every text in the packaged file, by section, key and language (read once)."""
    return parse(PATH.read_text(encoding="utf-8"))[0]


def section(name: str) -> dict[str, dict[str, str]]:
    """One section's texts: key -> language -> text (a fresh dict the caller may keep)."""
    return {key: dict(by_lang) for key, by_lang in load()[name].items()}


def text(section_name: str, key: str, lang: str = "en") -> str:
    """One text, unfilled."""
    return load()[section_name][key][lang]


def fill(template: str, values: Mapping[str, str]) -> str:
    """`template` with each `{name}` replaced by its value (a missing one raises KeyError)."""
    return PLACEHOLDER.sub(lambda m: values[m.group(1)], template)
