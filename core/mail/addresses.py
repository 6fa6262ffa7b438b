"""Email address rules of the reference (BEHAVIOUR.md §2): syntax, IDNA, DCV addresses."""

from __future__ import annotations

import re
from typing import Final, Literal

from email_validator import EmailNotValidError
from email_validator import validate_email as _library_validate

Mode = Literal["user", "alias"]

_USER_FORBIDDEN: Final = re.compile(r"[^@.a-z0-9_\-]+")
_DCV_LOCAL_PARTS: Final = (
    "admin",
    "administrator",
    "postmaster",
    "hostmaster",
    "webmaster",
    "abuse",
)


def validate_email(address: str, mode: Mode | None = None) -> bool:
    """True if the address is syntactically valid for `mode` (the reference's `validate_email`).

    `alias` mode allows an empty local part (`@domain`); `user` mode allows only lowercase
    ASCII letters, digits, `_`, `-`, `.` (dovecot's sqlite driver and the maildir path).
    """
    try:
        # strict: the 64-character local-part limit the reference's (older) library applied.
        _library_validate(
            address,
            allow_smtputf8=False,
            check_deliverability=False,
            allow_empty_local=(mode == "alias"),
            strict=True,
        )
    except EmailNotValidError:
        return False
    except (ValueError, UnicodeError):
        return False
    if mode == "user":
        if len(address) > 255:
            return False
        if _USER_FORBIDDEN.search(address):
            return False
    return True


# A DNS name is at most 253 characters, and a signed zone has a name of a 32-character
# label (an NSEC3 hash) under its own: a mail domain longer than this could not have its zone
# signed (the reference takes it, then fails to write any zone of the box).
MAX_MAIL_DOMAIN: Final = 253 - 33
DOMAIN_TOO_LONG: Final = (
    f"Invalid email address: its domain is longer than {MAX_MAIL_DOMAIN} characters, too long "
    "for the DNS records this box makes for it."
)


def mail_domain_fits(address: str) -> bool:
    """Whether the domain of `address` (IDNA) leaves room for the box's records under it."""
    return len(address.rpartition("@")[2]) <= MAX_MAIL_DOMAIN


def sanitize_idn_email_address(address: str) -> str:
    """IDNA-encode the domain part; any failure returns the input unchanged (as the reference)."""
    try:
        local, domain = address.split("@")
    except ValueError:
        return address
    try:
        return local + "@" + domain.encode("idna").decode("ascii")
    except (UnicodeError, ValueError):
        return address


def user_address(address: str) -> str:
    """A user's address as stored: its domain in IDNA and lower case (domains are not
    case-sensitive), its local part as given (the user rules then refuse upper case there, in
    the reference's words). Anything that does not encode is returned unchanged, to be refused
    by the rules with their message."""
    local, sep, domain = address.rpartition("@")
    if not sep or len(address) > 512:
        return address
    try:
        return local + "@" + domain.lower().encode("idna").decode("ascii")
    except (UnicodeError, ValueError):
        return address


def prettify_idn_email_address(address: str) -> str:
    """Decode an IDNA domain part back to Unicode for display."""
    try:
        local, domain = address.split("@")
        return local + "@" + domain.encode("ascii").decode("idna")
    except (UnicodeError, ValueError):
        return address


def prettify_domain(domain: str) -> str:
    try:
        return domain.encode("ascii").decode("idna")
    except (UnicodeError, ValueError):
        return domain


def is_dcv_address(address: str) -> bool:
    """Addresses frequently used for domain control validation (`admin@`, `postmaster+x@`...)."""
    lowered = address.lower()
    return any(
        lowered.startswith(local + "@") or lowered.startswith(local + "+")
        for local in _DCV_LOCAL_PARTS
    )


def domain_of(address: str) -> str:
    return address.rpartition("@")[2]
