"""Custom records: every rule and message of BEHAVIOUR.md §4.7, the file format of STORAGE.md
§4.1, and our stricter value syntax (nothing stored when refused)."""

from __future__ import annotations

import pytest

from core import Box
from core.dns.custom import apply_action, parse_custom_yaml, render_custom_yaml
from core.dns.records import CustomRecord
from core.errors import ValidationError
from tests.conftest import TEST_ACTOR


def refused(box: Box, call: str, *args: str, **kw: str) -> str:
    before = box.dns.custom_yaml.read_bytes() if box.dns.custom_yaml.exists() else None
    with pytest.raises(ValidationError) as err:
        getattr(box.dns, call)(*args, actor=TEST_ACTOR, **kw)
    after = box.dns.custom_yaml.read_bytes() if box.dns.custom_yaml.exists() else None
    assert after == before  # nothing stored
    return err.value.message


@pytest.mark.parametrize(
    ("qname", "rtype", "value", "message"),
    [
        (
            "example.net",
            "A",
            "1.2.3.4",
            "example.net is not a domain name or a subdomain of a domain name managed by this box.",
        ),
        (
            "notexample.com",
            "A",
            "1.2.3.4",
            "notexample.com is not a domain name or a subdomain of a domain name managed by this box.",
        ),
        ("-bad.example.com", "A", "1.2.3.4", "Invalid name."),
        ("a..example.com", "TXT", "x", "Invalid name."),
        ("www.example.com", "A", "2001:db8::1", "That's an IPv6 address."),
        ("www.example.com", "AAAA", "192.0.2.1", "That's an IPv4 address."),
        (
            "www.example.com",
            "A",
            "300.1.1.1",
            "'300.1.1.1' does not appear to be an IPv4 or IPv6 address",
        ),
        ("example.com", "NS", "ns.example.net", "NS records can only be set for subdomains."),
        ("sub.example.com", "NS", "bad name", "Invalid value."),
        ("www.example.com", "CNAME", "-x.example.net", "Invalid value."),
        ("www.example.com", "PTR", "x", "Unknown record type 'PTR'."),
    ],
)
def test_reference_rules(mbox: Box, qname: str, rtype: str, value: str, message: str) -> None:
    assert refused(mbox, "add_custom_record", qname, rtype, value) == message
    assert refused(mbox, "set_custom_record", qname, rtype, value) == message


@pytest.mark.parametrize(
    ("rtype", "value", "fragment"),
    [
        ("MX", "10", "Invalid MX value '10': use PRIORITY HOST., e.g. 10 mx.example.com."),
        ("MX", "10 mx.example.net", "the host name must end with a dot (mx.example.net.)"),
        ("MX", "ten mx.example.net.", "Invalid MX value"),
        ("SRV", "0 0 443", "Invalid SRV value '0 0 443': use PRIORITY WEIGHT PORT TARGET."),
        ("SRV", "0 0 99999 box.example.com.", "Invalid SRV value"),
        ("CAA", "0 issue", 'use FLAGS TAG "VALUE"'),
        ("CAA", '300 issue "x"', "Invalid CAA value"),
        ("SSHFP", "4 2 ZZ", "Invalid SSHFP value"),
        ("SSHFP", "4 2 ABCD", "fingerprint length inconsistent"),
        ("TXT", "two\nlines", "control characters are not allowed"),
        ("TXT", "x" * 70000, "longer than"),
    ],
)
def test_value_syntax_is_checked(mbox: Box, rtype: str, value: str, fragment: str) -> None:
    assert fragment in refused(mbox, "add_custom_record", "example.com", rtype, value)


