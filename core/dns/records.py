"""The records the reference generates for each zone (DNS.md §1–§5), as a pure function.

Nothing here reads files or the database: `service.py` gathers the box's facts into a
`ZoneFacts` and `build_zone` turns them into records in the reference's order, so the zone
text (and therefore the serial) is identical to what Mail-in-a-Box would write.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Final, NamedTuple

from core.mail.domains import sort_domains


class Rec(NamedTuple):
    """One record while a zone is built: qname relative to the domain being built (None = its
    apex); `explanation` None marks an internal record (in the zone file, hidden from dumps)."""

    qname: str | None
    rtype: str
    value: str
    explanation: str | None


@dataclass(frozen=True, slots=True)
class DnsRecord:
    """A record as the faces show it (`/dns/dump`): full qname, no trailing dot."""

    qname: str
    rtype: str
    value: str
    explanation: str


@dataclass(frozen=True, slots=True)
class CustomRecord:
    """One entry of `dns/custom.yaml` (STORAGE.md §4.1), in file order."""

    qname: str
    rtype: str
    value: str


@dataclass(frozen=True, slots=True)
class ZoneFacts:
    """Everything about the box that decides its records."""

    primary_hostname: str
    ipv4: str
    ipv6: str  # "" when the box has no public IPv6 (records using it are skipped)
    mail_domains: frozenset[str]  # domains of users and aliases (IDNA)
    user_domains: frozenset[str]  # domains with at least one user
    custom: tuple[CustomRecord, ...]  # without the _secondary_nameserver pseudo record
    secondary_hostnames: tuple[str, ...]  # plain hostnames of the secondary NS setting
    dkim: tuple[str, str] | None  # (qname, value) from mail/dkim/mail.txt
    tlsa: str | None  # `3 1 1 <hex>`
    sshfp: tuple[str, ...]
    mta_sts_policy_domains: frozenset[str] = frozenset()  # mail domains with valid certs
    mta_sts_policy_id: str = ""
    tlsrpt_rua: str = ""

    # Derived once (build_zone consults them for every zone and subdomain).
    dns_domains: tuple[str, ...] = field(init=False)
    zones: tuple[str, ...] = field(init=False)
    www_redirects: frozenset[str] = field(init=False)

    def __post_init__(self) -> None:
        primary = self.primary_hostname
        # DNS.md §1: every mail domain and the primary hostname, in domain-sort order.
        dns_domains = tuple(sort_domains(self.mail_domains | {primary}, primary))
        zones = tuple(dns_zones(dns_domains, primary))
        # `www.ZONE` names the box redirects (SYSTEM.md §2.1): not themselves mail domains or
        # the primary hostname, and not pointed elsewhere by a custom record (DNS.md §4.2).
        served = self.mail_domains | {primary}
        elsewhere = domains_with_a_records_elsewhere(self.custom, self.ipv4)
        www = frozenset(
            w for w in ("www." + z for z in zones) if w not in served and w not in elsewhere
        )
        object.__setattr__(self, "dns_domains", dns_domains)
        object.__setattr__(self, "zones", zones)
        object.__setattr__(self, "www_redirects", www)


def dns_zones(domains: Iterable[str], primary_hostname: str) -> list[str]:
    """DNS.md §1: shortest names first; a name under a chosen zone folds into it."""
    zones: list[str] = []
    for domain in sorted(set(domains), key=len):
        if not any(domain.endswith("." + zone) for zone in zones):
            zones.append(domain)
    return sort_domains(zones, primary_hostname)


def domains_with_a_records_elsewhere(custom: Iterable[CustomRecord], ipv4: str) -> set[str]:
    """DNS.md §10 (v0.51): qnames with a CNAME, or an A/AAAA other than `local`/PUBLIC_IP.

    v0.51 quirk kept: an AAAA equal to PUBLIC_IPV6 also counts as elsewhere."""
    return {
        r.qname
        for r in custom
        if r.rtype == "CNAME" or (r.rtype in ("A", "AAAA") and r.value not in ("local", ipv4))
    }


# Explanations, verbatim from DNS.md §2 (they are shown by /dns/dump and the TUI).
NS_HOST_A: Final = "Required. Sets the IP address of the box."
NS_HOST_AAAA: Final = "Required. Sets the IPv6 address of the box."
TLSA_25: Final = (
    "Recommended when DNSSEC is enabled. Advertises to mail servers connecting to "
    "the box that mandatory encryption should be used."
)
TLSA_443: Final = (
    "Optional. When DNSSEC is enabled, provides out-of-band HTTPS certificate "
    "validation for a few web clients that support it."
)
SSHFP_EXPL: Final = (
    "Optional. Provides an out-of-band method for verifying an SSH key before "
    "connecting. Use 'VerifyHostKeyDNS yes' (or 'VerifyHostKeyDNS ask') when "
    "connecting with ssh."
)
SET_BY_USER: Final = "(Set by user.)"
DAV_EXPL: Final = (
    "Recommended. Specifies the hostname of the server that handles "
    "CardDAV/CalDAV services for email addresses on this domain."
)
AUTODISCOVER_EXPL: Final = (
    "Provides email configuration autodiscovery support for Z-Push ActiveSync Autodiscover."
)
AUTOCONFIG_EXPL: Final = (
    "Provides email configuration autodiscovery support for Thunderbird Autoconfig."
)
MTA_STS_HOST_EXPL: Final = "Optional. MTA-STS Policy Host serving /.well-known/mta-sts.txt."
MTA_STS_TXT_EXPL: Final = (
    "Optional. Part of the MTA-STS policy for incoming mail. If set, a "
    "MTA-STS policy must also be published."
)
TLSRPT_EXPL: Final = "Optional. Enables MTA-STS reporting."


def _default_a(domain: str) -> str:
    return (
        f"Required. May have a different value. Sets the IP address that {domain} resolves "
        "to for web hosting and other services besides mail. The A record must be present "
        "but its value does not affect mail delivery."
    )


def _default_aaaa(domain: str) -> str:
    return (
        f"Optional. Sets the IPv6 address that {domain} resolves to, e.g. for web hosting. "
        "(It is not necessary for receiving mail on this domain.)"
    )


def _www(domain: str, family: str) -> str:
    return (
        f"Optional. Sets the {family} address that www.{domain} resolves to so that the box "
        "can provide a redirect to the parent domain."
    )


def _no_mail_spf(fqdn: str) -> str:
    return (
        "Recommended. Prevents use of this domain name for outbound mail by specifying that "
        f"no servers are valid sources for mail from @{fqdn}. If you do send email from this "
        "domain name you should either override this record such that the SPF rule does "
        "allow the originating server, or, take the recommended approach and have the box "
        "handle mail for this domain (simply add any receiving alias at this domain name to "
        "make this machine treat the domain name as one of its mail domains)."
    )


def _no_mail_dmarc(fqdn: str) -> str:
    return (
        "Recommended. Prevents use of this domain name for outbound mail by specifying that "
        f"the SPF rule should be honoured for mail from @{fqdn}."
    )


def custom_for(domain: str, custom: Iterable[CustomRecord]) -> list[tuple[str | None, str, str]]:
    """DNS.md §4.1: custom records at or under `domain`, qname made relative."""
    out: list[tuple[str | None, str, str]] = []
    suffix = "." + domain
    for rec in custom:
        if rec.qname == domain:
            out.append((None, rec.rtype, rec.value))
        elif rec.qname.endswith(suffix):
            out.append((rec.qname[: -len(suffix)], rec.rtype, rec.value))
    return out


class _Has:
    """`has_rec` of the reference: looks at a pinned snapshot, or at the live list."""

    def __init__(self, records: Sequence[Rec]) -> None:
        self.records = records

    def __call__(self, qname: str | None, rtype: str, prefix: str | None = None) -> bool:
        return any(
            r.qname == qname and r.rtype == rtype and (prefix is None or r.value.startswith(prefix))
            for r in self.records
        )


def build_zone(domain: str, facts: ZoneFacts, *, is_zone: bool = True) -> list[Rec]:
    """The records of `domain` in the reference's order (DNS.md §2 steps 1–14).

    The order of the steps matters: each default is only added when the records made before
    it (custom ones included) do not already cover it (DNS.md §4).
    """
    primary, ip4, ip6 = facts.primary_hostname, facts.ipv4, facts.ipv6
    records: list[Rec] = []

    # 1. NS (zones only); custom secondary hostnames replace the default ns2.
    if is_zone:
        records.append(Rec(None, "NS", f"ns1.{primary}.", None))
        for host in facts.secondary_hostnames or (f"ns2.{primary}",):
            # A hostname given with its final dot keeps one (the reference wrote `host..`).
            records.append(Rec(None, "NS", host.rstrip(".") + ".", None))

    # 2. The primary hostname's own records, early so custom records cannot override them.
    if domain == primary:
        records.append(Rec("ns1", "A", ip4, None))
        records.append(Rec("ns2", "A", ip4, None))
        if ip6:
            records.append(Rec("ns1", "AAAA", ip6, None))
            records.append(Rec("ns2", "AAAA", ip6, None))
        records.append(Rec(None, "A", ip4, NS_HOST_A))
        if ip6:
            records.append(Rec(None, "AAAA", ip6, NS_HOST_AAAA))
        if facts.tlsa:
            records.append(Rec("_25._tcp", "TLSA", facts.tlsa, TLSA_25))
            records.append(Rec("_443._tcp", "TLSA", facts.tlsa, TLSA_443))
        for value in facts.sshfp:
            records.append(Rec(None, "SSHFP", value, SSHFP_EXPL))

    # 3. Subdomains' records, re-rooted (zones only; no deeper recursion).
    if is_zone:
        suffix = "." + domain
        for sub in facts.dns_domains:
            if not sub.endswith(suffix):
                continue
            label = sub[: -len(suffix)]
            for child in build_zone(sub, facts, is_zone=False):
                rerooted = label if child.qname is None else f"{child.qname}.{label}"
                records.append(child._replace(qname=rerooted))

    # 4. Custom records, unless the same qname+rtype existed before this step.
    has = _Has(list(records))
    for qname, rtype, value in custom_for(domain, facts.custom):
        if has(qname, rtype):
            continue
        if rtype == "A" and value == "local":
            value = ip4
        if rtype == "AAAA" and value == "local":
            if not ip6:
                continue
            value = ip6
        records.append(Rec(qname, rtype, value, SET_BY_USER))

    # 5. Default A/AAAA, judged against the records before this step (DNS.md §4.2).
    has = _Has(list(records))
    defaults: list[Rec] = [
        Rec(None, "A", ip4, _default_a(domain)),
        Rec(None, "AAAA", ip6, _default_aaaa(domain)),
    ]
    if is_zone and "www." + domain in facts.www_redirects:
        defaults += [
            Rec("www", "A", ip4, _www(domain, "IP")),
            Rec("www", "AAAA", ip6, _www(domain, "IPv6")),
        ]
    for rec in defaults:
        if not rec.value.strip():
            continue
        if (
            not has(rec.qname, rec.rtype)
            and not has(rec.qname, "CNAME")
            and not has(rec.qname, "A")
        ):
            records.append(rec)

    # From here on the reference checks against the live list.
    has = _Has(records)

    # 6.–9. MX, SPF, DKIM, DMARC.
    if not has(None, "MX", prefix="10 "):
        records.append(
            Rec(
                None,
                "MX",
                f"10 {primary}.",
                "Required. Specifies the hostname (and priority) of the machine that "
                f"handles @{domain} mail.",
            )
        )
    if not has(None, "TXT", prefix="v=spf1 "):
        records.append(
            Rec(
                None,
                "TXT",
                "v=spf1 mx -all",
                f"Recommended. Specifies that only the box is permitted to send @{domain} mail.",
            )
        )
    if facts.dkim is not None:
        dkim_qname, dkim_value = facts.dkim
        if not has(dkim_qname, "TXT", prefix="v=DKIM1; "):
            records.append(
                Rec(
                    dkim_qname,
                    "TXT",
                    dkim_value,
                    "Recommended. Provides a way for recipients to verify that this "
                    f"machine sent @{domain} mail.",
                )
            )
    if not has("_dmarc", "TXT", prefix="v=DMARC1; "):
        records.append(
            Rec(
                "_dmarc",
                "TXT",
                "v=DMARC1; p=quarantine",
                "Recommended. Specifies that mail that does not originate from the "
                f"box but claims to be from @{domain} or which does not have a valid "
                "DKIM signature is suspect and should be quarantined by the "
                "recipient's mail system.",
            )
        )

    # 10. No-mail policy for every other resolvable name (before steps 11–13, DNS.md §2 note).
    resolvable = list(dict.fromkeys(r.qname for r in records if r.rtype in ("A", "AAAA")))
    for qname in resolvable:
        fqdn = f"{qname}.{domain}" if qname else domain
        if not has(qname, "TXT", prefix="v=spf1 "):
            records.append(Rec(qname, "TXT", "v=spf1 -all", _no_mail_spf(fqdn)))
        dmarc_qname = "_dmarc" + ("" if qname is None else "." + qname)
        if not has(dmarc_qname, "TXT", prefix="v=DMARC1; "):
            records.append(Rec(dmarc_qname, "TXT", "v=DMARC1; p=reject", _no_mail_dmarc(fqdn)))

    has_users = domain in facts.user_domains
    # 11. CardDAV/CalDAV SRV.
    if domain != primary and has_users:
        for dav in ("card", "cal"):
            dav_qname = f"_{dav}davs._tcp"
            if not has(dav_qname, "SRV"):
                records.append(Rec(dav_qname, "SRV", f"0 0 443 {primary}.", DAV_EXPL))

    # 12. Autoconfiguration hosts.
    if has_users:
        for host, rtype, value, expl in (
            ("autodiscover", "A", ip4, AUTODISCOVER_EXPL),
            ("autodiscover", "AAAA", ip6, AUTODISCOVER_EXPL),
            ("autoconfig", "A", ip4, AUTOCONFIG_EXPL),
            ("autoconfig", "AAAA", ip6, AUTOCONFIG_EXPL),
        ):
            if value.strip() and not has(host, rtype):
                records.append(Rec(host, rtype, value, expl))

    # 13. MTA-STS.
    mta_sts = [
        Rec("mta-sts", "A", ip4, MTA_STS_HOST_EXPL),
        Rec("mta-sts", "AAAA", ip6, MTA_STS_HOST_EXPL),
    ]
    if domain in facts.mail_domains and domain in facts.mta_sts_policy_domains:
        mta_sts.append(
            Rec("_mta-sts", "TXT", "v=STSv1; id=" + facts.mta_sts_policy_id, MTA_STS_TXT_EXPL)
        )
        if facts.tlsrpt_rua and not has("_smtp._tls", "TXT", prefix="v=TLSRPTv1;"):
            mta_sts.append(
                Rec("_smtp._tls", "TXT", "v=TLSRPTv1; rua=" + facts.tlsrpt_rua, TLSRPT_EXPL)
            )
    for rec in mta_sts:
        if rec.value.strip() and not has(rec.qname, rec.rtype):
            records.append(rec)

    # 14. Apex first (the zone file needs it), then by reversed labels; stable otherwise.
    records.sort(key=lambda r: [] if r.qname is None else list(reversed(r.qname.split("."))))
    return records


_DUMP_RANK: Final = (("Required.", 0), ("Recommended.", 1))


def dump_records(zone: str, records: Iterable[Rec]) -> tuple[DnsRecord, ...]:
    """BEHAVIOUR.md §4.8: visible records with full qnames, `Required.` first, then
    `Recommended.`, then the rest (stable otherwise)."""
    visible = [
        DnsRecord(zone if r.qname is None else f"{r.qname}.{zone}", r.rtype, r.value, r.explanation)
        for r in records
        if r.explanation is not None
    ]

    def rank(rec: DnsRecord) -> int:
        for prefix, value in _DUMP_RANK:
            if rec.explanation.startswith(prefix):
                return value
        return 2

    return tuple(sorted(visible, key=rank))
