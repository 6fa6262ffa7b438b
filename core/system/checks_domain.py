"""The status checks of each domain's section (SYSTEM.md §5.3), in the reference's words:
the primary hostname's DNS, each zone's nameservers and DNSSEC, each mail domain's MX,
MTA-STS, contact aliases and blocklist, each web domain's address and certificate.

Where v0.51 and HEAD differ, v0.51's texts are kept except for the parts HEAD added (the DS
check with several algorithms, the secondary nameservers' SOA, Spamhaus's return codes). The
SPF, DKIM and DMARC checks are ours: they compare what public DNS says with what the box's
zone publishes.
"""

from __future__ import annotations

import enum
import socket
import ssl
from collections.abc import Callable
from pathlib import Path
from typing import Final

import dns.exception
import dns.rdatatype
import dns.zone

from core.dns.dnssec import ALGORITHMS, read_conf
from core.system.checks_system import alias_exists
from core.system.context import Findings, StatusContext
from core.system.dnsquery import TIMEOUT, normalize_ip
from core.tls.check import OK, SELF_SIGNED, check_certificate

WARN_DAYS: Final = 10  # the reference warns of a certificate expiring within 10 days
HTTPS_TIMEOUT: Final = 5.0
MAX_POLICY_BYTES: Final = 64 * 1024
ALGORITHM_NAMES: Final = {str(number): name for name, number in ALGORITHMS.items()}
DIGEST_NAMES: Final = {"1": "SHA-1", "2": "SHA-256", "4": "SHA-384"}
# HEAD's order of preference for DS records to give the registrar, lowest first; others are
# not offered (RFC 8624).
DS_PREFERENCE: Final = [(7, 2), (8, 4), (13, 4), (8, 2), (13, 2)]

Check = Callable[[StatusContext, Findings, str], None]


def display(domain: str) -> tuple[str, str]:
    """(the domain in Unicode, "" or why it is not a valid IDNA name)."""
    try:
        return domain.encode("ascii").decode("idna"), ""
    except (UnicodeError, ValueError) as exc:
        return domain, str(exc) or "not a valid name"


def check_name(ctx: StatusContext, out: Findings, domain: str) -> None:
    _, problem = display(domain)
    if problem:
        out.error("Domain name is invalid: " + problem)


def _zones_holding(ctx: StatusContext, domain: str) -> list[str]:
    return [z for z in ctx.facts.zones if domain == z or domain.endswith("." + z)]


def _has_ds(ctx: StatusContext, zone: str) -> bool:
    return ctx.dns.query(zone, "DS").text(None) is not None


# --- A. the primary hostname --------------------------------------------------------------------


def check_primary_dnssec(ctx: StatusContext, out: Findings, domain: str) -> None:
    """A DS set for the zone holding the primary hostname is checked first (only a wrong one
    is reported here; the zone's own section says the rest)."""
    zones = _zones_holding(ctx, domain)
    ctx.dns.prefetch(*((zone, "DS") for zone in zones))
    for zone in zones:
        if _has_ds(ctx, zone):
            dnssec(ctx, out, zone, primary=True)


def check_glue(ctx: StatusContext, out: Findings, domain: str) -> None:
    ip = ctx.facts.public_ip
    ctx.dns.prefetch((domain, "A"), ("ns1." + domain, "A"), ("ns2." + domain, "A"))
    address = ctx.dns.text(domain, "A")
    ns_ips = f"{ctx.dns.text('ns1.' + domain, 'A')}/{ctx.dns.text('ns2.' + domain, 'A')}"
    if ns_ips == f"{ip}/{ip}":
        out.ok(f"Nameserver glue records are correct at registrar. [ns1/ns2.{domain} ↦ {ip}]")
    elif address == ip:
        out.warning(
            f"Nameserver glue records (ns1.{domain} and ns2.{domain}) should be configured at "
            f"your domain name registrar as having the IP address of this box ({ip}). They "
            f"currently report addresses of {ns_ips}. If you have set up External DNS, this may "
            "be OK."
        )
    else:
        out.error(
            f"Nameserver glue records are incorrect. The ns1.{domain} and ns2.{domain} "
            "nameservers must be configured at your domain name registrar as having the IP "
            f"address {ip}. They currently report addresses of {ns_ips}. It may take several "
            "hours for public DNS to update after a change."
        )


