"""The DNS area: zones, records, custom records, secondary nameservers, DNSSEC, nsd/OpenDKIM.

Faces use `box.dns` (a `DnsService`); the other modules are the pieces it is made of.
"""

from core.dns.custom import RECORD_TYPES
from core.dns.dnssec import SELECTABLE as DNSSEC_ALGORITHMS
from core.dns.records import CustomRecord, DnsRecord
from core.dns.service import DnsService, DsRecord, FileDiff, Zone

__all__ = [
    "DNSSEC_ALGORITHMS",
    "RECORD_TYPES",
    "CustomRecord",
    "DnsRecord",
    "DnsService",
    "DsRecord",
    "FileDiff",
    "Zone",
]
