"""Encryption at rest for the fields that could expose a person (reporter numbers, names).

Fernet (AES-128-CBC + HMAC) from `cryptography`, with MultiFernet so keys can be rotated: the
first key in DATA_KEYS encrypts, all of them decrypt.

`Sealer` is the cheaper authenticated cipher for short-lived values sealed on every USSD hop (the
session snapshot in Redis): AES-256-GCM, one call each way, with keys derived (HKDF-SHA256, own
purpose) from the same DATA_KEYS. It still opens Fernet tokens sealed before it existed.
"""

from __future__ import annotations

import base64
import binascii
import os
import secrets
from collections.abc import Sequence

from cryptography.exceptions import InvalidTag
from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

SEAL_PREFIX = "g1."  # an AES-GCM seal; a Fernet token starts with "gAAAAA"
_SEAL_INFO = b"ussd-app session seal v1"
_NONCE_LEN = 12


class Cipher:
    """Encrypts and decrypts short strings with the configured keys."""

    def __init__(self, keys: Sequence[str]) -> None:
        if not keys:
            raise ValueError("no encryption keys configured (DATA_KEYS)")
        fernets = [Fernet(k.encode()) for k in keys]
        self._keys = tuple(keys)
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

    def sealer(self) -> Sealer:
        """The AES-GCM sealer for hop-by-hop values, from the same keys (opens Fernet too)."""
        return Sealer(self._keys, legacy=self)

    @staticmethod
    def generate_key() -> str:
        """A fresh Fernet key for DATA_KEYS (32 random bytes, URL-safe base64)."""
        return Fernet.generate_key().decode()


class Sealer:
    """AES-256-GCM seals for values that live minutes (USSD session state in Redis).

    The first DATA_KEYS key seals, all of them open (rotation works as for `Cipher`). A value
    sealed by the older Fernet format is opened by `legacy`, so records written before an
    upgrade stay readable until they expire.
    """

    def __init__(self, keys: Sequence[str], legacy: Cipher | None = None) -> None:
        if not keys:
            raise ValueError("no encryption keys configured (DATA_KEYS)")
        self._aeads = [AESGCM(_derive(k)) for k in keys]
        self._legacy = legacy

    def seal(self, plaintext: str) -> str:
        nonce = os.urandom(_NONCE_LEN)
        body = self._aeads[0].encrypt(nonce, plaintext.encode(), None)
        return SEAL_PREFIX + base64.urlsafe_b64encode(nonce + body).decode()

    def open(self, token: str) -> str:
        """The plaintext; ValueError when no key opens it (wrong key, damaged, unknown)."""
        if not token.startswith(SEAL_PREFIX):
            if self._legacy is None:
                raise ValueError("cannot open: not a seal")
            return self._legacy.decrypt(token)
        try:
            raw = base64.urlsafe_b64decode(token[len(SEAL_PREFIX) :])
        except (binascii.Error, ValueError):
            raise ValueError("cannot open: damaged value") from None
        nonce, body = raw[:_NONCE_LEN], raw[_NONCE_LEN:]
        for aead in self._aeads:
            try:
                return aead.decrypt(nonce, body, None).decode()
            except InvalidTag:
                continue
        raise ValueError("cannot open: wrong key or damaged value")


def _derive(key: str) -> bytes:
    """A 256-bit AES key from a DATA_KEYS entry, for sealing only (HKDF, its own purpose)."""
    material = base64.urlsafe_b64decode(key.encode())
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=_SEAL_INFO).derive(material)


def generate_secret() -> str:
    """A fresh shared secret (GATEWAY_TOKEN, PHONE_HASH_KEY): 256 random bits, 43 characters."""
    return secrets.token_urlsafe(32)