@pytest.mark.parametrize(
    ("rtype", "value"),
    [
        ("MX", "20 mx.backup.example."),
        ("SRV", "10 5 5060 sip.example.com."),
        ("CAA", '0 issue "letsencrypt.org"'),
        ("CAA", '0 iodef "mailto:x@example.com"'),
        ("SSHFP", "4 2 " + "AB" * 32),
        ("TXT", 'v=spf1 include:"quoted" -all'),
        ("TXT", "x" * 600),
    ],
)
def test_good_values_are_stored_and_served(mbox: Box, rtype: str, value: str) -> None:
    change = mbox.dns.add_custom_record("example.com", rtype, value, actor=TEST_ACTOR)
    assert change.lines[0] == "updated DNS: example.com"
    assert mbox.dns.custom_records("example.com", rtype) == (
        CustomRecord("example.com", rtype, value),
    )
    assert "keeps its last good version" not in change.text


def test_empty_values_and_default_address(mbox: Box) -> None:
    assert refused(mbox, "add_custom_record", "www.example.com", "A", "") == (
        "No value for the record provided."
    )
    assert refused(mbox, "add_custom_record", "www.example.com", "TXT", "  ") == (
        "No value for the record provided."
    )
    mbox.dns.add_custom_record(
        "www.example.com", "A", "", default_address="198.51.100.4", actor=TEST_ACTOR
    )
    assert mbox.dns.custom_records("www.example.com", "A")[0].value == "198.51.100.4"
    mbox.dns.set_custom_record(
        "www.example.com", "aaaa", "", default_address="2001:db8::4", actor=TEST_ACTOR
    )
    assert mbox.dns.custom_records("www.example.com", "AAAA")[0].value == "2001:db8::4"


def test_add_set_remove_results(mbox: Box) -> None:
    dns = mbox.dns
    assert dns.add_custom_record("example.com", "TXT", "one", actor=TEST_ACTOR).lines[0] == (
        "updated DNS: example.com"
    )
    assert dns.add_custom_record("example.com", "TXT", "one", actor=TEST_ACTOR).lines == ("OK",)
    dns.add_custom_record("example.com", "TXT", "two", actor=TEST_ACTOR)
    assert [r.value for r in dns.custom_records("example.com", "TXT")] == ["one", "two"]
    dns.set_custom_record("example.com", "TXT", "three", actor=TEST_ACTOR)
    assert [r.value for r in dns.custom_records("example.com", "TXT")] == ["three"]
    assert dns.set_custom_record("example.com", "TXT", "three", actor=TEST_ACTOR).lines == ("OK",)
    assert dns.remove_custom_record("example.com", "TXT", "nope", actor=TEST_ACTOR).lines == ("OK",)
    dns.add_custom_record("example.com", "TXT", "four", actor=TEST_ACTOR)
    dns.remove_custom_record("example.com", "TXT", "three", actor=TEST_ACTOR)
    assert [r.value for r in dns.custom_records("example.com", "TXT")] == ["four"]
    dns.add_custom_record("example.com", "TXT", "five", actor=TEST_ACTOR)
    dns.remove_custom_record("example.com", "TXT", actor=TEST_ACTOR)
    assert dns.custom_records("example.com", "TXT") == ()
    # Unknown type on delete-all is not checked (no value): nothing to do.
    assert dns.remove_custom_record("example.com", "PTR", actor=TEST_ACTOR).lines == ("OK",)


def test_change_that_does_not_affect_zones(mbox: Box) -> None:
    # The primary hostname's A cannot be overridden (DNS.md §4.1), so the zone stays as is.
    change = mbox.dns.add_custom_record("box.example.com", "A", "198.51.100.5", actor=TEST_ACTOR)
    assert change.lines == ("Something isn't right.",)


def test_local_and_cname_normalisation(mbox: Box) -> None:
    mbox.dns.add_custom_record("Blog.Example.COM", "a", "local", actor=TEST_ACTOR)
    mbox.dns.add_custom_record("shop.example.com", "CNAME", "shops.example.net", actor=TEST_ACTOR)
    assert mbox.dns.custom_records() == (
        CustomRecord("blog.example.com", "A", "local"),
        CustomRecord("shop.example.com", "CNAME", "shops.example.net."),
    )
    assert mbox.dns.domains_with_a_records_elsewhere() == {"shop.example.com"}