def _my_ips(ctx: StatusContext) -> str:
    facts = ctx.facts
    return facts.public_ip + (f" / {facts.public_ipv6}" if facts.public_ipv6 else "")


def check_address(ctx: StatusContext, out: Findings, domain: str) -> None:
    facts = ctx.facts
    ctx.dns.prefetch((domain, "A"), (domain, "AAAA"))
    address = ctx.dns.text(domain, "A")
    ipv6 = ctx.dns.text(domain, "AAAA") if facts.public_ipv6 else None
    if address == facts.public_ip and not (ipv6 and ipv6 != normalize_ip(facts.public_ipv6)):
        out.ok(f"Domain resolves to box's IP address. [{domain} ↦ {_my_ips(ctx)}]")
    else:
        out.error(
            f"This domain must resolve to your box's IP address ({_my_ips(ctx)}) in public DNS "
            f"but it currently resolves to {address}"
            + (f" / {ipv6}" if ipv6 is not None else "")
            + ". It may take several hours for public DNS to update after a change. This "
            "problem may result from other issues listed above."
        )


def check_reverse_dns(ctx: StatusContext, out: Findings, domain: str) -> None:
    facts = ctx.facts
    try:
        v4_answer = ctx.dns.reverse(facts.public_ip)
        v4 = v4_answer.text()
    except (dns.exception.DNSException, ValueError):
        v4 = "[Not Set]"
    v6: str | None = None
    if facts.public_ipv6:
        try:
            v6 = ctx.dns.reverse(facts.public_ipv6).text()
        except (dns.exception.DNSException, ValueError):
            v6 = "[Not Set]"
    advice = (
        "Your ISP or cloud provider will have instructions on setting up reverse DNS for your box."
    )
    if v4 == domain and v6 in (None, domain):
        out.ok(f"Reverse DNS is set correctly at ISP. [{_my_ips(ctx)} ↦ {domain}]")
    elif v4 == v6 or v6 is None:
        out.error(f"Your box's reverse DNS is currently {v4}, but it should be {domain}. {advice}")
    else:
        out.error(
            f"Your box's reverse DNS is currently {v4} (IPv4) and {v6} (IPv6), but it should be "
            f"{domain}. {advice}"
        )


def check_tlsa(ctx: StatusContext, out: Findings, domain: str) -> None:
    qname = "_25._tcp." + domain
    zones = _zones_holding(ctx, domain)
    ctx.dns.prefetch((qname, "TLSA"), *((zone, "DS") for zone in zones))
    found = ctx.dns.text(qname, "TLSA", missing=None)
    expected = ctx.facts.tlsa
    if found is not None and found == expected:
        out.ok(f"The DANE TLSA record for incoming mail is correct ({qname}).")
    elif found is None:
        # Without DNSSEC a TLSA record means nothing, so its absence is only worth a word then.
        if any(_has_ds(ctx, zone) for zone in zones):
            out.warning("The DANE TLSA record for incoming mail is not set. This is optional.")
    else:
        out.error(
            f"The DANE TLSA record for incoming mail ({qname}) is not correct. It is '{found}' "
            f"but it should be '{expected}'. It may take several hours for public DNS to update "
            "after a change."
        )


def check_hostmaster(ctx: StatusContext, out: Findings, domain: str) -> None:
    alias_exists(ctx, out, "Hostmaster contact address", "hostmaster@" + domain)


# --- B. DNS zones -------------------------------------------------------------------------------


def check_dnssec(ctx: StatusContext, out: Findings, domain: str) -> None:
    """A DS set at the registrar is checked before the nameservers (it decides whether they
    can be asked at all); none set, it is suggested at the end of the section."""
    if not _has_ds(ctx, domain):
        out.alternate = True
    dnssec(ctx, out, domain, primary=False)


