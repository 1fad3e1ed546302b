"""The column widths and CHECK helpers every feature's models share.

The widths live here (the first models module) so the same thing is the same size in every table
and every encrypted column is declared wide enough for its Fernet token.
"""

from __future__ import annotations

import math

PHONE_HASH_LEN = 64  # HMAC-SHA256 hex digest (ussd_app.phones.phone_hash)
LANGUAGE_LEN = 8
REF_LEN = 16  # "T-5307", "R-482913", widened refs included
CODE_LEN = 32  # answer codes from ussd_app.codes
CHANNEL_LEN = 8  # "ussd" / "sms" / "walk_in"


def fernet_len(max_plaintext_bytes: int) -> int:
    """Length of a Fernet token (urlsafe base64) for a plaintext of at most this many bytes.

    Token = version(1) + timestamp(8) + IV(16) + AES-CBC ciphertext (PKCS7-padded) + HMAC(32).
    """
    padded = (max_plaintext_bytes // 16 + 1) * 16
    raw = 1 + 8 + 16 + padded + 32
    return 4 * math.ceil(raw / 3)


# Plaintext caps in characters; services truncate free text to these before encrypting. UTF-8
# needs at most 4 bytes a character, so encrypted widths allow for 4x.
PHONE_MAX_CHARS = 20
NAME_MAX_CHARS = 40
VEHICLE_MAX_CHARS = 40
SMS_TEXT_MAX_CHARS = 1600

PHONE_ENC_LEN = fernet_len(PHONE_MAX_CHARS * 4)
NAME_ENC_LEN = fernet_len(NAME_MAX_CHARS * 4)
VEHICLE_ENC_LEN = fernet_len(VEHICLE_MAX_CHARS * 4)
SMS_TEXT_ENC_LEN = fernet_len(SMS_TEXT_MAX_CHARS * 4)

CHANNELS = ("ussd", "sms")
# A returnee registered by a border health worker with their verbal consent (issue 10, item 4).
# Registrations and consent records take it; reports do not (a report is made by its reporter).
WALK_IN = "walk_in"
REGISTRATION_CHANNELS = (*CHANNELS, WALK_IN)


def check_in(column: str, values: tuple[str, ...]) -> str:
    """SQL for a CHECK that `column` holds one of `values` (fixed codes, never user input)."""
    quoted = ", ".join(f"'{v}'" for v in values)
    return f"{column} IN ({quoted})"
