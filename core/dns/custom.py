"""Custom DNS records: `dns/custom.yaml` (STORAGE.md §4.1) and their rules (BEHAVIOUR.md §4.7).

Reading and writing keep the reference's format so a box's file stays readable by the
reference daemon. Validation gives the reference's messages, then goes further: every value
must parse as its record type (dnspython's rdata parser), so a typo is refused at once
instead of breaking the zone at the next update.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Final, Literal, NoReturn

import dns.exception
import dns.rdata
import dns.rdataclass
import dns.rdatatype
import yaml

from core.dns.records import CustomRecord
from core.errors import ValidationError
from core.formats import DNS_NAME_RE, FormatError, yaml_document, zone_rdata

Action = Literal["add", "set", "remove"]
RecordType = Literal["A", "AAAA", "CAA", "CNAME", "MX", "NS", "SRV", "SSHFP", "TXT"]

SECONDARY_NS_QNAME: Final = "_secondary_nameserver"
RECORD_TYPES: Final = ("A", "AAAA", "CAA", "CNAME", "MX", "NS", "SRV", "SSHFP", "TXT")

# DNS.md §5, verbatim: names for qnames and CNAME/NS targets (matched whole: its `$` alone
# would let a final newline through).
NAME_RE: Final = DNS_NAME_RE

# Our addition: what each free-text type must look like, for the refusal message.
_FORMS: Final = {
    "MX": "PRIORITY HOST., e.g. 10 mx.example.com.",
    "SRV": "PRIORITY WEIGHT PORT TARGET., e.g. 0 0 443 box.example.com.",
    "CAA": 'FLAGS TAG "VALUE", e.g. 0 issue "letsencrypt.org"',
    "SSHFP": "ALGORITHM TYPE FINGERPRINT, e.g. 4 2 0F3A…9C (hexadecimal)",
    "TXT": "printable text",
}
SCOPE_ID_MESSAGE: Final = (
    "An IPv6 address with a zone index (the part from %) cannot be published in DNS."
)
# One record's data is at most 65535 bytes; each 255-byte TXT chunk costs one length byte.
TXT_MAX_CHARS: Final = 65535 - 65535 // 256 - 1


@dataclass(frozen=True, slots=True)
class CustomFile:
    """What `custom.yaml` holds: records in file order, the secondary NS setting, and the
    entries that could not be read (the reference would crash on them; we skip and report)."""

    records: tuple[CustomRecord, ...]  # including the _secondary_nameserver pseudo record
    problems: tuple[str, ...] = ()

    @property
    def real_records(self) -> tuple[CustomRecord, ...]:
        return tuple(r for r in self.records if r.qname != SECONDARY_NS_QNAME)


def parse_custom_yaml(text: str) -> CustomFile:
    """STORAGE.md §4.1 read rules: short form `name: value` is one A record; a mapping gives
    one record per value. Unreadable or not a mapping → no records."""
    try:
        loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
        data = yaml.load(text, Loader=loader)  # noqa: S506 - a safe loader
    except yaml.YAMLError:
        return CustomFile((), ("dns/custom.yaml is not valid YAML; custom records ignored.",))
    if not isinstance(data, dict):
        return CustomFile(())
    records: list[CustomRecord] = []
    problems: list[str] = []
    for qname, value in data.items():
        if isinstance(value, str):
            records.append(CustomRecord(str(qname), "A", value))
            continue
        if not isinstance(value, dict):
            problems.append(
                f"dns/custom.yaml: the entry for {qname} is not a value or a mapping; skipped."
            )
            continue
        for rtype, values in value.items():
            items = values if isinstance(values, list) else [values]
            for item in items:
                if isinstance(item, str):
                    records.append(CustomRecord(str(qname), str(rtype), item))
                else:
                    problems.append(
                        f"dns/custom.yaml: a {rtype} value of {qname} is not text; skipped."
                    )
    return CustomFile(tuple(records), tuple(problems))


def read_custom_file(path: Path) -> CustomFile:
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        return CustomFile(())
    return parse_custom_yaml(text)


class _Dumper(yaml.SafeDumper):  # type: ignore[misc,unused-ignore]
    """Block style as rtyaml writes it; long values stay on one line."""


def render_custom_yaml(records: Iterable[CustomRecord]) -> str:
    """STORAGE.md §4.1 write rules: qnames in first-seen order; a qname whose only record is an
    A record uses the short form; otherwise rtype → value (one) or list (several)."""
    by_qname: dict[str, list[CustomRecord]] = {}
    for rec in records:
        by_qname.setdefault(rec.qname, []).append(rec)
    data: dict[str, object] = {}
    for qname, recs in by_qname.items():
        if len(recs) == 1 and recs[0].rtype == "A":
            data[qname] = recs[0].value
            continue
        by_rtype: dict[str, list[str]] = {}
        for rec in recs:
            by_rtype.setdefault(rec.rtype, []).append(rec.value)
        data[qname] = {
            rtype: values[0] if len(values) == 1 else values for rtype, values in by_rtype.items()
        }
    if not data:
        return "{}\n"
    return yaml_document(data, _dump)


def _dump(data: object) -> str:
    text: str = yaml.dump(
        data,
        Dumper=_Dumper,
        default_flow_style=False,
        sort_keys=False,
        allow_unicode=True,
        width=1 << 30,
    )
    return text


def normalize_qname(qname: str) -> str:
    """Strip, lower-case and IDNA-encode a name typed by the admin (DNS names are
    case-insensitive, zones are stored in IDNA)."""
    qname = qname.strip()
    if qname == SECONDARY_NS_QNAME:
        return qname
    try:
        return (
            qname.encode("idna").decode("ascii").lower() if not qname.isascii() else qname.lower()
        )
    except UnicodeError:
        return qname


def zone_of(qname: str, zones: Sequence[str]) -> str | None:
    """The managed zone at or above `qname` (BEHAVIOUR.md §4.7 rule 1)."""
    for zone in zones:
        if qname == zone or qname.endswith("." + zone):
            return zone
    return None


def validate_record(
    qname: str, rtype: str, value: str | None, zones: Sequence[str]
) -> tuple[str, str | None]:
    """Check one custom record as the reference does (BEHAVIOUR.md §4.7), in its order, then
    check the value's syntax for its type. Returns the normalised (rtype, value).

    Raises:
        ValidationError: with the reference's message, or ours for a malformed value.
    """
    rtype = rtype.strip().upper()
    zone = zone_of(qname, zones)
    if zone is None and qname != SECONDARY_NS_QNAME:
        raise ValidationError(
            f"{qname} is not a domain name or a subdomain of a domain name managed by this box.",
            field="qname",
        )
    if value is None or qname == SECONDARY_NS_QNAME:
        return rtype, value
    if not NAME_RE.fullmatch(qname):
        raise ValidationError("Invalid name.", field="qname")
    if rtype in ("A", "AAAA"):
        if value != "local":
            try:
                address = ipaddress.ip_address(value)
            except ValueError as exc:
                raise ValidationError(str(exc), field="value") from None
            if rtype == "A" and not isinstance(address, ipaddress.IPv4Address):
                raise ValidationError("That's an IPv6 address.", field="value")
            if rtype == "AAAA" and not isinstance(address, ipaddress.IPv6Address):
                raise ValidationError("That's an IPv4 address.", field="value")
            if "%" in value or getattr(address, "scope_id", None) is not None:
                # Ours: ipaddress accepts `fe80::1%eth0` (and any text after the %); no zone
                # file can hold it, so the zone would stop updating.
                raise ValidationError(SCOPE_ID_MESSAGE, field="value")
    elif rtype in ("CNAME", "NS"):
        if rtype == "NS" and qname == zone:
            raise ValidationError("NS records can only be set for subdomains.", field="qname")
        if not value.endswith("."):
            value += "."
        if not NAME_RE.fullmatch(value):
            raise ValidationError("Invalid value.", field="value")
    elif rtype in ("TXT", "SRV", "MX", "SSHFP", "CAA"):
        check_value_syntax(rtype, value)
    else:
        raise ValidationError(f"Unknown record type '{rtype}'.", field="rtype")
    return rtype, value


def check_value_syntax(rtype: str, value: str) -> None:
    """Our addition to the reference (which accepts any text for these types): the value must
    be valid zone-file data for `rtype`, and host names in it must be absolute.

    Raises:
        ValidationError: `Invalid MX value '...': use PRIORITY HOST., e.g. ... (detail)`.
    """
    if not value.isprintable():
        _refuse(rtype, value, "control characters are not allowed")
    if rtype == "TXT" and len(value) > TXT_MAX_CHARS:
        _refuse(rtype, value, f"longer than {TXT_MAX_CHARS} characters")
    try:
        # The zone-text validator: one line, nothing opened and left open, no comment.
        text = zone_rdata(rtype, value)
    except FormatError as exc:
        _refuse(rtype, value, str(exc))
    try:
        rdata = dns.rdata.from_text(
            dns.rdataclass.IN, dns.rdatatype.from_text(rtype), text, origin=None, relativize=False
        )
    except dns.exception.DNSException as exc:
        _refuse(rtype, value, str(exc) or type(exc).__name__)
    except ValueError as exc:
        _refuse(rtype, value, str(exc))
    target = getattr(rdata, "exchange", None) or getattr(rdata, "target", None)
    if target is not None and not target.is_absolute():
        _refuse(rtype, value, f"the host name must end with a dot ({target}.)")


def _refuse(rtype: str, value: str, detail: str) -> NoReturn:
    # A refused 70,000-character TXT value should not come back whole in the message, nor a
    # control character at all (shown escaped).
    shown = value if len(value) <= 80 else value[:60] + f"… ({len(value)} characters)"
    shown = "".join(c if c.isprintable() else repr(c)[1:-1] for c in shown)
    raise ValidationError(
        f"Invalid {rtype} value '{shown}': use {_FORMS[rtype]} ({detail}).", field="value"
    )


def apply_action(
    records: Sequence[CustomRecord], qname: str, rtype: str, value: str | None, action: Action
) -> tuple[list[CustomRecord], bool]:
    """The reference's edit of the record list (`set_custom_dns_record`): returns the new list
    and whether anything changed. `add` of an existing record and `remove` of a missing one
    change nothing; `set` replaces every value of qname+rtype; `remove` with no value drops
    all values of qname+rtype."""
    new: list[CustomRecord] = []
    changed = False
    needs_add = True
    for rec in records:
        same_key = rec.qname == qname and rec.rtype == rtype
        if action == "add":
            if same_key and rec.value == value:
                return list(records), False
        elif action == "set":
            if same_key:
                if rec.value == value:
                    needs_add = False
                else:
                    changed = True
                    continue
        elif same_key and (value is None or rec.value == value):
            changed = True
            continue
        new.append(rec)
    if action in ("add", "set") and needs_add and value is not None:
        new.append(CustomRecord(qname, rtype, value))
        changed = True
    return new, changed
