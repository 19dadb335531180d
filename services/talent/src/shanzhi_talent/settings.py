"""Settings of the talent service: the kit's ServiceSettings plus the personal-data keys."""

from __future__ import annotations

import logging

from pydantic import SecretStr
from shanzhi_kit.db import is_sqlite
from shanzhi_kit.settings import ServiceSettings

from shanzhi_talent.pii import (
    DEVELOPMENT_ENCRYPTION_KEY,
    DEVELOPMENT_HMAC_KEY,
    PiiVault,
    decode_key,
)

log = logging.getLogger(__name__)


class TalentSettings(ServiceSettings):
    """``SHANZHI_*`` variables of the talent service.

    ``SHANZHI_PII_HMAC_KEY`` and ``SHANZHI_PII_ENCRYPTION_KEY`` are base64 of 32
    random bytes each (``python -c "import os,base64;print(base64.b64encode(os.urandom(32)).decode())"``).
    They are required with PostgreSQL; on the embedded SQLite default a fixed
    development key pair is used, with a warning, so ``make run`` needs no set-up.
    The HMAC key can never change without re-registering every ID number (the
    hashes are the look-up key); the encryption key can be rotated: raise
    ``SHANZHI_PII_KEY_VERSION`` and list the old keys in ``SHANZHI_PII_RETIRED_KEYS``
    as ``version:base64`` pairs, comma separated.
    """

    pii_hmac_key: SecretStr | None = None
    pii_encryption_key: SecretStr | None = None
    pii_key_version: int = 1
    pii_retired_keys: SecretStr | None = None

    def pii_vault(self) -> PiiVault:
        hmac_text = self.pii_hmac_key.get_secret_value() if self.pii_hmac_key else None
        enc_text = self.pii_encryption_key.get_secret_value() if self.pii_encryption_key else None
        if hmac_text is None or enc_text is None:
            if not is_sqlite(self.database_url):
                raise RuntimeError(
                    "set SHANZHI_PII_HMAC_KEY and SHANZHI_PII_ENCRYPTION_KEY (base64 of 32 bytes each)"
                )
            log.warning("personal-data keys not set: using development keys (SQLite only)")
            hmac_text = hmac_text or DEVELOPMENT_HMAC_KEY
            enc_text = enc_text or DEVELOPMENT_ENCRYPTION_KEY
        if not 1 <= self.pii_key_version <= 255:
            raise ValueError("SHANZHI_PII_KEY_VERSION must be between 1 and 255")
        keys = {self.pii_key_version: decode_key(enc_text, "SHANZHI_PII_ENCRYPTION_KEY")}
        if self.pii_retired_keys is not None:
            for pair in self.pii_retired_keys.get_secret_value().split(","):
                if pair.strip():
                    version, _, text = pair.strip().partition(":")
                    keys[int(version)] = decode_key(text, "SHANZHI_PII_RETIRED_KEYS")
        return PiiVault(decode_key(hmac_text, "SHANZHI_PII_HMAC_KEY"), keys, self.pii_key_version)
