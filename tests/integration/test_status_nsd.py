"""The status checks against nsd serving the box's own signed zones on loopback, as public DNS
would serve them once the registrar points at the box: with the box's resolver setting
(`MIAB_DNS_RESOLVER`) aimed at it, a domain's DNS checks pass; a broken record is reported in
the reference's words once nsd serves it.
"""

from __future__ import annotations

import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Final

import dns.exception
import dns.message
import dns.query
import pytest

from core import Box, init_box
from core.system import StatusReport
from core.tls.service import DNS_RESOLVER_KEY
from tests.conftest import TEST_ACTOR
from tests.integration.conftest import free_tcp_port, require_program

pytestmark = pytest.mark.integration

START_TIMEOUT: Final = 15.0
PRIMARY: Final = "box.example.com"


class Nsd:
    def __init__(self, box: Box, folder: Path) -> None:
        self.program = require_program("nsd", "nsd")
        self.port = free_tcp_port()
        state = folder / "state"
        state.mkdir()
        self.log = state / "nsd.log"
        self.conf = folder / "nsd.conf"
        self.conf.write_text(
            "server:\n"
            f"\tip-address: 127.0.0.1@{self.port}\n"
            "\tserver-count: 1\n"
            '\tusername: ""\n'
            '\tchroot: ""\n'
            f'\tzonesdir: "{box.dns.zones_dir}"\n'
            f'\tpidfile: "{state}/nsd.pid"\n'
            '\tdatabase: ""\n'
            f'\txfrdfile: "{state}/xfrd.state"\n'
            f'\txfrdir: "{state}"\n'
            f'\tzonelistfile: "{state}/zone.list"\n'
            f'\tlogfile: "{self.log}"\n'
            "remote-control:\n\tcontrol-enable: no\n"
            f'include: "{box.dns.zones_conf}"\n'
        )
        self.process = subprocess.Popen(
            [self.program, "-d", "-c", str(self.conf)],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        self.wait_for("example.com", "SOA")

    def wait_for(self, name: str, rtype: str) -> dns.message.Message:
        deadline = time.monotonic() + START_TIMEOUT
        while True:
            try:
                query = dns.message.make_query(name, rtype)
                return dns.query.udp(query, "127.0.0.1", port=self.port, timeout=1)
            except (dns.exception.Timeout, OSError):
                if self.process.poll() is not None or time.monotonic() > deadline:
                    log = self.log.read_text() if self.log.exists() else ""
                    pytest.fail(f"nsd did not answer: {log}")
                time.sleep(0.1)

    def reload(self, name: str, expect: str) -> None:
        """Make nsd read the zone files again (SIGHUP) and wait until it serves `expect`."""
        self.process.send_signal(signal.SIGHUP)
        deadline = time.monotonic() + START_TIMEOUT
        while expect not in self.wait_for(name, "MX").to_text():
            if time.monotonic() > deadline:
                pytest.fail("nsd did not load the changed zone")
            time.sleep(0.1)

    def close(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


@pytest.fixture
def served(tmp_path: Path) -> Iterator[tuple[Box, Nsd]]:
    # The real clock: nsd judges nothing, but the zones are signed for now.
    box = init_box(tmp_path / "box")
    box.mail.users.add_user("me@example.com", "secret-password", "admin", actor=TEST_ACTOR)
    box.mail.aliases.add_alias("administrator@" + PRIMARY, "me@example.com", actor=TEST_ACTOR)
    box.mail.users.add_user("carol@example.org", "secret-password", actor=TEST_ACTOR)
    nsd = Nsd(box, tmp_path)
    # The box's own setting, as an admin would write it in mailinabox.conf.
    assert box.config.conf_path is not None
    with box.config.conf_path.open("a") as conf:
        conf.write(f"{DNS_RESOLVER_KEY}=127.0.0.1:{nsd.port}\n")
    try:
        yield box, nsd
    finally:
        nsd.close()
        box.close()


def found(report: StatusReport, check: str) -> list[tuple[str, str]]:
    return [(i.status.value, i.message) for i in report.items() if i.check == check]


def test_a_domains_dns_checks_pass_when_its_zone_is_served(served: tuple[Box, Nsd]) -> None:
    box, _ = served
    report = box.status.run(box.status.plan(sections=["example.com", PRIMARY]))
    assert found(report, "example.com/nameservers") == [
        ("ok", f"Nameservers are set correctly at registrar. [ns1.{PRIMARY}; ns2.{PRIMARY}]")
    ]
    assert found(report, "example.com/mx") == [
        ("ok", f"Domain's email is directed to this domain. [example.com ↦ 10 {PRIMARY}]")
    ]
    for kind, name in (
        ("spf", "example.com"),
        ("dkim", "mail._domainkey.example.com"),
        ("dmarc", "_dmarc.example.com"),
    ):
        assert found(report, f"example.com/{kind}") == [
            ("ok", f"The {kind.upper()} record is set correctly. [{name}]")
        ]
    assert found(report, "example.com/web-address") == [
        (
            "ok",
            "Domain resolves to this box's IP address. "
            f"[example.com ↦ {box.config.public_ip}; {box.config.public_ipv6}]",
        )
    ]
    assert found(report, f"{PRIMARY}/glue") == [
        (
            "ok",
            f"Nameserver glue records are correct at registrar. "
            f"[ns1/ns2.{PRIMARY} ↦ {box.config.public_ip}]",
        )
    ]
    assert found(report, f"{PRIMARY}/address") == [
        (
            "ok",
            f"Domain resolves to box's IP address. "
            f"[{PRIMARY} ↦ {box.config.public_ip} / {box.config.public_ipv6}]",
        )
    ]
    assert found(report, f"{PRIMARY}/tlsa") == [
        ("ok", f"The DANE TLSA record for incoming mail is correct (_25._tcp.{PRIMARY}).")
    ]
    # nsd serves the zones, not their parents: no DS is set, which the check suggests.
    [(status, text)] = found(report, "example.com/dnssec")
    assert status == "warning" and text.startswith("This domain's DNSSEC DS record is not set.")
    assert not [r for r in report.results if r.timed_out]


def test_a_broken_record_is_reported_in_the_reference_words(served: tuple[Box, Nsd]) -> None:
    box, nsd = served
    box.dns.add_custom_record("example.org", "MX", "10 mx.elsewhere.example.", actor=TEST_ACTOR)
    nsd.reload("example.org", "mx.elsewhere.example")
    report = box.status.run(box.status.plan(checks=["example.org/mx", "example.org/nameservers"]))
    assert found(report, "example.org/mx") == [
        (
            "error",
            "This domain's DNS MX record is incorrect. It is currently set to "
            f"'10 mx.elsewhere.example' but should be '10 {PRIMARY}'. Mail will not be delivered "
            "to this box. It may take several hours for public DNS to update after a change. "
            "This problem may result from other issues listed here.",
        )
    ]
    assert found(report, "example.org/nameservers")[0][0] == "ok"
