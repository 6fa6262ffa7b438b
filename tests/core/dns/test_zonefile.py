"""Zone file text and serials (DNS.md §6), zones.conf (§8) and the update's output (§9)."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from core import Box
from core.dns.records import build_zone
from core.dns.zones import decide_serial, quote_txt, render_zone, with_serial, zone_file_name
from core.errors import ValidationError
from tests.conftest import FIXED_TIME, TEST_ACTOR
from tests.core.dns.conftest import PASSWORD
from tests.core.dns.test_records import P, facts

EXPECTED_EXAMPLE_NET = (
    "\n"
    "$ORIGIN example.net.\n"
    "$TTL 1800           ; default time to live\n"
    "\n"
    "@ IN SOA ns1.box.example.com. hostmaster.box.example.com. (\n"
    "           2026112400     ; serial number\n"
    "           7200     ; Refresh (secondary nameserver update interval)\n"
    "           1800     ; Retry (when refresh fails, how often to try again)\n"
    "           1209600  ; Expire (when refresh fails, how long secondary nameserver will keep"
    " records around anyway)\n"
    "           1800     ; Negative TTL (how long negative responses are cached)\n"
    "           )\n"
    "\tIN\tNS\tns1.box.example.com.\n"
    "\tIN\tNS\tns2.box.example.com.\n"
    "\tIN\tA\t192.0.2.10\n"
    "\tIN\tAAAA\t2001:db8::10\n"
    "\tIN\tMX\t10 box.example.com.\n"
    '\tIN\tTXT\t"v=spf1 mx -all" \n'
    '_dmarc\tIN\tTXT\t"v=DMARC1; p=quarantine" \n'
    'mail._domainkey\tIN\tTXT\t"v=DKIM1; h=sha256; k=rsa; s=email; p=KEY" \n'
    "mta-sts\tIN\tA\t192.0.2.10\n"
    "mta-sts\tIN\tAAAA\t2001:db8::10\n"
    "www\tIN\tA\t192.0.2.10\n"
    "www\tIN\tAAAA\t2001:db8::10\n"
    'www\tIN\tTXT\t"v=spf1 -all" \n'
    '_dmarc.www\tIN\tTXT\t"v=DMARC1; p=reject" \n'
)


def test_zone_text_is_byte_exact() -> None:
    text = render_zone("example.net", P, build_zone("example.net", facts({"example.net"})))
    serial = decide_serial(text, None, FIXED_TIME, force=False).serial
    assert with_serial(text, serial) == EXPECTED_EXAMPLE_NET


def test_txt_quoting_and_chunks() -> None:
    assert quote_txt('say "hi" \\o/') == '"say \\"hi\\" \\\\o/" '
    long = "a" * 300
    assert quote_txt(long) == '"' + "a" * 255 + '" "' + "a" * 45 + '" '


def test_zone_file_name_is_url_quoted() -> None:
    assert zone_file_name("example.com") == "example.com.txt"
    assert zone_file_name("xn--bcher-kva.example") == "xn--bcher-kva.example.txt"
    assert zone_file_name("a_b.example") == "a_b.example.txt"


def test_serial_rules() -> None:
    text = render_zone("example.net", P, build_zone("example.net", facts({"example.net"})))
    first = with_serial(text, "2026112400")
    # Same content: unchanged, same serial.
    same = decide_serial(text, first, FIXED_TIME, force=False)
    assert (same.changed, same.serial) == (False, "2026112400")
    # Forced, or changed content on the same day: +1.
    assert decide_serial(text, first, FIXED_TIME, force=True).serial == "2026112401"
    changed = text.replace("v=spf1 mx -all", "v=spf1 -all")
    assert decide_serial(changed, first, FIXED_TIME, force=False) == decide_serial(
        changed, first, FIXED_TIME, force=False
    )
    assert decide_serial(changed, first, FIXED_TIME, force=False).serial == "2026112401"
    # A later serial (several changes a day) keeps counting up.
    assert (
        decide_serial(changed, with_serial(text, "2026112407"), FIXED_TIME, force=False).serial
        == "2026112408"
    )
    # A new day starts from the date.
    next_day = FIXED_TIME + 86400
    assert decide_serial(changed, first, next_day, force=False).serial == "2026112500"


def test_update_writes_and_serials_follow_content(mbox: Box) -> None:
    path = mbox.dns.zones_dir / "example.com.txt"
    first = path.read_text()
    assert "2026112400     ; serial number" in first
    assert mbox.dns.update(actor=TEST_ACTOR).lines == ()
    assert path.read_text() == first
    mbox.dns.add_custom_record("blog.example.com", "A", "local", actor=TEST_ACTOR)
    assert "2026112401     ; serial number" in path.read_text()
    assert "blog\tIN\tA\t192.0.2.10\n" in path.read_text()
    # The clock moves to the next day: a change starts from the new date.
    mbox.clock = lambda: FIXED_TIME + 86400
    mbox.dns.add_custom_record("shop.example.com", "A", "local", actor=TEST_ACTOR)
    assert "2026112500     ; serial number" in path.read_text()


def test_update_output_and_only_changed_zones(mbox: Box) -> None:
    change = mbox.mail.users.add_user("x@example.org", PASSWORD, actor=TEST_ACTOR)
    assert "updated DNS: example.org" in change.lines
    com = mbox.dns.zones_dir / "example.com.txt.signed"
    before = com.stat().st_mtime_ns
    change = mbox.mail.users.add_user("y@example.org", PASSWORD, actor=TEST_ACTOR)
    assert not [line for line in change.lines if line.startswith("updated DNS")]
    assert com.stat().st_mtime_ns == before
    forced = mbox.dns.update(force=True, actor=TEST_ACTOR)
    assert forced.lines[0] == "updated DNS: example.com,example.org"
    conf = mbox.dns.zones_conf.read_text()
    assert conf == (
        "\nzone:\n\tname: example.com\n\tzonefile: example.com.txt.signed\n"
        "\nzone:\n\tname: example.org\n\tzonefile: example.org.txt.signed\n"
    )


def test_zones_conf_change_alone_is_reported(mbox: Box) -> None:
    mbox.dns.zones_conf.write_text("stale")
    assert mbox.dns.update(actor=TEST_ACTOR).lines[0] == "updated DNS: DNS configuration"


def test_opendkim_tables(mbox: Box) -> None:
    key = mbox.config.storage_root / "mail/dkim/mail.private"
    opendkim = mbox.config.system_path("/etc/opendkim")
    assert (opendkim / "KeyTable").read_text() == (
        f"box.example.com box.example.com:mail:{key}\nexample.com example.com:mail:{key}\n"
    )
    assert (opendkim / "SigningTable").read_text() == (
        "*@box.example.com box.example.com\n*@example.com example.com\n"
    )
    (opendkim / "KeyTable").write_text("")
    lines = mbox.dns.update(actor=TEST_ACTOR).lines
    assert lines[0] == "updated DNS: OpenDKIM configuration"


def test_host_notes(mbox: Box, tmp_path: Path) -> None:
    lines = mbox.dns.update(force=True, actor=TEST_ACTOR).lines
    assert "this is a local box: zone files written, not served by nsd" in lines
    # A real box (system_root "/") without nsd says so; with it, nsd-control reloads. The
    # host's programs are real scripts of the test's own, in a folder searched instead of PATH.
    from core.dns.nsd import DnsHost
    from core.host import Host

    real = mbox.config.with_values(system_root=Path("/"))
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    absent = DnsHost(real, host=Host(real, path=str(bin_dir)))
    assert absent.reload_nsd() == ("nsd is not installed here: zone files written, not served",)
    log = tmp_path / "calls"
    for name in ("nsd", "nsd-control", "service", "opendkim", "rndc"):
        script = bin_dir / name
        script.write_text(f'#!/bin/sh\necho "{name} $*" >> "{log}"\n')
        script.chmod(0o755)
    present = DnsHost(real, host=Host(real, path=str(bin_dir)))
    assert present.reload_nsd() == ()
    assert log.read_text().splitlines() == ["nsd-control reconfig", "nsd-control reload"]
    assert present.restart_opendkim() == ()
    present.flush_resolver()
    assert log.read_text().splitlines()[-2:] == ["service opendkim restart", "rndc flush"]
    (bin_dir / "nsd-control").write_text("#!/bin/sh\nexit 1\n")
    (bin_dir / "service").write_text("#!/bin/sh\necho 'nsd: failed to start' >&2\nexit 1\n")
    assert present.reload_nsd() == ("nsd could not be restarted: nsd: failed to start",)


def test_zonefile_and_unknown_zone(mbox: Box) -> None:
    assert mbox.dns.zonefile("example.com") == (mbox.dns.zones_dir / "example.com.txt").read_text()
    with pytest.raises(ValidationError) as err:
        mbox.dns.zonefile("example.xyz")
    assert err.value.message == "example.xyz is not a domain name that corresponds to a zone."


def test_preview_shows_diff_without_writing(mbox: Box) -> None:
    path = mbox.dns.zones_dir / "example.com.txt"
    before = path.read_text()
    (mbox.config.storage_root / "dns" / "custom.yaml").write_text("blog.example.com: local\n")
    diffs = mbox.dns.preview()
    assert [d.name for d in diffs] == ["example.com"]
    assert "+blog\tIN\tA\t192.0.2.10\n" in diffs[0].diff
    assert "-           2026112400     ; serial number" in diffs[0].diff
    assert path.read_text() == before
    assert mbox.dns.preview(force=True)[0].name == "example.com"


def test_expiring_signatures_force_a_resign(mbox: Box) -> None:
    signed = mbox.dns.zones_dir / "example.com.txt.signed"
    # 28 days later the 30-day signatures are within 3 days of expiry.
    mbox.clock = lambda: FIXED_TIME + 28 * 86400
    assert mbox.dns.update(actor=TEST_ACTOR).lines[0] == "updated DNS: example.com"
    assert "RRSIG\tSOA 8 2 1800 20270121000000 20261221000000 " in signed.read_text()
    assert time.gmtime(FIXED_TIME).tm_year == 2026
