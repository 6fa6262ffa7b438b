"""Which zones exist and which records each gets (DNS.md §1–§4, BEHAVIOUR.md §4.8)."""

from __future__ import annotations

from core import Box
from core.dns.records import (
    CustomRecord,
    Rec,
    ZoneFacts,
    build_zone,
    dns_zones,
    dump_records,
)
from tests.conftest import TEST_ACTOR
from tests.core.dns.conftest import ADMIN, PASSWORD, write_ssh_keys

P = "box.example.com"
DKIM = ("mail._domainkey", "v=DKIM1; h=sha256; k=rsa; s=email; p=KEY")


def facts(
    mail: set[str],
    users: set[str] | None = None,
    *,
    ipv6: str = "2001:db8::10",
    custom: tuple[CustomRecord, ...] = (),
    secondary: tuple[str, ...] = (),
) -> ZoneFacts:
    return ZoneFacts(
        primary_hostname=P,
        ipv4="192.0.2.10",
        ipv6=ipv6,
        mail_domains=frozenset(mail),
        user_domains=frozenset(users or set()),
        custom=custom,
        secondary_hostnames=secondary,
        dkim=DKIM,
        tlsa="3 1 1 abcd",
        sshfp=("4 2 ( AB )",),
    )


def keyed(records: list[Rec]) -> list[tuple[str | None, str, str]]:
    return [(r.qname, r.rtype, r.value) for r in records]


def test_zones_fold_subdomains_and_sort_primary_first() -> None:
    assert dns_zones(["sub.example.com", P, "example.com", "b.org", "a.net"], P) == [
        "example.com",
        "a.net",
        "b.org",
    ]
    f = facts({"example.com", "sub.example.com", "other.org"})
    assert f.zones == ("example.com", "other.org")


def test_primary_hostname_as_its_own_zone() -> None:
    records = build_zone(P, facts({P}))
    assert keyed(records) == [
        (None, "NS", f"ns1.{P}."),
        (None, "NS", f"ns2.{P}."),
        (None, "A", "192.0.2.10"),
        (None, "AAAA", "2001:db8::10"),
        (None, "SSHFP", "4 2 ( AB )"),
        (None, "MX", f"10 {P}."),
        (None, "TXT", "v=spf1 mx -all"),
        ("_dmarc", "TXT", "v=DMARC1; p=quarantine"),
        ("mail._domainkey", "TXT", DKIM[1]),
        ("_25._tcp", "TLSA", "3 1 1 abcd"),
        ("_443._tcp", "TLSA", "3 1 1 abcd"),
        ("mta-sts", "A", "192.0.2.10"),
        ("mta-sts", "AAAA", "2001:db8::10"),
        ("ns1", "A", "192.0.2.10"),
        ("ns1", "AAAA", "2001:db8::10"),
        ("ns1", "TXT", "v=spf1 -all"),
        ("_dmarc.ns1", "TXT", "v=DMARC1; p=reject"),
        ("ns2", "A", "192.0.2.10"),
        ("ns2", "AAAA", "2001:db8::10"),
        ("ns2", "TXT", "v=spf1 -all"),
        ("_dmarc.ns2", "TXT", "v=DMARC1; p=reject"),
        # The zone's www redirect (SYSTEM.md §2.1).
        ("www", "A", "192.0.2.10"),
        ("www", "AAAA", "2001:db8::10"),
        ("www", "TXT", "v=spf1 -all"),
        ("_dmarc.www", "TXT", "v=DMARC1; p=reject"),
    ]
    by_key = {(r.qname, r.rtype): r.explanation for r in records}
    assert by_key[(None, "A")] == "Required. Sets the IP address of the box."
    assert by_key[("ns1", "A")] is None and by_key[(None, "NS")] is None
    assert by_key[("_25._tcp", "TLSA")].startswith("Recommended when DNSSEC is enabled.")