def test_file_format_round_trip(mbox: Box) -> None:
    dns = mbox.dns
    dns.add_custom_record("example.com", "MX", "20 mx.backup.example.", actor=TEST_ACTOR)
    dns.add_custom_record("example.com", "TXT", "v=spf1 mx -all", actor=TEST_ACTOR)
    dns.add_custom_record("example.com", "TXT", "google-site-verification=abc", actor=TEST_ACTOR)
    dns.add_custom_record("blog.example.com", "A", "local", actor=TEST_ACTOR)
    assert dns.custom_yaml.read_text() == (
        "example.com:\n"
        "  MX: 20 mx.backup.example.\n"
        "  TXT:\n"
        "  - v=spf1 mx -all\n"
        "  - google-site-verification=abc\n"
        "blog.example.com: local\n"
    )


def test_reading_reference_files() -> None:
    text = (
        "_secondary_nameserver: ns2.hosting.example xfr:198.51.100.7\n"
        "www.example.com: 203.0.113.20\n"
        'example.com:\n  TXT: "v=spf1 include:_spf.example.net -all"\n'
        "  CNAME: [a.example.net., b.example.net.]\n"
    )
    parsed = parse_custom_yaml(text)
    assert parsed.records == (
        CustomRecord("_secondary_nameserver", "A", "ns2.hosting.example xfr:198.51.100.7"),
        CustomRecord("www.example.com", "A", "203.0.113.20"),
        CustomRecord("example.com", "TXT", "v=spf1 include:_spf.example.net -all"),
        CustomRecord("example.com", "CNAME", "a.example.net."),
        CustomRecord("example.com", "CNAME", "b.example.net."),
    )
    assert parse_custom_yaml("- a list\n").records == ()
    assert parse_custom_yaml(": : :").problems
    bad = parse_custom_yaml("x.example.com: 12\ny.example.com:\n  A: [1]\n")
    assert bad.records == () and len(bad.problems) == 2
    assert render_custom_yaml(parsed.records).startswith(
        "_secondary_nameserver: ns2.hosting.example xfr:198.51.100.7\n"
    )
    assert render_custom_yaml([]) == "{}\n"


def test_unreadable_entries_block_edits(mbox: Box) -> None:
    mbox.dns.custom_yaml.write_text("x.example.com: 12\n")
    message = refused(mbox, "add_custom_record", "example.com", "TXT", "x")
    assert message.startswith("dns/custom.yaml: the entry for x.example.com")
    # The update reports it instead of failing.
    assert any(
        "x.example.com" in line for line in mbox.dns.update(force=True, actor=TEST_ACTOR).lines
    )


def test_bad_hand_edit_keeps_last_good_zone(mbox: Box) -> None:
    zone = mbox.dns.zones_dir / "example.com.txt"
    before = zone.read_text()
    mbox.dns.custom_yaml.write_text("example.com:\n  MX: not a valid mx\n")
    change = mbox.dns.update(actor=TEST_ACTOR)
    assert change.lines[0].startswith(
        "DNS zone example.com was not updated and keeps its last good version: "
    )
    assert zone.read_text() == before


def test_apply_action_is_the_reference_edit() -> None:
    a = CustomRecord("x.example.com", "A", "1.1.1.1")
    b = CustomRecord("x.example.com", "A", "2.2.2.2")
    assert apply_action([a], a.qname, "A", "1.1.1.1", "add") == ([a], False)
    assert apply_action([a], a.qname, "A", "2.2.2.2", "add") == ([a, b], True)
    assert apply_action([a, b], a.qname, "A", "2.2.2.2", "set") == ([b], True)
    assert apply_action([a, b], a.qname, "A", None, "remove") == ([], True)
    assert apply_action([a], a.qname, "A", None, "set") == ([], True)


def test_audit_records_refusals(mbox: Box) -> None:
    with pytest.raises(ValidationError):
        mbox.dns.add_custom_record("www.example.com", "A", "2001:db8::1", actor=TEST_ACTOR)
    last = mbox.audit.recent(1)[0]
    assert (last.operation, last.target, last.outcome) == (
        "add DNS record",
        "www.example.com A",
        "refused: That's an IPv6 address.",
    )
