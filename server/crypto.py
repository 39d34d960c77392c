"""Encryption of stored secrets (OAuth refresh tokens) with rotatable Fernet keys (rule C1).

The first key of ``TOKEN_ENCRYPTION_KEYS`` encrypts; every key decrypts, so a new key can be
put first and old tokens re-encrypted at leisure (:meth:`TokenCipher.rotate`).
"""

from __future__ import annotations

from collections.abc import Sequence

from cryptography.fernet import Fernet, InvalidToken, MultiFernet


class TokenCipher:
    def __init__(self, keys: Sequence[str]) -> None:
        if not keys:
            raise ValueError("at least one encryption key is needed")
        self._fernet = MultiFernet([Fernet(k) for k in keys])

    def encrypt(self, secret: str) -> str:
        return self._fernet.encrypt(secret.encode()).decode()

    def decrypt(self, stored: str) -> str:
        try:
            return self._fernet.decrypt(stored.encode()).decode()
        except InvalidToken as exc:
            raise ValueError("stored secret cannot be decrypted with the configured keys") from exc

    def rotate(self, stored: str) -> str:
        return self._fernet.rotate(stored.encode()).decode()
