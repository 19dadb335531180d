"""Personal data at rest (个人信息保护): keyed hashes for look-ups, encryption for reading back.

- A resident ID number is stored twice, never in clear: an HMAC-SHA256 of the
  normalised number (``id_number_hmac``, unique: look-ups and duplicate checks)
  and an AES-256-GCM ciphertext (``id_number_cipher``) that only this service can
  open, to show the number in full to the roles allowed to see it.
- Ciphertexts start with a one-byte key version, so the key can be rotated:
  new writes use the current key, older rows still open with the old one.
- The masked form (``1101**********1234``) is stored in clear for everyone else.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import logging
import os

from cryptography.hazmat.primitives.ciphers.aead import AESGCM

log = logging.getLogger(__name__)

NONCE_BYTES = 12

#: Keys for local runs on the embedded SQLite default only; never used with PostgreSQL.
DEVELOPMENT_HMAC_KEY = base64.b64encode(b"shanzhi-development-only-hmac-k!").decode()
DEVELOPMENT_ENCRYPTION_KEY = base64.b64encode(b"shanzhi-development-only-aes-key").decode()


def decode_key(text: str, what: str) -> bytes:
    """A 32-byte key from its base64 text."""
    try:
        key = base64.b64decode(text, validate=True)
    except ValueError:
        raise ValueError(f"{what} must be base64") from None
    if len(key) != 32:
        raise ValueError(f"{what} must be 32 bytes (base64 of 32 random bytes)")
    return key


class PiiVault:
    """Hashes and encrypts personal data with the service's keys."""

    def __init__(self, hmac_key: bytes, encryption_keys: dict[int, bytes], current_version: int) -> None:
        if current_version not in encryption_keys:
            raise ValueError("the current key version has no key")
        self._hmac_key = hmac_key
        self._aead = {v: AESGCM(k) for v, k in encryption_keys.items()}
        self._version = current_version

    @property
    def request_hash_key(self) -> bytes:
        """A key for fingerprints of requests that carry personal data, derived from the HMAC key."""
        return hmac.new(self._hmac_key, b"shanzhi.idempotency.request-hash", hashlib.sha256).digest()

    def lookup_hash(self, normalised: str) -> str:
        """The keyed hash (hex) of a normalised value: equal values, equal hashes."""
        return hmac.new(self._hmac_key, normalised.encode(), hashlib.sha256).hexdigest()

    def encrypt(self, plaintext: str, context: str) -> bytes:
        """Encrypt ``plaintext`` bound to ``context`` (e.g. the person's id)."""
        nonce = os.urandom(NONCE_BYTES)
        sealed = self._aead[self._version].encrypt(nonce, plaintext.encode(), context.encode())
        return bytes([self._version]) + nonce + sealed

    def decrypt(self, blob: bytes, context: str) -> str:
        version, nonce, sealed = blob[0], blob[1 : 1 + NONCE_BYTES], blob[1 + NONCE_BYTES :]
        aead = self._aead.get(version)
        if aead is None:
            raise ValueError(f"no key of version {version} to open personal data")
        return aead.decrypt(nonce, sealed, context.encode()).decode()
