"""Named input validators for `input` screens: each returns the normalised answer or None."""

from __future__ import annotations

import re
from collections.abc import Callable

from ussd_app import gsm7
from ussd_app.references import normalise_reference, reference_candidates

Validator = Callable[[str], str | None]

_COUNT = re.compile(r"0*([0-9]{1,4})")
_VEHICLE = re.compile(r"[A-Z0-9 /-]{2,30}")


def _squash(text: str) -> str:
    """Collapse runs of whitespace to one space and trim."""
    return " ".join(text.split())


def count(text: str) -> str | None:
    """A whole number 1..9999, returned without leading zeros."""
    match = _COUNT.fullmatch(text.strip())
    if not match or int(match.group(1)) == 0:
        return None
    return str(int(match.group(1)))


def name(text: str) -> str | None:
    """A person's name: GSM-7 letters, spaces, apostrophes and hyphens, 2..40 characters."""
    value = _squash(gsm7.transliterate(text))
    if not 2 <= len(value) <= 40 or sum(ch.isalpha() for ch in value) < 2:
        return None
    ok = all((ch.isalpha() and gsm7.is_gsm7(ch)) or ch in " '-" for ch in value)
    return value if ok else None


def vehicle(text: str) -> str | None:
    """A number plate or taxi route: letters, digits, space, - and /, 2..30, upper-cased."""
    value = _squash(gsm7.transliterate(text)).upper()
    if not _VEHICLE.fullmatch(value) or not any(ch.isalnum() for ch in value):
        return None
    return value


def reference(text: str) -> str | None:
    """A reference such as `t48213907`, `T 4821 3907` or an old `R-123456`, returned as
    `T-48213907`. A new reference with a wrong check digit is refused here, so a typo is
    caught at once (the screen asks again) rather than answered "not found".

    Letters are awkward on a keypad, so the digits alone are accepted too, for either kind of
    reference (report or registration) when `references.reference_candidates` finds one they can
    be; they are kept as typed (spaces closed up) for the look-up to resolve."""
    ref = normalise_reference(text)
    if ref is not None:
        return ref
    digits = "".join(text.split())
    return digits if reference_candidates(digits) else None


def free_text(text: str) -> str | None:
    """1..80 characters of free text, converted to GSM-7 on one line."""
    value = _squash(gsm7.to_gsm7(_squash(text)))
    return value if 1 <= len(value) <= 80 else None


VALIDATORS: dict[str, Validator] = {
    "count": count,
    "name": name,
    "vehicle": vehicle,
    "reference": reference,
    "free_text": free_text,
}
