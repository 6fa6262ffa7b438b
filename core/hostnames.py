"""The box's own names and addresses, checked before a box is made: a bad one is accepted by
nothing later (zone files, certificates, every user address), so it is refused up front with
the real reason."""

from __future__ import annotations

import ipaddress
import re
from typing import Final

from core.errors import ValidationError

_LABEL: Final = re.compile(r"[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?")
# Special-use names (RFC 6761 and later) under which the address rules refuse every mail
# address (the reference's email library has the same list).
SPECIAL_USE: Final = ("arpa", "invalid", "local", "localhost", "onion", "test")


def check_hostname(name: str) -> str:
    """The primary hostname as stored (IDNA, lower case).

    Raises:
        ValidationError: why it cannot be a mail server's name.
    """
    shown = name if len(name) <= 80 else name[:77] + "..."
    try:
        idna = name.strip().rstrip(".").lower().encode("idna").decode("ascii")
    except (UnicodeError, ValueError):
        raise ValidationError(
            f"{shown!r} is not a domain name: use letters, digits and hyphens, "
            "in labels separated by dots.",
            field="hostname",
        ) from None
    labels = idna.split(".")
    if len(idna) > 253 or not all(_LABEL.fullmatch(label) for label in labels):
        raise ValidationError(
            f"{shown!r} is not a domain name: use letters, digits and hyphens, "
            "in labels separated by dots (each at most 63 characters).",
            field="hostname",
        )
    if len(labels) < 3:
        # The reference asks for a name like box.example.com: the box's name is not the
        # mail domain itself, whose web site and MX may live elsewhere.
        raise ValidationError(
            f"{idna} is not a full hostname: use a name such as box.{idna} "
            "(the box's own name, below your mail domain).",
            field="hostname",
        )
    if labels[-1] in SPECIAL_USE:
        raise ValidationError(
            f"{idna} is under .{labels[-1]}, a special-use name: no mail address there is "
            "valid. Use a name under a domain you own (or under example.com for a trial).",
            field="hostname",
        )
    return idna


def check_address(value: str, version: int, field: str) -> str:
    """An IP address of the given version, in canonical form ("" allowed for IPv6: none).

    Raises:
        ValidationError: not such an address.
    """
    if version == 6 and value == "":
        return ""
    try:
        address = ipaddress.ip_address(value.strip())
    except ValueError:
        address = None
    if address is None or address.version != version:
        raise ValidationError(f"{value[:80]!r} is not an IPv{version} address.", field=field)
    return str(address)