def test_mail_domain_with_users_and_primary_inside() -> None:
    f = facts({"example.com", P}, {"example.com"})
    records = build_zone("example.com", f)
    keys = keyed(records)
    # Defaults of a mail domain with users, www redirect, autoconfig, DAV SRV.
    for expected in [
        (None, "MX", f"10 {P}."),
        ("_carddavs._tcp", "SRV", f"0 0 443 {P}."),
        ("_caldavs._tcp", "SRV", f"0 0 443 {P}."),
        ("autoconfig", "A", "192.0.2.10"),
        ("autodiscover", "AAAA", "2001:db8::10"),
        ("www", "A", "192.0.2.10"),
        ("www", "TXT", "v=spf1 -all"),
        ("_dmarc.www", "TXT", "v=DMARC1; p=reject"),
        ("box", "A", "192.0.2.10"),
        ("box", "MX", f"10 {P}."),
        ("mail._domainkey.box", "TXT", DKIM[1]),
        ("ns1.box", "TXT", "v=spf1 -all"),
        ("mta-sts.box", "TXT", "v=spf1 -all"),
        ("_25._tcp.box", "TLSA", "3 1 1 abcd"),
    ]:
        assert expected in keys
    # DNS.md §2 ordering note: names created by steps 11–13 of this build get no SPF.
    assert ("autoconfig", "TXT", "v=spf1 -all") not in keys
    assert ("mta-sts", "TXT", "v=spf1 -all") not in keys
    # Apex first, then by reversed labels.
    assert [r.qname for r in records[:6]] == [None] * 6 and records[6].qname is not None
    assert keys.index(("box", "A", "192.0.2.10")) < keys.index(("ns1.box", "A", "192.0.2.10"))
    expl = {(r.qname, r.rtype): r.explanation for r in records}
    assert expl[(None, "A")].startswith(
        "Required. May have a different value. Sets the IP address that example.com resolves to"
    )
    assert expl[("www", "AAAA")] == (
        "Optional. Sets the IPv6 address that www.example.com "
        "resolves to so that the box can provide a redirect to "
        "the parent domain."
    )
    assert expl[("autoconfig", "A")] == (
        "Provides email configuration autodiscovery support for Thunderbird Autoconfig."
    )


def test_alias_only_domain_has_no_srv_or_autoconfig() -> None:
    keys = keyed(build_zone("example.net", facts({"example.net"})))
    assert not any(q in ("autoconfig", "_carddavs._tcp") for q, _, _ in keys)
    assert ("mta-sts", "A", "192.0.2.10") in keys


def test_no_ipv6_means_no_aaaa() -> None:
    records = build_zone(P, facts({P}, ipv6=""))
    assert not [r for r in records if r.rtype == "AAAA"]


def test_subdomain_mail_domain_folds_into_zone() -> None:
    f = facts({"example.com", "sub.example.com"}, {"sub.example.com"})
    keys = keyed(build_zone("example.com", f))
    assert ("sub", "MX", f"10 {P}.") in keys
    assert ("_carddavs._tcp.sub", "SRV", f"0 0 443 {P}.") in keys
    # Subdomain builds make no www of their own.
    assert ("www.sub", "A", "192.0.2.10") not in keys


def test_secondary_nameservers_replace_ns2() -> None:
    keys = keyed(
        build_zone("example.com", facts({"example.com"}, secondary=("ns2.hosting.example",)))
    )
    assert [k for k in keys if k[1] == "NS"] == [
        (None, "NS", f"ns1.{P}."),
        (None, "NS", "ns2.hosting.example."),
    ]


def rec(qname: str, rtype: str, value: str) -> CustomRecord:
    return CustomRecord(qname, rtype, value)


def test_custom_records_merge_rules() -> None:
    custom = (
        rec("example.com", "MX", "20 backup.example.net."),
        rec("example.com", "TXT", "v=spf1 include:_spf.example.net -all"),
        rec("example.com", "TXT", "google-site-verification=abc"),
        rec("blog.example.com", "A", "local"),
        rec("v6.example.com", "AAAA", "local"),
        rec("www.example.com", "A", "198.51.100.7"),
        rec(P, "A", "198.51.100.99"),
        rec(f"ns1.{P}", "A", "198.51.100.98"),
        rec("example.com", "NS", "ns9.example.net."),
    )
    f = facts({"example.com", P}, custom=custom)
    records = build_zone("example.com", f)
    keys = keyed(records)
    # A 20 MX is published beside the default 10.
    assert (None, "MX", "20 backup.example.net.") in keys and (None, "MX", f"10 {P}.") in keys
    # A custom SPF replaces the default; other TXT coexist.
    assert (None, "TXT", "v=spf1 mx -all") not in keys
    assert (None, "TXT", "google-site-verification=abc") in keys
    # `local` becomes the box's address.
    assert ("blog", "A", "192.0.2.10") in keys and ("v6", "AAAA", "2001:db8::10") in keys
    # A custom www A drops the redirect defaults, including the AAAA.
    assert ("www", "A", "198.51.100.7") in keys
    assert not [k for k in keys if k[0] == "www" and k[1] == "AAAA"]
    # The primary hostname's A, the ns1 glue and the apex NS cannot be overridden.
    assert ("box", "A", "198.51.100.99") not in keys and ("box", "A", "192.0.2.10") in keys
    assert ("ns1.box", "A", "198.51.100.98") not in keys
    assert (None, "NS", "ns9.example.net.") not in keys
    assert {r.explanation for r in records if r.qname == "blog" and r.rtype == "A"} == {
        "(Set by user.)"
    }
    # No-mail policy for the custom host.
    assert ("blog", "TXT", "v=spf1 -all") in keys


