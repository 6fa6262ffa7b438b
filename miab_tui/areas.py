"""The areas of the app (one Textual mode each), in navigation order."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final


@dataclass(frozen=True, slots=True)
class Area:
    mode: str
    title: str
    help: str


AREAS: Final = (
    Area("users", "Users", "Mail users: add, remove, passwords, admin, quotas"),
    Area("aliases", "Aliases", "Mail aliases, catch-alls, domain aliases, permitted senders"),
    Area("domains", "Domains", "Mail domains with their counts of users and aliases"),
    Area("activity", "Activity", "The audit log: who changed what, from which face"),
    Area("mfa", "MFA", "Users' second factors (TOTP): enrol an app, disable methods"),
    Area("dns", "DNS", "Zones, records, custom records, secondary NS, DNSSEC, the DNS update"),
    Area("tls", "TLS", "Certificates: status and expiry, details, CSR, install, provisioning"),
)