def _public_keys(ctx: StatusContext) -> dict[str, str]:
    """Algorithm number → the base64 public key of its KSK (what a registrar may ask for), as
    the reference reads it: the 4th field of the DNSKEY in the KSK's `.key` file."""

    def read() -> dict[str, str]:
        folder = Path(ctx.dnssec_dir)
        keys: dict[str, str] = {}
        for name, number in ALGORITHMS.items():
            try:
                conf = read_conf(folder / f"{name}.conf")
                line = (folder / (conf["KSK"] + ".key")).read_text("ascii").split(";", 1)[0]
                fields = line.split("DNSKEY", 1)[1].split()
            except (OSError, KeyError, IndexError, UnicodeDecodeError, ValueError):
                continue
            if len(fields) >= 4:
                keys[str(number)] = "".join(fields[3:])
        return keys

    return ctx.memo.get("dnssec public keys", read)


def _expected_ds(ctx: StatusContext, zone: str) -> dict[tuple[str, str, str, str], str] | None:
    """The zone's DS records as the last DNS update wrote them (`<zone file>.ds`): the fields
    → the whole line; None before the zone's first update."""
    name = ctx.facts.zone_files.get(zone)
    if name is None:
        return None
    try:
        text = (Path(ctx.zones_dir) / (name + ".ds")).read_text(encoding="utf-8")
    except OSError:
        return None
    records: dict[tuple[str, str, str, str], str] = {}
    for line in text.splitlines():
        fields = line.rstrip().split("\t")
        if len(fields) != 5:
            continue
        parts = fields[4].split(" ")
        if len(parts) != 4 or parts[1] not in ALGORITHM_NAMES:
            continue
        tag, alg, digest_type, digest = parts
        records[(tag, alg, digest_type, digest.lower())] = line.rstrip()
    return records


def dnssec(ctx: StatusContext, out: Findings, zone: str, *, primary: bool) -> None:
    """HEAD's DS check: the registrar's DS records must include one the box's keys make."""
    expected = _expected_ds(ctx, zone)
    if expected is None:
        return  # not yet updated: there is nothing to compare with
    answer = ctx.dns.query(zone, "DS")
    public = []
    for record in answer.records if answer.found else ():
        fields = record.to_text().split(" ")
        if len(fields) == 4:
            public.append((fields[0], fields[1], fields[2], fields[3].lower()))
    matched = set(public) & set(expected)
    if primary:
        if public and not matched:
            out.error(f"The DNSSEC 'DS' record for {zone} is incorrect. See further details below.")
        return
    if not public:
        out.warning(
            "This domain's DNSSEC DS record is not set. The DS record is optional. The DS record "
            "activates DNSSEC. See below for instructions."
        )
    elif matched:
        offers_13 = any(alg == "13" for _, alg, _, _ in expected)
        if not offers_13 or (
            {r[1] for r in matched} == {"13"} and {r[2] for r in matched} <= {"2", "4"}
        ):
            out.ok("DNSSEC 'DS' record is set correctly at registrar.")
            return
        if any(r[1] == "13" and r[2] in ("2", "4") for r in matched):
            out.ok(
                "DNSSEC 'DS' record is set correctly at registrar. (Records using algorithm "
                "other than ECDSAP256SHA256 and digest types other than SHA-256/384 should be "
                "removed.)"
            )
            return
        out.warning(
            "DNSSEC 'DS' record set at registrar is valid but should be updated to "
            "ECDSAP256SHA256 and SHA-256 (see below). IMPORTANT: Do not delete existing DNSSEC "
            "'DS' records for this domain until confirmation that the new DNSSEC 'DS' record for "
            "this domain is valid."
        )
    else:
        out.error(
            "This domain's DNSSEC DS record is incorrect. The chain of trust is broken between "
            "the public DNS system and this machine's DNS server. It may take several hours for "
            "public DNS to update after a change. If you did not recently make a change, you must "
            "resolve this immediately (see below)."
        )
    _ds_instructions(ctx, out, expected, public)


