"""Reference codes shown to callers: `T-48213906` for reports, `R-20519366` for registrations.

A new reference is a letter, a dash and 8 digits: 7 digits that are a keyed permutation of the
row's id, then a Damm check digit computed over the letter and the digits.

- **Never runs out, never collides, no retry**: the 7 digits are a bijection of the row id (a
  Feistel network over 24 bits with cycle-walking into 0..9,999,999), so two rows can never get
  the same reference and nothing is ever generated twice. Ten million of each kind; row ids past
  that get one digit more (8 + check), and so on, so the space never ends.
- **Cannot be guessed**: the permutation is keyed with a secret derived from `PHONE_HASH_KEY`, so
  one reference says nothing about the next, nor about how many reports there are. Nothing is
  derived from the phone.
- **A typo is caught at once**: the Damm check digit rejects any single wrong digit, any swap of
  two adjacent digits, and a wrong letter (the letter is the first symbol of the check).

Existing references (`T-` + 4..7 digits, `R-` + 6 digits, from before check digits) keep
working: they are shorter than every new one, so a code with 7 digits or fewer is looked up as
it is, without a check.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from functools import lru_cache

REPORT_PREFIX = "T"
REGISTRATION_PREFIX = "R"
PREFIXES = (REPORT_PREFIX, REGISTRATION_PREFIX)
PAYLOAD_DIGITS = 7  # then one check digit: T-12345678
LEGACY_MAX_DIGITS = 7  # codes issued before check digits had 4..7 digits
MAX_DIGITS = 14  # fits the 16-character ref columns ("T-" + 14)

# The letter's value as the first symbol of the check (its key on a phone keypad: R 7, T 8).
_LETTER_DIGIT = {REPORT_PREFIX: 8, REGISTRATION_PREFIX: 7}
# Separators a caller may type between letter and digits or between groups of digits.
_REF_RE = re.compile(r"^([TR])[-\s*#._/]*(\d[\d\s\-.]*)$")
_DIGITS_RE = re.compile(r"^\d[\d\s\-.]*$")
_ROUNDS = 4  # Luby-Rackoff: four rounds of random functions make a strong permutation

# Damm's totally anti-symmetric quasigroup of order 10 (H. M. Damm, 2004).
_DAMM = (
    (0, 3, 1, 7, 5, 9, 8, 6, 4, 2),
    (7, 0, 9, 2, 1, 5, 4, 8, 6, 3),
    (4, 2, 0, 6, 8, 7, 1, 3, 5, 9),
    (1, 7, 5, 0, 9, 8, 3, 4, 2, 6),
    (6, 1, 2, 3, 0, 4, 5, 9, 7, 8),
    (3, 6, 7, 4, 2, 0, 9, 5, 8, 1),
    (5, 8, 6, 9, 7, 2, 0, 1, 3, 4),
    (8, 9, 4, 5, 3, 6, 2, 0, 1, 7),
    (9, 4, 3, 8, 6, 1, 7, 2, 0, 5),
    (2, 5, 8, 1, 4, 3, 6, 7, 9, 0),
)


def check_digit(prefix: str, digits: str) -> str:
    """The Damm check digit of the letter `prefix` followed by `digits`."""
    interim = _DAMM[0][_LETTER_DIGIT[prefix]]
    for ch in digits:
        interim = _DAMM[interim][ord(ch) - 48]
    return str(interim)


def is_valid(prefix: str, digits: str) -> bool:
    """True when the last of `digits` is the check digit of the letter and the rest."""
    return len(digits) >= 2 and check_digit(prefix, digits[:-1]) == digits[-1]


class ReferenceMaker:
    """Makes the references of one deployment from row ids, under a secret key."""

    def __init__(self, secret: str | bytes) -> None:
        raw = secret.encode() if isinstance(secret, str) else secret
        if not raw:
            raise ValueError("references need a secret key (PHONE_HASH_KEY)")
        self._key = hmac.new(raw, b"ussd-app references v1", hashlib.sha256).digest()

    def report(self, row_id: int) -> str:
        """The reference of the report with this id."""
        return self._make(REPORT_PREFIX, row_id)

    def registration(self, row_id: int) -> str:
        """The reference of the registration with this id."""
        return self._make(REGISTRATION_PREFIX, row_id)

    def _make(self, prefix: str, row_id: int) -> str:
        if row_id < 0:
            raise ValueError("row ids are never negative")
        width, offset = PAYLOAD_DIGITS, 0
        while row_id - offset >= 10**width:  # ten million per width, then one digit more
            offset += 10**width
            width += 1
        if width + 1 > MAX_DIGITS:
            raise ValueError("row id too large for a reference")
        value = _table(self._key, prefix, width).permute(row_id - offset)
        digits = f"{value:0{width}d}"
        return f"{prefix}-{digits}{check_digit(prefix, digits)}"


class _Feistel:
    """A keyed permutation of 0..10**width-1: a balanced Feistel network over 2h bits whose
    round functions are tables drawn from HMAC, with cycle-walking back into the domain."""

    def __init__(self, key: bytes, prefix: str, width: int) -> None:
        self.domain = 10**width
        bits = (self.domain - 1).bit_length()
        self.half = (bits + 1) // 2
        self.mask = (1 << self.half) - 1
        self.tables: list[list[int]] = []
        for rnd in range(_ROUNDS):
            stream = _stream(key, f"{prefix}:{width}:{rnd}".encode(), 4 << self.half)
            self.tables.append(
                [
                    int.from_bytes(stream[i : i + 4], "big") & self.mask
                    for i in range(0, 4 << self.half, 4)
                ]
            )

    def permute(self, value: int) -> int:
        half, mask, domain = self.half, self.mask, self.domain
        t0, t1, t2, t3 = self.tables
        while True:  # cycle-walking: at most a few steps (the domain is over half the block)
            left, right = value >> half, value & mask
            left ^= t0[right]
            right ^= t1[left]
            left ^= t2[right]
            right ^= t3[left]
            value = (left << half) | right
            if value < domain:
                return value


def _stream(key: bytes, label: bytes, size: int) -> bytes:
    out = bytearray()
    counter = 0
    while len(out) < size:
        out += hmac.new(key, label + counter.to_bytes(4, "big"), hashlib.sha256).digest()
        counter += 1
    return bytes(out[:size])


@lru_cache(maxsize=32)
def _table(key: bytes, prefix: str, width: int) -> _Feistel:
    return _Feistel(key, prefix, width)


def placeholder_ref() -> str:
    """A unique stand-in written with a new row until its id (hence its reference) is known.
    Never committed: the service replaces it before the transaction ends."""
    import secrets

    return "~" + secrets.token_hex(7)


def _split(text: str) -> tuple[str | None, str] | None:
    """(letter or None, digits) from what a caller typed, or None if it cannot be a reference."""
    cleaned = text.strip().upper()
    match = _REF_RE.match(cleaned)
    if match is not None:
        prefix, raw = match.group(1), match.group(2)
    elif _DIGITS_RE.match(cleaned):
        prefix, raw = None, cleaned
    else:
        return None
    digits = re.sub(r"[\s\-.]", "", raw)
    if not 4 <= len(digits) <= MAX_DIGITS:
        return None
    return prefix, digits


def normalise_reference(text: str | None) -> str | None:
    """The canonical form of a reference a caller typed, or None if it cannot be one.

    Accepts `T-48213906`, `t48213906`, ` T 4821 3906 `, `T*48213906` (a `*` typed on a keypad).
    A code of 8 digits or more must pass its check digit (a typo is refused here, at once); a
    shorter one is an old reference and is taken as it is. Bare digits are not a reference on
    their own: use `reference_candidates` for those.
    """
    if not text:
        return None
    split = _split(text)
    if split is None:
        return None
    prefix, digits = split[0], split[1]
    if prefix is None or (len(digits) > LEGACY_MAX_DIGITS and not is_valid(prefix, digits)):
        return None
    return f"{prefix}-{digits}"


def looks_like_reference(text: str | None) -> bool:
    """True when `text` has the shape of a reference (right or wrong check digit)."""
    return bool(text) and (_split(text or "") or (None, ""))[0] is not None


def reference_candidates(text: str | None) -> tuple[str, ...]:
    """The references `text` may mean, most likely first.

    Letters are awkward on a basic phone's keypad, so a caller may type only the digits. A new
    code's check digit covers the letter, so at most one letter fits 8 or more digits; an old
    code of 4..7 digits may be a report, or (6 digits) a registration.
    """
    if not text:
        return ()
    split = _split(text)
    if split is None:
        return ()
    prefix, digits = split
    if prefix is not None:
        ref = normalise_reference(text)
        return (ref,) if ref is not None else ()
    if len(digits) > LEGACY_MAX_DIGITS:
        return tuple(f"{p}-{digits}" for p in PREFIXES if is_valid(p, digits))
    candidates = [f"{REPORT_PREFIX}-{digits}"]
    if len(digits) == 6:
        candidates.append(f"{REGISTRATION_PREFIX}-{digits}")
    return tuple(candidates)


@lru_cache(maxsize=4)
def maker(secret: str) -> ReferenceMaker:
    """The deployment's reference maker (one per key; the Feistel tables are built once)."""
    return ReferenceMaker(secret)
