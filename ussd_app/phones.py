"""Phone numbers: parse to E.164, hash for look-ups, and mask for logs.

Numbers are stored encrypted (see `crypto`) and found again by a keyed hash, so neither the
database nor a log line ever holds a readable MSISDN outside the encrypted columns.

A masked number keeps its country code and ends in a short keyed tag (`+266********#1a2b3c4d`):
the same number always gets the same tag, so log lines about one caller can be followed, while
two numbers that share their last digits (a reporter and the national desk) never print alike.
The tag is an HMAC under a key derived from PHONE_HASH_KEY (`set_mask_key`), never a prefix of
the stored look-up hash, so a log line cannot be joined to a database row without the key.
"""

from __future__ import annotations

import functools
import hashlib
import hmac
import secrets

import phonenumbers

# Until the service sets it from PHONE_HASH_KEY, a random key: masks are then stable within one
# process only, which is still enough to tell numbers apart in its log lines.
_mask_key: bytes = secrets.token_bytes(32)
_MASK_KEY_LABEL = b"ussd-app log mask v1"
TAG_CHARS = 8


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


def _canonical(number: str) -> str | None:
    """E.164 of a number written any way: Lesotho first, then South Africa for a national
    number with its trunk `0` (`082 123 4567`), which cannot be Lesotho's; None if neither."""
    for region in ("LS", "ZA"):
        try:
            return normalise(number, region)
        except InvalidPhoneNumber:
            if not number.lstrip().startswith("0"):
                return None
    return None


def set_mask_key(phone_hash_key: str) -> None:
    """Derive the log-mask key from PHONE_HASH_KEY so every process (web, worker, CLI) prints
    the same tag for the same number. Derived, not reused: a tag must not be a prefix of the
    phone hash stored in the database."""
    global _mask_key
    if phone_hash_key:
        _mask_key = hmac.new(phone_hash_key.encode(), _MASK_KEY_LABEL, hashlib.sha256).digest()
    mask.cache_clear()


def mask_tag(number: str) -> str:
    """The keyed tag of a number: the first characters of an HMAC of its E.164 form (or of its
    digits, when it does not parse), so `58123456`, `5812 3456` and `+26658123456` share one."""
    canonical = _canonical(number)
    if canonical is None:
        canonical = "".join(ch for ch in number if ch.isdigit() or ch == "+")
    digest = hmac.new(_mask_key, canonical.encode(), hashlib.sha256).hexdigest()
    return digest[:TAG_CHARS]


@functools.lru_cache(maxsize=4096)
def mask(number: str | None) -> str:
    """A number fit for a log line: `+266********#1a2b3c4d`. Never log a number any other way.

    The country code stays (Lesotho and South African SIMs read differently to an operator);
    every other digit becomes `*`, and the keyed tag tells numbers apart without revealing them.
    """
    if not number or not number.strip():
        return "-"
    text = number.strip()
    tag = mask_tag(text)
    canonical = _canonical(text)
    if canonical is None:
        digits = sum(ch.isdigit() for ch in text)
        return "*" * max(digits, 1) + "#" + tag
    parsed = phonenumbers.parse(canonical, None)
    national = phonenumbers.national_significant_number(parsed)
    return f"+{parsed.country_code}" + "*" * len(national) + "#" + tag