def test_custom_a_suppresses_default_aaaa_and_cname_suppresses_both() -> None:
    f = facts({"example.com"}, custom=(rec("example.com", "A", "198.51.100.1"),))
    keys = keyed(build_zone("example.com", f))
    assert (None, "A", "198.51.100.1") in keys
    assert not [k for k in keys if k[0] is None and k[1] == "AAAA"]
    f = facts({"example.com"}, custom=(rec("example.com", "AAAA", "2001:db8::99"),))
    keys = keyed(build_zone("example.com", f))
    assert (None, "A", "192.0.2.10") in keys and (None, "AAAA", "2001:db8::99") in keys
    assert (None, "AAAA", "2001:db8::10") not in keys
    f = facts({"example.com"}, custom=(rec("mta-sts.example.com", "CNAME", "elsewhere.net."),))
    keys = keyed(build_zone("example.com", f))
    # mta-sts defaults are suppressed only by the same rtype (DNS.md §4.2), CNAME is not.
    assert ("mta-sts", "CNAME", "elsewhere.net.") in keys


def test_custom_dkim_dmarc_override() -> None:
    custom = (
        rec("mail._domainkey.example.com", "TXT", "v=DKIM1; p=OTHER"),
        rec("_dmarc.example.com", "TXT", "v=DMARC1; p=none"),
    )
    keys = keyed(build_zone("example.com", facts({"example.com"}, custom=custom)))
    assert ("mail._domainkey", "TXT", DKIM[1]) not in keys
    assert ("_dmarc", "TXT", "v=DMARC1; p=quarantine") not in keys
    assert ("_dmarc", "TXT", "v=DMARC1; p=none") in keys


def test_mta_sts_policy_only_with_valid_certificates() -> None:
    base = facts({"example.com"})
    with_policy = ZoneFacts(
        **{
            **{
                k: getattr(base, k)
                for k in (
                    "primary_hostname",
                    "ipv4",
                    "ipv6",
                    "mail_domains",
                    "user_domains",
                    "custom",
                    "secondary_hostnames",
                    "dkim",
                    "tlsa",
                    "sshfp",
                )
            },
            "mta_sts_policy_domains": frozenset({"example.com"}),
            "mta_sts_policy_id": "ABC",
            "tlsrpt_rua": "mailto:tls@example.com",
        }
    )
    keys = keyed(build_zone("example.com", with_policy))
    assert ("_mta-sts", "TXT", "v=STSv1; id=ABC") in keys
    assert ("_smtp._tls", "TXT", "v=TLSRPTv1; rua=mailto:tls@example.com") in keys
    assert not [k for k in keyed(build_zone("example.com", base)) if k[0] == "_mta-sts"]


def test_dump_order_and_hidden_records() -> None:
    records = dump_records(P, build_zone(P, facts({P})))
    assert all(r.qname.endswith(P) for r in records)
    assert not [r for r in records if r.rtype == "NS" or r.qname == f"ns1.{P}" and r.rtype == "A"]
    ranks = [
        0
        if r.explanation.startswith("Required.")
        else 1
        if r.explanation.startswith("Recommended.")
        else 2
        for r in records
    ]
    assert ranks == sorted(ranks)
    assert records[0].qname == P and records[0].rtype == "A"


def test_box_zones_and_records(mbox: Box) -> None:
    write_ssh_keys(mbox)
    mbox.mail.users.add_user("x@example.org", PASSWORD, actor=TEST_ACTOR)
    assert mbox.dns.zones() == ("example.com", "example.org")
    zones = {z.name: z.domains for z in mbox.dns.zone_list()}
    assert zones == {
        "example.com": ("box.example.com", "example.com"),
        "example.org": ("example.org",),
    }
    records = mbox.dns.records("example.com")
    sshfp = [r.value for r in records if r.rtype == "SSHFP"]
    # Sorted like ssh-keyscan lines: ecdsa before ssh-ed25519.
    assert [v.split()[0] for v in sshfp] == ["3", "4"]
    assert all(v.endswith(" )") and v.split()[3].isupper() for v in sshfp)
    tlsa = [r.value for r in records if r.rtype == "TLSA"]
    assert len(tlsa) == 2 and tlsa[0].startswith("3 1 1 ") and len(tlsa[0]) == 6 + 64
    dkim = [r.value for r in records if r.qname == "mail._domainkey.example.com"]
    assert dkim[0].startswith("v=DKIM1; h=sha256; k=rsa; s=email; p=MII")
    assert [z for z, _ in mbox.dns.dump()] == ["example.com", "example.org"]
    assert ADMIN.endswith("example.com")


def test_records_of_unknown_zone(mbox: Box) -> None:
    import pytest

    from core.errors import ValidationError

    with pytest.raises(ValidationError) as err:
        mbox.dns.records("nope.example")
    assert err.value.message == "nope.example is not a domain name that corresponds to a zone."
