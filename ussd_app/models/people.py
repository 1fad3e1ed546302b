"""Per-phone settings that are not a registration, and the column widths the models share.

The widths live here (the first models module) so the same thing is the same size in every table
and every encrypted column is declared wide enough for its Fernet token.
"""

from __future__ import annotations

import math

from sqlalchemy import String
from sqlalchemy.orm import Mapped, mapped_column

from ussd_app.db import Base, created_at, updated_at

PHONE_HASH_LEN = 64  # HMAC-SHA256 hex digest (ussd_app.phones.phone_hash)
LANGUAGE_LEN = 8
REF_LEN = 16  # "T-5307", "R-482913", widened refs included
CODE_LEN = 32  # answer codes from ussd_app.reference
CHANNEL_LEN = 8  # "ussd" / "sms"


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


class PhonePreference(Base):
    """The language a phone chose, so its next dial skips the language screen.

    Keyed by the phone's keyed hash: the number itself is never needed to find it.
    """

    __tablename__ = "phone_preferences"

    id: Mapped[int] = mapped_column(primary_key=True)
    phone_hash: Mapped[str] = mapped_column(String(PHONE_HASH_LEN), unique=True)
    language: Mapped[str] = mapped_column(String(LANGUAGE_LEN))
    created_at: Mapped[created_at]
    updated_at: Mapped[updated_at]