def _ds_instructions(
    ctx: StatusContext,
    out: Findings,
    expected: dict[tuple[str, str, str, str], str],
    public: list[tuple[str, str, str, str]],
) -> None:
    def preference(key: tuple[str, str, str, str]) -> int:
        pair = (int(key[1]), int(key[2]))
        return DS_PREFERENCE.index(pair) if pair in DS_PREFERENCE else -1

    keys = _public_keys(ctx)
    out.line(
        "Follow the instructions provided by your domain name registrar to set a DS record. "
        "Registrars support different sorts of DS records. Use the first option that works:"
    )
    out.line("")
    offered = [k for k in sorted(expected, key=preference, reverse=True) if preference(k) >= 0]
    for number, key in enumerate(offered, start=1):
        tag, alg, digest_type, digest = key
        out.line("")
        out.line(f"Option {number}:")
        out.line("----------")
        out.line("Key Tag: " + tag)
        out.line("Key Flags: KSK / 257")
        out.line(f"Algorithm: {alg} / {ALGORITHM_NAMES[alg]}")
        out.line(f"Digest Type: {digest_type} / {DIGEST_NAMES.get(digest_type, digest_type)}")
        out.line("Digest: " + digest)
        out.line("Public Key: ")
        out.line(keys.get(alg, ""), monospace=True)
        out.line("")
        out.line("Bulk/Record Format:")
        out.line(expected[key], monospace=True)
    if public:
        out.line("")
        out.line("The DS record is currently set to:")
        for record in sorted(public):
            out.line("Key Tag: {}, Algorithm: {}, Digest Type: {}, Digest: {}".format(*record))


def _correct_ip(ctx: StatusContext, domain: str) -> str:
    """The A value the box publishes for `domain`: its custom A records, else PUBLIC_IP."""
    facts = ctx.facts
    values = sorted(
        facts.public_ip if r.value == "local" else r.value
        for r in facts.custom
        if r.qname == domain and r.rtype == "A"
    )
    return "; ".join(values) or facts.public_ip


def _zone_soa(ctx: StatusContext, zone: str) -> str | None:
    """The SOA the box's nameserver serves for `zone` (from its zone file), as a lookup
    answers it; None when there is no zone file yet or it cannot be read."""
    name = ctx.facts.zone_files.get(zone)
    if name is None:
        return None
    try:
        text = (Path(ctx.zones_dir) / name).read_text(encoding="utf-8")
        parsed = dns.zone.from_text(text, origin=zone + ".", relativize=False, check_origin=False)
        soa = parsed.get_rdataset(zone + ".", dns.rdatatype.SOA)
    except (OSError, dns.exception.DNSException, ValueError, KeyError):
        return None
    if soa is None or not len(soa):
        return None
    return "; ".join(sorted(r.to_text().rstrip(".") for r in soa))


def check_nameservers(ctx: StatusContext, out: Findings, domain: str) -> None:
    facts = ctx.facts
    ctx.dns.prefetch((domain, "NS"), (domain, "A"))
    secondaries = list(facts.secondary_ns)
    correct_ns = "; ".join(
        sorted(["ns1." + facts.primary, *(secondaries or ["ns2." + facts.primary])])
    )
    correct_ip = _correct_ip(ctx, domain)
    existing = ctx.dns.text(domain, "NS") or ""
    address = ctx.dns.text(domain, "A")
    external = False
    if existing.lower() == correct_ns.lower():
        out.ok(f"Nameservers are set correctly at registrar. [{correct_ns}]")
    elif address == correct_ip:
        out.warning(
            f"The nameservers set on this domain at your domain name registrar should be "
            f"{correct_ns}. They are currently {existing}. If you are using External DNS, this "
            "may be OK."
        )
        external = True
    else:
        out.error(
            f"The nameservers set on this domain are incorrect. They are currently {existing}. "
            "Use your domain name registrar's control panel to set the nameservers to "
            f"{correct_ns}."
        )
    if not secondaries or external:
        return
    primary_soa = _zone_soa(ctx, domain)
    ctx.dns.prefetch(*((ns, "A") for ns in secondaries))
    for ns in secondaries:
        ns_answer = ctx.dns.query(ns, "A")
        if not ns_answer.found:
            out.error(
                f"Secondary nameserver {ns} is not valid (it doesn't resolve to an IP address)."
            )
            continue
        ns_ip = ns_answer.values[0]
        at = ctx.dns.query(domain, "A", at=ns_ip)
        got = at.text(None)
        check_soa = primary_soa is not None
        if got == correct_ip:
            out.ok(f"Secondary nameserver {ns} resolved the domain correctly.")
        elif got is None:
            out.error(f"Secondary nameserver {ns} is not configured to resolve this domain.")
            check_soa = False
        elif got == TIMEOUT:
            out.error(f"Secondary nameserver {ns} did not resolve this domain, result: {got}")
            check_soa = False
        else:
            out.error(
                f"Secondary nameserver {ns} is not configured correctly. (It resolved this domain "
                f"as {got}. It should be {correct_ip}.)"
            )
        if check_soa:
            secondary_soa = ctx.dns.query(domain, "SOA", at=ns_ip).text()
            if secondary_soa == primary_soa:
                out.ok(f"Secondary nameserver {ns} has consistent SOA record.")
            elif secondary_soa == "[Not Set]":
                out.error(f"Secondary nameserver {ns} has no SOA record configured.")
            elif secondary_soa == TIMEOUT:
                out.warning(f"Secondary nameserver {ns} timed out on checking SOA record.")
            else:
                out.error(
                    f"Secondary nameserver {ns} has inconsistent SOA record (primary: "
                    f"{primary_soa} versus secondary: {secondary_soa}). Check that "
                    "synchronization between secondary and primary DNS servers is properly "
                    "set-up."
                )


