"""GSM 03.38 (GSM-7) character set: counting septets and transliterating text for handsets.

A USSD screen or SMS that holds one character outside GSM-7 is sent as UCS-2 and loses more than
half its room, so every text we show is counted here in septets (extension characters such as
`{` or `€` take two) and menu text is transliterated or rejected when menus.yaml is loaded.
"""

from __future__ import annotations

# The basic GSM-7 table (one septet each), including the control characters LF and CR.
_BASIC = (
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞ\x1bÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
BASIC_CHARS = frozenset(_BASIC) - {"\x1b"}
# The extension table: each costs an escape septet plus itself.
EXTENSION_CHARS = frozenset("^{}\\[~]|€\f")

# Characters people (and word processors) type that are not GSM-7 but have a plain equivalent.
# Sesotho in Lesotho spelling writes s-caron; Basotho write ts' where it is not available.
TRANSLITERATIONS: dict[str, str] = {
    "\u2018": "'",
    "\u2019": "'",
    "\u201a": "'",
    "\u201b": "'",
    "\u201c": '"',
    "\u201d": '"',
    "\u201e": '"',
    "\u2013": "-",
    "\u2014": "-",
    "\u2212": "-",
    "\u2026": "...",
    "\u00a0": " ",
    "\u2022": "-",
    "\t": " ",
    "š": "s'",
    "Š": "S'",
    "ê": "e",
    "ô": "o",
    "â": "a",
    "á": "a",
    "í": "i",
    "ó": "o",
    "ú": "u",
    "ç": "c",
}


def is_gsm7(text: str) -> bool:
    """True when every character of `text` can be sent in GSM-7."""
    return all(ch in BASIC_CHARS or ch in EXTENSION_CHARS for ch in text)


def septets(text: str) -> int:
    """Length of `text` in GSM-7 septets; raises ValueError on a non-GSM-7 character."""
    total = 0
    for ch in text:
        if ch in BASIC_CHARS:
            total += 1
        elif ch in EXTENSION_CHARS:
            total += 2
        else:
            raise ValueError(f"character {ch!r} (U+{ord(ch):04X}) is not in GSM-7")
    return total


def non_gsm7_chars(text: str) -> list[str]:
    """The distinct characters of `text` outside GSM-7, in order of first appearance."""
    seen: list[str] = []
    for ch in text:
        if ch not in BASIC_CHARS and ch not in EXTENSION_CHARS and ch not in seen:
            seen.append(ch)
    return seen


def transliterate(text: str) -> str:
    """Replace known look-alikes with GSM-7 equivalents; other characters are left as they are."""
    return "".join(TRANSLITERATIONS.get(ch, ch) for ch in text)


def to_gsm7(text: str, replacement: str = "?") -> str:
    """Transliterate, then replace anything still outside GSM-7 (for user-supplied text)."""
    out = []
    for ch in transliterate(text):
        out.append(ch if ch in BASIC_CHARS or ch in EXTENSION_CHARS else replacement)
    return "".join(out)


def truncate_septets(text: str, limit: int, ellipsis: str = "..") -> str:
    """Cut GSM-7 `text` to at most `limit` septets, marking the cut with `ellipsis`."""
    if septets(text) <= limit:
        return text
    budget = limit - septets(ellipsis)
    out = []
    used = 0
    for ch in text:
        cost = 2 if ch in EXTENSION_CHARS else 1
        if used + cost > budget:
            break
        out.append(ch)
        used += cost
    return "".join(out) + ellipsis
