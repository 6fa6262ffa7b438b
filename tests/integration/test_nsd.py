"""nsd serves the zones core writes, DNSSEC-signed, and ldns accepts the signed zones.

A private nsd (its own config, pid, state and log in a temp folder, on a free loopback port,
in the foreground) reads our zones.conf and zone files; dnspython asks it for the records and
validates the signatures. The system's nsd is never touched.
"""

from __future__ import annotations

import subprocess
import time
from collections.abc import Iterator
from typing import Final

import dns.dnssec
import dns.exception
import dns.flags
import dns.message
import dns.name
import dns.query
import dns.rcode
import dns.rdatatype
import dns.rrset
import pytest

from core import Box, init_box
from tests.conftest import TEST_ACTOR
from tests.integration.conftest import free_tcp_port, require_program

pytestmark = pytest.mark.integration

START_TIMEOUT: Final = 15.0
SSH_ED25519: Final = (
    "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl root@box\n"
)


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Box, int]]:
    nsd = require_program("nsd", "nsd")
    require_program("ldns-verify-zone", "ldnsutils")
    tmp = tmp_path_factory.mktemp("nsd")
    # The real clock: nsd and ldns judge signature times against it.
    box = init_box(tmp / "box")
    ssh = box.config.system_path("/etc/ssh")
    ssh.mkdir(parents=True)
    (ssh / "ssh_host_ed25519_key.pub").write_text(SSH_ED25519)
    box.mail.users.add_user("me@example.com", "secret-password", "admin", actor=TEST_ACTOR)
    box.mail.aliases.add_alias("administrator@box.example.com", "me@example.com", actor=TEST_ACTOR)
    box.mail.users.add_user("carol@example.org", "secret-password", actor=TEST_ACTOR)
    box.dns.add_custom_record(
        "deep.sub.example.org", "TXT", "below an empty non-terminal", actor=TEST_ACTOR
    )
    box.dns.add_custom_record("example.org", "CAA", '0 issue "letsencrypt.org"', actor=TEST_ACTOR)
    port = free_tcp_port()
    state = tmp / "state"
    state.mkdir()
    conf = tmp / "nsd.conf"
    conf.write_text(
        "server:\n"
        f"\tip-address: 127.0.0.1@{port}\n"
        "\tserver-count: 1\n"
        '\tusername: ""\n'
        '\tchroot: ""\n'
        f'\tzonesdir: "{box.dns.zones_dir}"\n'
        f'\tpidfile: "{state}/nsd.pid"\n'
        '\tdatabase: ""\n'
        f'\txfrdfile: "{state}/xfrd.state"\n'
        f'\txfrdir: "{state}"\n'
        f'\tzonelistfile: "{state}/zone.list"\n'
        f'\tlogfile: "{state}/nsd.log"\n'
        "\thide-version: yes\n"
        '\tidentity: ""\n'
        "remote-control:\n\tcontrol-enable: no\n"
        f'include: "{box.dns.zones_conf}"\n'
    )
    process = subprocess.Popen(
        [nsd, "-d", "-c", str(conf)], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )
    try:
        deadline = time.monotonic() + START_TIMEOUT
        while True:
            try:
                query(port, "example.com", "SOA")
                break
            except (dns.exception.Timeout, OSError):
                if process.poll() is not None or time.monotonic() > deadline:
                    log = (state / "nsd.log").read_text() if (state / "nsd.log").exists() else ""
                    out = process.stdout.read() if process.poll() is not None else ""
                    pytest.fail(f"nsd did not answer: {out}{log}")
                time.sleep(0.1)
        yield box, port
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        box.close()


def query(port: int, name: str, rtype: str) -> dns.message.Message:
    message = dns.message.make_query(name, rtype, want_dnssec=True)
    return dns.query.tcp(message, "127.0.0.1", port=port, timeout=2)


def answer(response: dns.message.Message, rtype: str) -> dns.rrset.RRset:
    wanted = dns.rdatatype.from_text(rtype)
    for rrset in response.answer:
        if rrset.rdtype == wanted:
            return rrset
    raise AssertionError(f"no {rtype} in {response}")


def validated(port: int, zone: str, name: str, rtype: str) -> dns.rrset.RRset:
    response = query(port, name, rtype)
    assert response.flags & dns.flags.AA
    keys = answer(query(port, zone, "DNSKEY"), "DNSKEY")
    rrset = answer(response, rtype)
    sigs = answer(response, "RRSIG")
    dns.dnssec.validate(rrset, sigs, {dns.name.from_text(zone): keys})
    return rrset


def test_nsd_serves_signed_records(served: tuple[Box, int]) -> None:
    box, port = served
    soa = validated(port, "example.com", "example.com", "SOA")
    assert soa[0].mname.to_text() == "ns1.box.example.com."
    assert str(soa[0].serial).startswith(time.strftime("%Y%m%d"))
    mx = validated(port, "example.com", "example.com", "MX")
    assert mx[0].to_text() == "10 box.example.com."
    a = validated(port, "example.com", "box.example.com", "A")
    assert a[0].to_text() == box.config.public_ip
    dkim = validated(port, "example.com", "mail._domainkey.example.com", "TXT")
    assert b"".join(dkim[0].strings).startswith(b"v=DKIM1; h=sha256; k=rsa; s=email; p=")
    validated(port, "example.com", "box.example.com", "SSHFP")
    validated(port, "example.com", "_25._tcp.box.example.com", "TLSA")
    caa = validated(port, "example.org", "example.org", "CAA")
    assert caa[0].to_text() == '0 issue "letsencrypt.org"'
    validated(port, "example.org", "_carddavs._tcp.example.org", "SRV")


def test_nsd_denies_with_nsec3(served: tuple[Box, int]) -> None:
    _, port = served
    response = query(port, "missing.example.org", "A")
    assert response.rcode() == dns.rcode.NXDOMAIN
    assert any(r.rdtype == dns.rdatatype.NSEC3 for r in response.authority)
    # An empty non-terminal answers NOERROR with no data.
    assert query(port, "sub.example.org", "A").rcode() == dns.rcode.NOERROR


def test_ldns_verifies_every_signed_zone(served: tuple[Box, int]) -> None:
    box, _ = served
    verify = require_program("ldns-verify-zone", "ldnsutils")
    signed = sorted(box.dns.zones_dir.glob("*.txt.signed"))
    assert [p.name for p in signed] == ["example.com.txt.signed", "example.org.txt.signed"]
    for path in signed:
        done = subprocess.run([verify, str(path)], capture_output=True, text=True, timeout=60)
        assert done.returncode == 0, done.stdout + done.stderr


def test_nsd_checkzone_accepts_every_zone(served: tuple[Box, int]) -> None:
    box, _ = served
    checkzone = require_program("nsd-checkzone", "nsd")
    for zone in box.dns.zones():
        path = box.dns.zones_dir / f"{zone}.txt.signed"
        done = subprocess.run(
            [checkzone, zone, str(path)], capture_output=True, text=True, timeout=60
        )
        assert done.returncode == 0, done.stdout + done.stderr
