"""Secondary nameservers (DNS.md §8, BEHAVIOUR.md §4.4–4.5).

The setting is the `_secondary_nameserver` pseudo record of `dns/custom.yaml`: space-separated
hostnames (published as NS and allowed to transfer) and `xfr:<ip or cidr>` entries (transfer
only). Name resolution goes through an injectable `Resolver` so tests need no network.
"""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from typing import Final

import dns.exception
import dns.resolver

from core.errors import ValidationError
from core.formats import FormatError, is_dns_name, nsd_address

# (hostname, "A" | "AAAA") -> addresses; raises LookupError when there is no answer.
Resolver = Callable[[str, str], list[str]]

RESOLVE_TIMEOUT: Final = 5.0
# Addresses are looked up at every DNS update (DNS.md §8); the lookups are kept this long so a
# burst of user changes does not wait on the network each time.
CACHE_SECONDS: Final = 300.0


def system_resolver(hostname: str, rtype: str) -> list[str]:
    """Look `hostname` up with the system's resolver, 5 s at most (the reference's timeout)."""
    resolver = dns.resolver.Resolver()
    resolver.lifetime = RESOLVE_TIMEOUT
    try:
        answer = resolver.resolve(hostname.rstrip(".") + ".", rtype)
    except (dns.exception.DNSException, OSError) as exc:
        raise LookupError(str(exc)) from None
    return [rdata.to_text() for rdata in answer]


def parse_entries(text: str | Iterable[str]) -> list[str]:
    """BEHAVIOUR.md §4.5: split on runs of commas/spaces, blanks dropped."""
    if not isinstance(text, str):
        text = " ".join(text)
    return [item for item in re.split(r"[,\s]+", text) if item]


def validate_entries(entries: Sequence[str], resolver: Resolver) -> None:
    """The reference's checks, in its order and with its messages. The same rules hold for
    the setting however it arrives (`/dns/secondary-nameserver` or the pseudo record through
    `/dns/custom/_secondary_nameserver`).

    Stricter than the reference, with its messages: a hostname must be a DNS name (DNS.md §5's
    pattern, no wildcard) before it is looked up, since it becomes an NS record; an `xfr:`
    value must be what nsd.conf can hold (core.formats.nsd_address: no zone index, nothing
    but the address), since it becomes `notify`/`provide-xfr` lines.

    Raises:
        ValidationError: `Could not resolve the IP address of HOST.` or
            `'VALUE' is not an IPv4 or IPv6 address or subnet.`
    """
    for item in entries:
        if not item.startswith("xfr:"):
            if "*" in item or not is_dns_name(item) or not _resolves(item, resolver):
                raise ValidationError(
                    f"Could not resolve the IP address of {item}.", field="hostnames"
                )
            continue
        value = item[4:]
        try:
            nsd_address(value)
        except FormatError:
            raise ValidationError(
                f"'{value}' is not an IPv4 or IPv6 address or subnet.", field="hostnames"
            ) from None


def _resolves(hostname: str, resolver: Resolver) -> bool:
    for rtype in ("A", "AAAA"):
        try:
            if resolver(hostname, rtype):
                return True
        except LookupError:
            continue
    return False


def ns_hostnames(setting: str) -> tuple[str, ...]:
    """The plain hostnames of the setting: each becomes an apex NS record (DNS.md §2 step 1)."""
    return tuple(h for h in setting.split(" ") if h.strip() and not h.startswith("xfr:"))


class TransferAddresses:
    """Addresses allowed to transfer the zones (nsd `provide-xfr`), resolved with a cache.

    A hostname that does not resolve is left out (as upstream HEAD does) rather than failing
    the whole update as v0.51 did.
    """

    def __init__(self, resolver: Resolver, clock: Callable[[], float] = time.monotonic) -> None:
        self.resolver = resolver
        self._clock = clock
        self._cache: dict[tuple[str, str], tuple[float, list[str]]] = {}
        self._lock = threading.Lock()

    def _lookup(self, hostname: str, rtype: str) -> list[str]:
        now = self._clock()
        with self._lock:
            hit = self._cache.get((hostname, rtype))
        if hit is not None and now - hit[0] < CACHE_SECONDS:
            return hit[1]
        try:
            found = self.resolver(hostname, rtype)
        except LookupError:
            found = []
        with self._lock:
            self._cache[(hostname, rtype)] = (now, found)
        return found

    def addresses(self, setting: str) -> list[str]:
        """DNS.md §8: first A and first AAAA of each hostname, and each `xfr:` value."""
        values: list[str] = []
        for item in setting.split(" "):
            item = item.strip()
            if not item:
                continue
            if item.startswith("xfr:"):
                values.append(item[4:])
                continue
            for rtype in ("A", "AAAA"):
                found = self._lookup(item, rtype)
                if found:
                    values.append(found[0])
        return values

    def forget(self) -> None:
        with self._lock:
            self._cache.clear()
