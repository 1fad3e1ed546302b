"""Encryption at rest for the fields that could expose a person (reporter numbers, names).

Fernet (AES-128-CBC + HMAC) from `cryptography`, with MultiFernet so keys can be rotated: the
first key in DATA_KEYS encrypts, all of them decrypt.
"""

from __future__ import annotations

from collections.abc import Sequence

from cryptography.fernet import Fernet, InvalidToken, MultiFernet


class Cipher:
    """Encrypts and decrypts short strings with the configured keys."""

    def __init__(self, keys: Sequence[str]) -> None:
        if not keys:
            raise ValueError("no encryption keys configured (DATA_KEYS)")
        self._fernet = MultiFernet([Fernet(k.encode()) for k in keys])

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

    @staticmethod
    def generate_key() -> str:
        return Fernet.generate_key().decode()
