"""Reference codes shown to callers: `T-5307` for reports, `R-482913` for registrations.

Codes come from `secrets`, so knowing one reference says nothing about the next (a guessable
sequence would let anyone walk through other people's statuses). Uniqueness is the database's
job: services retry on a collision, widening report codes as the 4-digit space fills.
"""

from __future__ import annotations

import re
import secrets

REPORT_PREFIX = "T"
REGISTRATION_PREFIX = "R"
REPORT_DIGITS = 4
REGISTRATION_DIGITS = 6
MAX_DIGITS = 10  # fits the 16-character ref columns with room to spare

_REF_RE = re.compile(r"^([TR])[-\s*#._/]*(\d{4,10})$")
_DIGITS_RE = re.compile(r"^\d{4,10}$")


def _code(prefix: str, digits: int) -> str:
    if not 1 <= digits <= MAX_DIGITS:
        raise ValueError(f"reference digits must be 1..{MAX_DIGITS}, got {digits}")
    return f"{prefix}-{secrets.randbelow(10**digits):0{digits}d}"


def new_report_ref(digits: int = REPORT_DIGITS) -> str:
    """A fresh report reference, `T-` + `digits` random digits (leading zeros kept)."""
    return _code(REPORT_PREFIX, digits)


def new_registration_ref(digits: int = REGISTRATION_DIGITS) -> str:
    """A fresh registration reference, `R-` + `digits` random digits."""
    return _code(REGISTRATION_PREFIX, digits)


def report_ref_digits(attempt: int) -> int:
    """How many digits to use on the `attempt`-th try (0-based): 4, 4, 4, 5, 5, 5, 6, ...

    Three collisions in a row mean the space is getting full, so the next tries widen it.
    """
    return min(REPORT_DIGITS + attempt // 3, MAX_DIGITS)


def normalise_reference(text: str | None) -> str | None:
    """The canonical form of a reference a caller typed, or None if it cannot be one.

    Accepts `T-5307`, `t5307`, ` T 5307 `, `T*5307` (a `*` typed on a keypad). Bare digits are
    not a reference on their own: use `reference_candidates` for those.
    """
    if not text:
        return None
    match = _REF_RE.match(text.strip().upper())
    if match is None:
        return None
    return f"{match.group(1)}-{match.group(2)}"


def reference_candidates(text: str | None) -> tuple[str, ...]:
    """The references `text` may mean, most likely first.

    Letters are awkward on a basic phone's keypad, so a caller may type only the digits. Then
    report and registration codes of that length are both candidates (reports first: they are
    what people check most, and only registration codes have 6 digits until reports widen).
    """
    ref = normalise_reference(text)
    if ref is not None:
        return (ref,)
    digits = (text or "").strip()
    if not _DIGITS_RE.match(digits):
        return ()
    candidates = [f"{REPORT_PREFIX}-{digits}"]
    if len(digits) >= REGISTRATION_DIGITS:
        candidates.append(f"{REGISTRATION_PREFIX}-{digits}")
    return tuple(candidates)