# --- C. mail domains ----------------------------------------------------------------------------


def _mx_host(ctx: StatusContext, domain: str) -> tuple[str | None, str | None]:
    """(the MX answer, the host of its first record), Nones when there is none."""
    mx = ctx.dns.text(domain, "MX", missing=None)
    if mx is None or mx == TIMEOUT:
        return mx, None
    first = mx.split("; ")[0].split(" ")
    return mx, (first[1] if len(first) > 1 else None)


def check_mx(ctx: StatusContext, out: Findings, domain: str) -> None:
    primary = ctx.facts.primary
    recommended = "10 " + primary
    ctx.dns.prefetch((domain, "MX"), (domain, "A"), (primary, "A"))
    mx, host = _mx_host(ctx, domain)
    if host is None:
        if domain == primary:
            out.ok(
                f"Domain's email is directed to this domain. [{domain} has no MX record, which is ok]"
            )
            return
        domain_a = ctx.dns.text(domain, "A", missing=None)
        if domain_a is not None and domain_a == ctx.dns.text(primary, "A", missing=None):
            out.ok(
                "Domain's email is directed to this domain. "
                f"[{domain} has no MX record but its A record is OK]"
            )
        else:
            out.error(
                f"This domain's DNS MX record is not set. It should be '{recommended}'. Mail will "
                "not be delivered to this box. It may take several hours for public DNS to update "
                "after a change. This problem may result from other issues listed here."
            )
    elif host == primary:
        news = f"Domain's email is directed to this domain. [{domain} ↦ {mx}]"
        if mx != recommended:
            news += (
                "  This configuration is non-standard.  The recommended configuration is "
                f"'{recommended}'."
            )
        out.ok(news)
    else:
        out.error(
            f"This domain's DNS MX record is incorrect. It is currently set to '{mx}' but should "
            f"be '{recommended}'. Mail will not be delivered to this box. It may take several "
            "hours for public DNS to update after a change. This problem may result from other "
            "issues listed here."
        )


class STSFetchResult(enum.Enum):
    """The outcomes the reference's MTA-STS resolver names (its messages print them so)."""

    NONE = 0
    VALID = 1
    FETCH_ERROR = 2


