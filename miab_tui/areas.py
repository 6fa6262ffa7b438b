"""The areas of the app (one Textual mode each), in navigation order. The number keys open
them: 0 the first (the dashboard), 1 to 9 the next nine (`keyed`)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Final


@dataclass(frozen=True, slots=True)
class Area:
    mode: str
    title: str
    help: str


AREAS: Final = (
    Area("dashboard", "Dashboard", "The status checks, live, by section; the fix for each problem"),
    Area("users", "Users", "Mail users: add, remove, passwords, admin, quotas"),
    Area("aliases", "Aliases", "Mail aliases, catch-alls, domain aliases, permitted senders"),
    Area("domains", "Domains", "Mail domains with their counts of users and aliases"),
    Area("activity", "Activity", "The audit log: who changed what, from which face"),
    Area("mfa", "MFA", "Users' second factors (TOTP): enrol an app, disable methods"),
    Area("dns", "DNS", "Zones, records, custom records, secondary NS, DNSSEC, the DNS update"),
    Area("tls", "TLS", "Certificates: status and expiry, details, CSR, install, provisioning"),
    Area("web", "Web", "Web domains: roots, what is served, certificates, the nginx update"),
    Area("backups", "Backups", "Backups: the chain, settings, back up now, verify, restore"),
    Area("system", "System", "Version and upstream, privacy, package updates, upgrade, reboot"),
)


def keyed() -> Iterator[tuple[str, Area]]:
    """Each area with its number key: "0" for the first, "1" to "9" for the next nine, ""
    (no key) for any after those."""
    for index, area in enumerate(AREAS):
        yield (str(index) if index < 10 else ""), area
