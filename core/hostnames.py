"""The box's own names and addresses, checked before a box is made: a bad one is accepted by
nothing later (zone files, certificates, every user address), so it is refused up front with
the real reason."""

from __future__ import annotations

import ipaddress
import re
from typing import Final

from core.errors import ConfigError, ValidationError

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


DNS_RESOLVER_KEY: Final = "MIAB_DNS_RESOLVER"  # "IP" or "IP:PORT" for the public DNS checks


def parse_nameserver(value: str) -> tuple[str, int]:
    """`IP`, `IP:PORT`, `[IPv6]:PORT` or `IP#PORT` → (ip, port).

    Raises:
        ValueError: not an address.
    """
    value = value.strip()
    host, port = value, 53
    if value.startswith("["):
        host, _, rest = value[1:].partition("]")
        if rest.startswith(":"):
            port = int(rest[1:])
    elif "#" in value:
        host, _, p = value.partition("#")
        port = int(p)
    elif value.count(":") == 1:
        host, _, p = value.partition(":")
        port = int(p)
    ipaddress.ip_address(host)
    if not 0 < port < 65536:
        raise ValueError("port out of range")
    return host, port


def check_resolver_setting(extra: dict[str, str]) -> None:
    """Raises: ConfigError: the conf's MIAB_DNS_RESOLVER is set and is not an address.

    Checked when the box opens: the TLS and status services that use it are built later, on
    first use, and could otherwise fail in the middle of a change's follow-ups."""
    value = extra.get(DNS_RESOLVER_KEY)
    if value:
        try:
            parse_nameserver(value)
        except ValueError:
            raise ConfigError(
                f"{DNS_RESOLVER_KEY}={value} in the box's conf is not an address "
                "(IP, IP:PORT or [IPv6]:PORT)."
            ) from None