def _https_get(host: str, address: str, path: str) -> tuple[int, str, bytes]:
    """(status, content type, body) of `GET https://host/path` at `address`, certificate and
    name verified, redirects not followed, the body read up to MAX_POLICY_BYTES.

    Raises:
        OSError: no connection, a TLS failure, or an answer that is not HTTP.
    """
    context = ssl.create_default_context()
    request = (
        f"GET {path} HTTP/1.0\r\nHost: {host}\r\nUser-Agent: miab-tui\r\nConnection: close\r\n\r\n"
    ).encode("ascii")
    data = b""
    with (
        socket.create_connection((address, 443), timeout=HTTPS_TIMEOUT) as raw,
        context.wrap_socket(raw, server_hostname=host) as tls,
    ):
        tls.sendall(request)
        while len(data) <= MAX_POLICY_BYTES + 8192:
            chunk = tls.recv(16384)
            if not chunk:
                break
            data += chunk
    head, sep, body = data.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status_line = lines[0].split(" ")
    if not sep or len(status_line) < 2 or not status_line[0].startswith("HTTP/"):
        raise OSError("not an HTTP answer")
    headers = {}
    for line in lines[1:]:
        key, _, value = line.partition(":")
        headers[key.strip().lower()] = value.strip()
    if "chunked" in headers.get("transfer-encoding", "").lower():
        raise OSError("a chunked answer to an HTTP/1.0 request")
    try:
        status = int(status_line[1])
    except ValueError:
        raise OSError("not an HTTP status") from None
    return status, headers.get("content-type", ""), body


def parse_policy(text: str) -> dict[str, object]:
    """RFC 8461 §3.2 `key: value` lines; `mx` may repeat (kept as a list, first)."""
    policy: dict[str, object] = {"mx": []}
    for line in text.splitlines():
        key, sep, value = line.rstrip().partition(":")
        if not sep:
            continue
        key, value = key.strip(), value.strip()
        if key == "mx":
            mx = policy["mx"]
            assert isinstance(mx, list)
            mx.append(value)
        else:
            policy[key] = value
    return policy


def fetch_sts_policy(
    ctx: StatusContext, domain: str
) -> tuple[STSFetchResult, dict[str, object] | None, str]:
    """The domain's MTA-STS policy as the reference's resolver judges it: its `_mta-sts` TXT
    record, then `https://mta-sts.<domain>/.well-known/mta-sts.txt`. The last part is a note
    for the admin ("" when there is nothing to add)."""
    answer = ctx.dns.query("_mta-sts." + domain, "TXT")
    if answer.outcome == "timeout":
        return STSFetchResult.FETCH_ERROR, None, "The _mta-sts TXT lookup timed out."
    records = [t for t in answer.txt() if t.startswith("v=STSv1")] if answer.found else []
    if len(records) != 1:
        return STSFetchResult.NONE, None, ""
    fields = dict(
        (k.strip(), v.strip()) for k, _, v in (f.partition("=") for f in records[0].split(";"))
    )
    if fields.get("v") != "STSv1" or not fields.get("id"):
        return STSFetchResult.NONE, None, ""
    host = "mta-sts." + domain
    address_answer = ctx.dns.query(host, "A")
    if not address_answer.found:
        return STSFetchResult.FETCH_ERROR, None, f"{host} does not resolve."
    address = address_answer.values[0]
    if ctx.local and address == ctx.facts.public_ip:
        return (
            STSFetchResult.FETCH_ERROR,
            None,
            "This is a local box: its web server is not run, so the policy was not fetched.",
        )
    try:
        status, content_type, body = _https_get(host, address, "/.well-known/mta-sts.txt")
    except (OSError, ValueError, UnicodeError):
        return STSFetchResult.FETCH_ERROR, None, f"https://{host}/ could not be fetched."
    if (
        status != 200
        or not content_type.lower().startswith("text/plain")
        or len(body) > MAX_POLICY_BYTES
    ):
        return STSFetchResult.FETCH_ERROR, None, f"https://{host}/ gave no policy."
    policy = parse_policy(body.decode("utf-8", "replace"))
    if policy.get("version") != "STSv1":
        return STSFetchResult.FETCH_ERROR, None, ""
    try:
        max_age = int(str(policy.get("max_age", "-1")))
    except ValueError:
        return STSFetchResult.FETCH_ERROR, None, ""
    policy["max_age"] = max_age
    mode = policy.get("mode")
    if not 0 <= max_age <= 31557600 or mode not in ("none", "testing", "enforce"):
        return STSFetchResult.FETCH_ERROR, None, ""
    if mode != "none" and not policy["mx"]:
        return STSFetchResult.FETCH_ERROR, None, ""
    return STSFetchResult.VALID, policy, ""


