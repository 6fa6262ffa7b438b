"""Zone file text and serial numbers, byte-compatible with the reference (DNS.md §6).

The unsigned text is what Mail-in-a-Box writes, so a box moving between the reference daemon
and this tool keeps its serials: identical content means no rewrite and no serial bump.
"""

from __future__ import annotations

import calendar
import hashlib
import re
import time
import urllib.parse
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Final

from core.dns.records import Rec
from core.formats import quote_txt as quote_txt  # re-exported: the zone text's TXT quoting
from core.formats import zone_line, zone_name

SERIAL_PLACEHOLDER: Final = "__SERIAL__"
# DNS.md §6 (v0.51 values: $TTL 1800, retry 1800, negative TTL 1800); the text starts with an
# empty line.
_HEADER: Final = (
    "\n"
    "$ORIGIN {zone}.\n"
    "$TTL 1800           ; default time to live\n"
    "\n"
    "@ IN SOA ns1.{primary}. hostmaster.{primary}. (\n"
    "           __SERIAL__     ; serial number\n"
    "           7200     ; Refresh (secondary nameserver update interval)\n"
    "           1800     ; Retry (when refresh fails, how often to try again)\n"
    "           1209600  ; Expire (when refresh fails, how long secondary nameserver will keep "
    "records around anyway)\n"
    "           1800     ; Negative TTL (how long negative responses are cached)\n"
    "           )\n"
)
_SERIAL_RE: Final = re.compile(r"(\d+)\s*;\s*serial number")
# The reference's test for "signatures about to expire" (DNS.md §6.1 step 4).
_SOA_EXPIRY_RE: Final = re.compile(r"\sRRSIG\s+SOA\s+\d+\s+\d+\s\d+\s+(\d{14})")
RESIGN_WITHIN: Final = 3 * 86400


# File names are at most 255 bytes, and the longest we make is `<name>.txt.signed`.
_ZONE_FILE_STEM_MAX: Final = 255 - len(".txt.signed")


def zone_file_name(zone: str) -> str:
    """DNS.md §1: the zone URL-quoted with no safe characters, plus `.txt`. A zone too long for
    that (a legal name of 245 or more characters) is cut and told apart by a digest of it,
    where the reference fails to write it and so every zone of the box."""
    stem = urllib.parse.quote(zone, safe="")
    if len(stem) > _ZONE_FILE_STEM_MAX:
        digest = hashlib.sha256(zone.encode("utf-8")).hexdigest()[:16]
        stem = stem[: _ZONE_FILE_STEM_MAX - len(digest) - 1] + "-" + digest
    return stem + ".txt"


def render_zone(zone: str, primary_hostname: str, records: Iterable[Rec]) -> str:
    """The unsigned zone text with the serial placeholder still in it.

    Every name and value passes the zone-text validator (core.formats), one record per line.

    Raises:
        FormatError: a value would add a line or a directive, or break the zone's syntax.
    """
    parts = [_HEADER.format(zone=zone_name(zone), primary=zone_name(primary_hostname))]
    parts.extend(zone_line(rec.qname or "", rec.rtype, rec.value) for rec in records)
    return "".join(parts)


def date_serial(now: float) -> str:
    """Today's local date + `00`, as the reference (`datetime.now()`)."""
    return time.strftime("%Y%m%d00", time.localtime(now))


@dataclass(frozen=True, slots=True)
class SerialDecision:
    """Whether a zone must be rewritten, and with which serial."""

    changed: bool
    serial: str


def decide_serial(
    new_text: str, existing_text: str | None, now: float, *, force: bool
) -> SerialDecision:
    """DNS.md §6.1: same content (serial aside) and not forced → unchanged; otherwise the date
    serial, or the existing serial + 1 when that is not lower."""
    serial = date_serial(now)
    if existing_text is not None:
        match = _SERIAL_RE.search(existing_text)
        if match:
            existing_serial = match.group(1)
            without = existing_text.replace(
                match.group(0), SERIAL_PLACEHOLDER + "     ; serial number"
            )
            if without == new_text and not force:
                return SerialDecision(False, existing_serial)
            # Compared as strings, as the reference does.
            if existing_serial >= serial:
                serial = str(int(existing_serial) + 1)
    return SerialDecision(True, serial)


def with_serial(text: str, serial: str) -> str:
    return text.replace(SERIAL_PLACEHOLDER, serial)


def signature_expiry(signed_text: str) -> float | None:
    """Earliest `RRSIG SOA` expiration in a signed zone (UTC seconds), None if there is none."""
    stamps = _SOA_EXPIRY_RE.findall(signed_text)
    if not stamps:
        return None
    # The stamps are UTC (RFC 4034 §3.2); 14 digits compare correctly as strings.
    return float(calendar.timegm(time.strptime(min(stamps), "%Y%m%d%H%M%S")))


def needs_resign(signed_text: str | None, now: float) -> bool:
    """DNS.md §6.1 step 4: no signed file, no SOA signature, or one expiring within 3 days."""
    if signed_text is None:
        return True
    expiry = signature_expiry(signed_text)
    return expiry is None or expiry - now < RESIGN_WITHIN
