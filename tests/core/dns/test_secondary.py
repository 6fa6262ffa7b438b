"""Secondary nameservers (BEHAVIOUR.md §4.4–4.5, DNS.md §8)."""

from __future__ import annotations

import pytest

from core import Box
from core.dns.secondary import parse_entries
from core.errors import ValidationError
from tests.conftest import TEST_ACTOR


def test_parse_entries() -> None:
    assert parse_entries(" a.example, b.example  xfr:1.2.3.4,,") == [
        "a.example",
        "b.example",
        "xfr:1.2.3.4",
    ]
    assert parse_entries(["a.example b.example"]) == ["a.example", "b.example"]


@pytest.mark.parametrize(
    ("entries", "message"),
    [
        ("nowhere.example", "Could not resolve the IP address of nowhere.example."),
        ("xfr:1.2.3", "'1.2.3' is not an IPv4 or IPv6 address or subnet."),
        ("xfr:10.0.0.0/33", "'10.0.0.0/33' is not an IPv4 or IPv6 address or subnet."),
        ("ns2.hosting.example xfr:nope", "'nope' is not an IPv4 or IPv6 address or subnet."),
    ],
)
def test_refused(mbox: Box, entries: str, message: str) -> None:
    with pytest.raises(ValidationError) as err:
        mbox.dns.set_secondary_nameservers(entries, actor=TEST_ACTOR)
    assert err.value.message == message
    assert mbox.dns.secondary_nameservers() == ()


def test_set_publishes_ns_and_allows_transfers(mbox: Box) -> None:
    change = mbox.dns.set_secondary_nameservers(
        "ns2.hosting.example, ns.v4only.example xfr:203.0.113.9 xfr:2001:db8:1::/48",
        actor=TEST_ACTOR,
    )
    assert change.lines[0] == "updated DNS: example.com"
    assert mbox.dns.secondary_nameservers() == (
        "ns2.hosting.example",
        "ns.v4only.example",
        "xfr:203.0.113.9",
        "xfr:2001:db8:1::/48",
    )
    zone = (mbox.dns.zones_dir / "example.com.txt").read_text()
    assert "\tIN\tNS\tns2.hosting.example.\n\tIN\tNS\tns.v4only.example.\n" in zone
    assert "ns2.box.example.com." not in zone.split("\n\tIN\tA")[0]
    conf = mbox.dns.zones_conf.read_text()
    assert conf == (
        "\nzone:\n\tname: example.com\n\tzonefile: example.com.txt.signed\n"
        "\n\tnotify: 198.51.100.53 NOKEY\n\tprovide-xfr: 198.51.100.53 NOKEY\n"
        "\n\tnotify: 2001:db8:53::2 NOKEY\n\tprovide-xfr: 2001:db8:53::2 NOKEY\n"
        "\n\tnotify: 198.51.100.54 NOKEY\n\tprovide-xfr: 198.51.100.54 NOKEY\n"
        "\n\tnotify: 203.0.113.9 NOKEY\n\tprovide-xfr: 203.0.113.9 NOKEY\n"
        "\n\tprovide-xfr: 2001:db8:1::/48 NOKEY\n"
    )
    # Stored as the pseudo record, not listed among custom records.
    assert mbox.dns.custom_yaml.read_text() == (
        "_secondary_nameserver: ns2.hosting.example ns.v4only.example xfr:203.0.113.9 "
        "xfr:2001:db8:1::/48\n"
    )
    assert mbox.dns.custom_records() == ()


def test_clearing(mbox: Box) -> None:
    mbox.dns.set_secondary_nameservers("xfr:203.0.113.9", actor=TEST_ACTOR)
    change = mbox.dns.set_secondary_nameservers("", actor=TEST_ACTOR)
    assert change.lines[0] == "updated DNS: DNS configuration"
    assert mbox.dns.secondary_nameservers() == ()
    assert mbox.dns.set_secondary_nameservers([], actor=TEST_ACTOR).lines == ()


def test_unresolvable_at_update_is_left_out(mbox: Box) -> None:
    mbox.dns.set_secondary_nameservers("ns2.hosting.example", actor=TEST_ACTOR)
    mbox.dns.resolver = lambda host, rtype: (_ for _ in ()).throw(LookupError("down"))
    mbox.dns._xfr.forget()
    mbox.dns.update(actor=TEST_ACTOR)
    assert "notify" not in mbox.dns.zones_conf.read_text()
