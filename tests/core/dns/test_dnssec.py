"""DNSSEC: ldns key files, signatures that validate, NSEC3, DS records (DNS.md §7)."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import dns.dnssec
import dns.name
import dns.rdataclass
import dns.rdatatype
import dns.zone
import pytest

from core import Box
from core.dns.dnssec import keysets_for_zone, load_key, load_keysets
from core.errors import ValidationError
from tests.conftest import FIXED_TIME, TEST_ACTOR


def signed_zone(box: Box, zone: str) -> dns.zone.Zone:
    text = (box.dns.zones_dir / f"{zone}.txt.signed").read_text()
    return dns.zone.from_text(text, origin=zone, relativize=False)


def assert_all_signatures_validate(zone: dns.zone.Zone, origin: str) -> int:
    name = dns.name.from_text(origin)
    keys = {name: zone.get_rdataset(name, dns.rdatatype.DNSKEY)}
    checked = 0
    for owner, node in zone.nodes.items():
        for rds in node.rdatasets:
            if rds.rdtype == dns.rdatatype.RRSIG:
                continue
            sigs = node.get_rdataset(dns.rdataclass.IN, dns.rdatatype.RRSIG, rds.rdtype)
            if sigs is None:  # delegation NS or glue
                continue
            dns.dnssec.validate((owner, rds), (owner, sigs), keys, now=FIXED_TIME)
            checked += 1
    return checked


def test_signatures_validate_and_nsec3_chain(mbox: Box) -> None:
    mbox.dns.add_custom_record(
        "deep.sub.example.com", "TXT", "empty non-terminal above me", actor=TEST_ACTOR
    )
    mbox.dns.add_custom_record("deleg.example.com", "NS", "ns.example.net", actor=TEST_ACTOR)
    mbox.dns.add_custom_record("glue.deleg.example.com", "A", "198.51.100.1", actor=TEST_ACTOR)
    zone = signed_zone(mbox, "example.com")
    assert assert_all_signatures_validate(zone, "example.com") > 30
    nsec3 = [(n, r) for n, _ttl, r in zone.iterate_rdatas(dns.rdatatype.NSEC3)]
    covered = {
        dns.dnssec.nsec3_hash(n, b"", 0, 1).lower()
        for n in (
            "example.com.",
            "deep.sub.example.com.",
            "sub.example.com.",
            "_tcp.example.com.",
            "deleg.example.com.",
            "_dmarc.box.example.com.",
        )
    }
    hashes = {n.labels[0].decode() for n, _ in nsec3}
    # Names, empty non-terminals (sub, _tcp) and the delegation are in the chain; glue is not.
    assert covered <= hashes
    assert dns.dnssec.nsec3_hash("glue.deleg.example.com.", b"", 0, 1).lower() not in hashes
    # The chain is one circle: every owner is some record's "next".
    assert {r.to_text().split()[4].lower() for _, r in nsec3} == hashes
    params = zone.get_rdataset("example.com.", dns.rdatatype.NSEC3PARAM)
    assert params[0].to_text() == "1 0 0 -"
    # The delegation's NS is not signed; its glue is served unsigned.
    deleg = zone.nodes[dns.name.from_text("deleg.example.com")]
    assert deleg.get_rdataset(dns.rdataclass.IN, dns.rdatatype.RRSIG, dns.rdatatype.NS) is None


def test_key_files_in_ldns_layout(mbox: Box) -> None:
    folder = mbox.dns.dnssec_dir
    conf = (folder / "RSASHA256.conf").read_text().splitlines()
    assert [line.split("=")[0] for line in conf] == ["KSK", "ZSK"]
    ksk_name = conf[0].split("=")[1]
    assert ksk_name.startswith("K_domain_.+008+")
    assert (folder / f"{ksk_name}.private").stat().st_mode & 0o777 == 0o600
    key_text = (folder / f"{ksk_name}.key").read_text()
    assert key_text.startswith("_domain_.\tIN\tDNSKEY\t257 3 8 ")
    assert key_text.rstrip().endswith("(ksk), size = 2048b}")
    assert (folder / f"{ksk_name}.ds").read_text().startswith("_domain_.\tIN\tDS\t")
    key = load_key(folder, ksk_name)
    assert key.is_ksk and key.tag == int(ksk_name[-5:])


def test_ds_records_file_and_values(mbox: Box) -> None:
    ds_file = (mbox.dns.zones_dir / "example.com.txt.ds").read_text().splitlines()
    tag = load_keysets(mbox.dns.dnssec_dir)[0].ksk.tag
    assert ds_file[0].startswith(f"example.com.\t3600\tIN\tDS\t{tag} 8 2 ")
    assert ds_file[1].startswith(f"example.com.\t3600\tIN\tDS\t{tag} 8 1 ")
    records = mbox.dns.ds_records("example.com")
    assert [(r.key_tag, r.algorithm, r.digest_type) for r in records] == [(tag, 8, 2), (tag, 8, 1)]
    assert len(records[0].digest) == 64 and records[0].text == ds_file[0]
    with pytest.raises(ValidationError):
        mbox.dns.ds_records("example.net")


def test_switch_to_ecdsa(mbox: Box) -> None:
    assert mbox.dns.dnssec_algorithms() == ("RSASHA256",)
    change = mbox.dns.set_dnssec_algorithm("ECDSAP256SHA256", actor=TEST_ACTOR)
    assert change.lines[0] == "updated DNS: example.com"
    assert mbox.dns.dnssec_algorithms() == ("ECDSAP256SHA256",)
    assert "DOMAINS=none" in (mbox.dns.dnssec_dir / "RSASHA256.conf").read_text()
    zone = signed_zone(mbox, "example.com")
    assert assert_all_signatures_validate(zone, "example.com") > 20
    assert {r.algorithm for r in zone.get_rdataset("example.com.", dns.rdatatype.DNSKEY)} == {13}
    assert mbox.dns.ds_records("example.com")[0].algorithm == 13
    with pytest.raises(ValidationError) as err:
        mbox.dns.set_dnssec_algorithm("RSASHA1", actor=TEST_ACTOR)
    assert err.value.message == (
        "Unknown DNSSEC algorithm 'RSASHA1'. Choose RSASHA256 or ECDSAP256SHA256."
    )


def test_v051_box_keeps_tld_rule(mbox: Box) -> None:
    sets = load_keysets(mbox.dns.dnssec_dir)
    fake_old = sets[0].__class__("RSASHA1-NSEC3-SHA1", sets[0].ksk, sets[0].zsk, None)
    both = [fake_old, sets[0]]
    assert [k.name for k in keysets_for_zone("example.com", both)] == ["RSASHA1-NSEC3-SHA1"]
    assert [k.name for k in keysets_for_zone("example.email", both)] == ["RSASHA256"]


@pytest.mark.skipif(
    shutil.which("ldns-keygen") is None,
    reason="ldns-keygen not installed (Debian package ldnsutils)",
)
@pytest.mark.parametrize("algorithm", ["RSASHA256", "ECDSAP256SHA256"])
def test_existing_ldns_keys_are_used(tmp_path: Path, mbox: Box, algorithm: str) -> None:
    folder = mbox.dns.dnssec_dir
    for path in folder.iterdir():
        path.unlink()
    run = {"cwd": folder, "capture_output": True, "text": True, "check": True}
    ksk = subprocess.run(
        ["ldns-keygen", "-a", algorithm, "-b", "2048", "-k", "_domain_"], **run
    ).stdout.strip()
    zsk = subprocess.run(
        ["ldns-keygen", "-a", algorithm, "-b", "1024", "_domain_"], **run
    ).stdout.strip()
    (folder / f"{algorithm}.conf").write_text(f"KSK={ksk}\nZSK={zsk}\n")
    mbox.dns.update(force=True, actor=TEST_ACTOR)
    zone = signed_zone(mbox, "example.com")
    assert assert_all_signatures_validate(zone, "example.com") > 20
    tags = {dns.dnssec.key_id(k) for k in zone.get_rdataset("example.com.", dns.rdatatype.DNSKEY)}
    assert tags == {int(ksk[-5:]), int(zsk[-5:])}