def check_mta_sts(ctx: StatusContext, out: Findings, domain: str) -> None:
    """Asked only when the domain's mail goes to this box (its first MX is the box)."""
    _, host = _mx_host(ctx, domain)
    if host != ctx.facts.primary:
        return
    result, policy, note = fetch_sts_policy(ctx, domain)
    if result is STSFetchResult.VALID and policy is not None:
        if policy.get("mx") == [ctx.facts.primary] and policy.get("mode") == "enforce":
            out.ok("MTA-STS policy is present.")
        else:
            out.error(f"MTA-STS policy is present but has unexpected settings. [{policy}]")
    else:
        out.error(f"MTA-STS policy is missing: {result}")
        if note:
            out.line(note)


def check_postmaster(ctx: StatusContext, out: Findings, domain: str) -> None:
    if "@" + domain not in ctx.facts.aliases:
        alias_exists(ctx, out, "Postmaster contact address", "postmaster@" + domain)


def check_dbl(ctx: StatusContext, out: Findings, domain: str) -> None:
    """HEAD: the Spamhaus DBL with its return codes read as "could not tell"."""
    name = domain + ".dbl.spamhaus.org"
    answer = ctx.dns.query(name, "A")
    unsure = f"Could not determine whether the domain {domain} is blacklisted."
    if answer.outcome in ("nxdomain", "no-answer"):
        out.ok("Domain is not blacklisted by dbl.spamhaus.org.")
        return
    if answer.outcome == "timeout":
        out.warning(f"Connection to dbl.spamhaus.org timed out. {unsure} Please try again later.")
        return
    if answer.outcome == "no-nameservers":
        out.warning(f"Could not connect to dbl.spamhaus.org. {unsure} Please try again later.")
        return
    code = answer.text()
    if code == "127.255.255.252":
        out.warning(f"Incorrect spamhaus query: {name}. {unsure}")
    elif code == "127.255.255.254":
        out.warning(
            "Mail-in-a-Box is configured to use a public DNS server. This is not supported by "
            f"spamhaus. {unsure}"
        )
    elif code == "127.255.255.255":
        out.warning(f"Too many queries have been performed on the spamhaus server. {unsure}")
    else:
        out.error(
            f"This domain is listed in the Spamhaus Domain Block List (code {code}), which may "
            "prevent recipients from receiving your mail. See http://www.spamhaus.org/dbl/ and "
            f"http://www.spamhaus.org/query/domain/{domain}."
        )


def _published_txt(ctx: StatusContext, qname: str, prefix: str) -> list[str]:
    """The TXT values starting with `prefix` that the box's zone gives `qname`."""
    zones = sorted(_zones_holding(ctx, qname), key=len, reverse=True)
    if not zones:
        return []
    return sorted(
        r.value
        for r in ctx.zone_records(zones[0])
        if r.qname == qname and r.rtype == "TXT" and r.value.startswith(prefix)
    )


def _mail_record(
    ctx: StatusContext, out: Findings, qname: str, label: str, prefix: str, why: str
) -> None:
    expected = _published_txt(ctx, qname, prefix)
    if not expected:
        return  # the box publishes none (a custom record took its place): nothing to compare
    answer = ctx.dns.query(qname, "TXT")
    if answer.outcome == "timeout":
        out.warning(f"The {label} record ({qname}) could not be checked: the lookup timed out.")
        return
    found = sorted(t for t in answer.txt() if t.startswith(prefix)) if answer.found else []
    if found == expected:
        out.ok(f"The {label} record is set correctly. [{qname}]")
        return
    if not found:
        out.warning(f"The {label} record ({qname}) is not set in public DNS. {why}")
    else:
        out.warning(
            f"The {label} record ({qname}) in public DNS is not the one this box publishes. {why}"
        )
        out.line("It is currently:")
        for value in found:
            out.line(value, monospace=True)
    out.line("It should be:")
    for value in expected:
        out.line(value, monospace=True)


def check_spf(ctx: StatusContext, out: Findings, domain: str) -> None:
    _mail_record(
        ctx,
        out,
        domain,
        "SPF",
        "v=spf1 ",
        "Without it, other mail servers may treat mail from this domain as spam.",
    )


