"""Mail domains and the reference's domain sort order (BEHAVIOUR.md §6)."""

from __future__ import annotations

from collections.abc import Iterable


def sort_domains(domains: Iterable[str], primary_hostname: str) -> list[str]:
    """Order domain names as the reference's listings do.

    Names group under their zone (the shortest listed name they end with); the zone holding the
    primary hostname comes first, the others lexicographically; within a zone the primary
    hostname, then its subdomains, then by reversed labels.
    """
    names = list(dict.fromkeys(domains))
    zone_of: dict[str, str] = {}
    zones: list[str] = []
    for name in sorted(names, key=len):
        for zone in zones:
            if name.endswith("." + zone):
                zone_of[name] = zone
                break
        else:
            zone_of[name] = name
            zones.append(name)
    ordered_zones = sorted(
        zones, key=lambda z: (not (z == primary_hostname or primary_hostname.endswith("." + z)), z)
    )
    zone_rank = {zone: i for i, zone in enumerate(ordered_zones)}
    return sorted(
        names,
        key=lambda d: (
            zone_rank[zone_of[d]],
            d != primary_hostname,
            not d.endswith("." + primary_hostname),
            list(reversed(d.split("."))),
        ),
    )


def sort_email_addresses(addresses: Iterable[str], primary_hostname: str) -> list[str]:
    """Order addresses by the domain sort, then by address within a domain."""
    by_domain: dict[str, list[str]] = {}
    for address in addresses:
        by_domain.setdefault(address.rpartition("@")[2], []).append(address)
    result: list[str] = []
    for domain in sort_domains(by_domain, primary_hostname):
        result.extend(sorted(by_domain[domain]))
    return result
