"""TOTP secrets, provisioning URIs and code checks as the reference makes them (SYSTEM.md §4).

RFC 6238 with pyotp's defaults: HMAC-SHA1, 6 digits, 30-second steps. Secrets are 20 random
bytes in base32 (32 characters, no padding).
"""

from __future__ import annotations

import base64
import re
import secrets
import unicodedata
from typing import Final

import pyotp

from core.errors import ValidationError

SECRET_BYTES: Final = 20
SECRET_LENGTH: Final = 32  # base32 of 20 bytes: no padding needed
VALID_WINDOW: Final = 1  # one step either side (SYSTEM.md §4 "Verification")
ISSUER_SUFFIX: Final = " Mail-in-a-Box Control Panel"

NO_SECRET: Final = "No secret provided."
BAD_SECRET: Final = "Secret should be a 32 characters base32 string"
INVALID_TOKEN: Final = "Invalid token."

_BASE32: Final = re.compile(r"^[A-Z2-7]{32}$")
_TOKEN: Final = re.compile(r"^[0-9]{6}$")


def new_secret() -> str:
    """A fresh secret: 20 random bytes, base32-encoded (32 characters `A-Z2-7`)."""
    return base64.b32encode(secrets.token_bytes(SECRET_BYTES)).decode("ascii")


def validate_secret(secret: str | None) -> str:
    """Check a secret the reference's way and return it upper-cased.

    The reference only checks the length, so a 32-character string that is not base32 made
    it crash later (HTTP 500); we refuse it with the same message, which describes it.
    Lower case is accepted (pyotp decodes base32 case-insensitively) and normalised.

    Raises:
        ValidationError: missing or blank (`No secret provided.`), or not 32 base32
            characters (`Secret should be a 32 characters base32 string`).
    """
    if secret is None or secret.strip() == "":
        raise ValidationError(NO_SECRET, field="secret")
    if len(secret) != SECRET_LENGTH or not _BASE32.match(secret.upper()):
        raise ValidationError(BAD_SECRET, field="secret")
    return secret.upper()


def issuer_for(hostname: str) -> str:
    """The issuer authenticator apps show: the reference's `PRIMARY_HOSTNAME Mail-in-a-Box
    Control Panel`, so a code enrolled through either tool lands under the same name."""
    return hostname + ISSUER_SUFFIX


def provisioning_uri(secret: str, email: str, hostname: str) -> str:
    """The `otpauth://totp/ISSUER:EMAIL?secret=...&issuer=ISSUER` URI (percent-encoded by
    pyotp exactly as the reference's)."""
    return pyotp.TOTP(secret).provisioning_uri(name=email, issuer_name=issuer_for(hostname))


def terminal_uri(secret: str, email: str, hostname: str) -> str:
    """The same enrolment as `provisioning_uri` with the issuer shortened to the hostname.

    The terminal draws two modules per cell, so every QR version saved is two rows: this
    shorter URI keeps the code at version 5 (37 modules) for a typical hostname and address,
    which lets the whole enrolment dialog fit an 80x24 terminal. The secret and the account
    name (the email) are the same, so the codes are the same; only the name the app files
    them under differs.
    """
    return pyotp.TOTP(secret).provisioning_uri(name=email, issuer_name=hostname)


def normalize_token(token: str) -> str | None:
    """The 6 ASCII digits a typed code stands for, or None if it is not one.

    Spaces (`123 456`) are dropped. Full-width and other Unicode digits are folded by NFKC
    first: pyotp's comparison folds them too, so storing the folded form is what makes the
    replay check see them as the same code.
    """
    folded = "".join(unicodedata.normalize("NFKC", token).split())
    return folded if _TOKEN.match(folded) else None


def verify_token(secret: str, token: str, at: float) -> str | None:
    """The normalised token if it is the code for `at`, the step before or the step after;
    else None.

    Raises:
        ValidationError: the secret is not valid base32 (checked by `validate_secret`
            first, so only a corrupt stored secret gets here).
    """
    digits = normalize_token(token)
    if digits is None:
        return None
    try:
        ok = pyotp.TOTP(secret).verify(digits, for_time=at, valid_window=VALID_WINDOW)
    except (ValueError, TypeError):
        raise ValidationError(BAD_SECRET, field="secret") from None
    return digits if ok else None