def check_dkim(ctx: StatusContext, out: Findings, domain: str) -> None:
    _mail_record(
        ctx,
        out,
        "mail._domainkey." + domain,
        "DKIM",
        "v=DKIM1",
        "Without it, recipients cannot verify that this box sent the domain's mail.",
    )


def check_dmarc(ctx: StatusContext, out: Findings, domain: str) -> None:
    _mail_record(
        ctx,
        out,
        "_dmarc." + domain,
        "DMARC",
        "v=DMARC1",
        "Without it, recipients are not told what to do with mail that fails SPF and DKIM.",
    )


# --- D. web domains -----------------------------------------------------------------------------


def _web_expected(ctx: StatusContext) -> list[tuple[str, str]]:
    facts = ctx.facts
    return [
        (rtype, ip) for rtype, ip in (("A", facts.public_ip), ("AAAA", facts.public_ipv6)) if ip
    ]


def check_web_address(ctx: StatusContext, out: Findings, domain: str) -> None:
    expected = _web_expected(ctx)
    ctx.dns.prefetch(*((domain, rtype) for rtype, _ in expected))
    good = []
    for rtype, ip in expected:
        value = ctx.dns.text(domain, rtype)
        if value != normalize_ip(ip):
            out.error(
                f"This domain should resolve to your box's IP address ({rtype} {ip}) if you would "
                "like the box to serve webmail or a website on this domain. The domain currently "
                f"resolves to {value} in public DNS. It may take several hours for public DNS to "
                "update after a change. This problem may result from other issues listed here."
            )
            return
        good.append(value)
    out.ok(f"Domain resolves to this box's IP address. [{domain} ↦ {'; '.join(good)}]")


def check_tls(ctx: StatusContext, out: Findings, domain: str) -> None:
    """The certificate serving `domain` (the TLS area's choice), checked as the reference's
    status does: skipped when the name does not point here."""
    facts = ctx.facts
    expected = _web_expected(ctx)
    ctx.dns.prefetch(*((domain, rtype) for rtype, _ in expected))
    if domain != facts.primary and any(
        ctx.dns.text(domain, rtype) != normalize_ip(ip) for rtype, ip in expected
    ):
        return  # the address check has said why
    if ctx.dns.text(domain, "A", missing=None) not in (facts.public_ip, None):
        return
    cert = ctx.tls.certificate_for(domain, ctx.inventory)
    if cert is None:
        out.warning(
            "No TLS (SSL) certificate is installed for this domain. Visitors to a website on this "
            "domain will get a security warning. If you are not serving a website on this "
            "domain, you do not need to take any action. Use the TLS Certificates page in the "
            "control panel to install a TLS certificate."
        )
        return
    check = check_certificate(
        domain, cert.chain, cert.key_path, now=ctx.now, warn_days=WARN_DAYS, rounded=ctx.rounded
    )
    if check.verdict == OK:
        out.ok("TLS (SSL) certificate is signed & valid. " + check.info)
    elif check.verdict == SELF_SIGNED:
        if domain == facts.primary:
            out.error(
                "The TLS (SSL) certificate for this domain is currently self-signed. You will get "
                "a security warning when you check or send email and when visiting this domain in "
                "a web browser (for webmail or static site hosting)."
            )
        else:
            out.error("The TLS (SSL) certificate for this domain is self-signed.")
    else:
        out.error("The TLS (SSL) certificate has a problem: " + check.message)
        if check.detail and check.detail not in check.message:
            out.line("")
            out.line(check.detail)
            out.line("")


# --- E. suggestions -----------------------------------------------------------------------------


def check_web_disabled(ctx: StatusContext, out: Findings, domain: str) -> None:
    elsewhere = ctx.facts.elsewhere
    if domain in elsewhere:
        out.warning(
            "Web has been disabled for this domain because you have set a custom DNS record."
        )
    if "www." + domain in elsewhere:
        out.warning(
            f"A redirect from 'www.{domain}' has been disabled for this domain because you have "
            "set a custom DNS record on the www subdomain."
        )
