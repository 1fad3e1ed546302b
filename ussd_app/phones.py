"""Phone numbers: parse to E.164, hash for look-ups, and mask for logs.

Numbers are stored encrypted (see `crypto`) and found again by a keyed hash, so neither the
database nor a log line ever holds a readable MSISDN outside the encrypted columns.
"""

from __future__ import annotations

import functools
import hashlib
import hmac

import phonenumbers


class InvalidPhoneNumber(ValueError):
    """The text is not a phone number we can reach."""


@functools.lru_cache(maxsize=20_000)
def normalise(raw: str, default_region: str = "LS") -> str:
    """Return `raw` as E.164 (`+26658123456`), or raise InvalidPhoneNumber.

    Accepts the gateway's `+266…`, national `5812 3456`, and `00266…`. South African (+27)
    numbers are accepted: many returnees carry SA SIMs. Memoised: every hop of a session
    carries the same number, and parsing costs more than the rest of a hop's input handling.
    """
    text = (raw or "").strip()
    if text.startswith("00"):
        text = "+" + text[2:]
    if not text or len(text) > 20:
        raise InvalidPhoneNumber("phone number is missing or too long")
    try:
        parsed = phonenumbers.parse(text, default_region)
    except phonenumbers.NumberParseException as exc:
        raise InvalidPhoneNumber(f"not a phone number: {exc}") from None
    # The sandbox simulator uses made-up numbers: accept any number that is possible.
    if not phonenumbers.is_valid_number(parsed) and not phonenumbers.is_possible_number(parsed):
        raise InvalidPhoneNumber("not a possible phone number")
    return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)


def phone_hash(e164: str, key: str) -> str:
    """Keyed hash (HMAC-SHA256, hex) of an E.164 number, for look-ups without decrypting."""
    if not key:
        raise ValueError("phone hash key is empty")
    return hmac.new(key.encode(), e164.encode(), hashlib.sha256).hexdigest()


def mask(number: str | None) -> str:
    """A number fit for a log line: `+266****3456`. Never log a number any other way."""
    if not number:
        return "-"
    digits = number.strip()
    if len(digits) <= 6:
        return "*" * len(digits)
    return digits[:4] + "*" * (len(digits) - 8 if len(digits) > 8 else 2) + digits[-4:]
