"""Encryption at rest for the fields that could expose a person (reporter numbers, names).

Fernet (AES-128-CBC + HMAC) from `cryptography`, with MultiFernet so keys can be rotated: the
first key in DATA_KEYS encrypts, all of them decrypt.
"""

from __future__ import annotations

import secrets
from collections.abc import Sequence

from cryptography.fernet import Fernet, InvalidToken, MultiFernet


class Cipher:
    """Encrypts and decrypts short strings with the configured keys."""

    def __init__(self, keys: Sequence[str]) -> None:
        if not keys:
            raise ValueError("no encryption keys configured (DATA_KEYS)")
        fernets = [Fernet(k.encode()) for k in keys]
        self._newest = fernets[0]
        self._fernet = MultiFernet(fernets)

    def encrypt(self, plaintext: str) -> str:
        return self._fernet.encrypt(plaintext.encode()).decode()

    def decrypt(self, token: str) -> str:
        try:
            return self._fernet.decrypt(token.encode()).decode()
        except InvalidToken:
            raise ValueError("cannot decrypt: wrong key or damaged value") from None

    def encrypt_optional(self, plaintext: str | None) -> str | None:
        return None if plaintext is None else self.encrypt(plaintext)

    def decrypt_optional(self, token: str | None) -> str | None:
        return None if token is None else self.decrypt(token)

    def is_current(self, token: str) -> bool:
        """True when `token` is encrypted with the newest key (rotation has nothing to do)."""
        try:
            self._newest.decrypt(token.encode())
        except InvalidToken:
            return False
        return True

    def rotate(self, token: str) -> str:
        """`token` re-encrypted with the newest key (its original timestamp is kept).

        Raises ValueError when no configured key can read it.
        """
        try:
            return self._fernet.rotate(token.encode()).decode()
        except InvalidToken:
            raise ValueError("cannot decrypt: wrong key or damaged value") from None

    @staticmethod
    def generate_key() -> str:
        """A fresh Fernet key for DATA_KEYS (32 random bytes, URL-safe base64)."""
        return Fernet.generate_key().decode()


def generate_secret() -> str:
    """A fresh shared secret (GATEWAY_TOKEN, PHONE_HASH_KEY): 256 random bits, 43 characters."""
    return secrets.token_urlsafe(32)
