"""The status checks (SYSTEM.md §5) on real boxes on this machine: every check runs for real
(disk, memory, apt, aliases, certificates, the box's zones), public DNS is answered by a DNS
server on loopback that says what each test wants, and nothing leaves this machine.

The run is a stream: results come as checks finish, each check has its own time limit, and the
report keeps the reference's order whatever order they finish in.
"""

from __future__ import annotations

import datetime
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import dns.exception
import dns.message
import dns.rcode
import dns.rdatatype
import dns.rrset
import pytest

from core import Box
from core.errors import ValidationError
from core.system import CheckResult, CheckStatus, StatusReport
from core.system.checks_system import (
    LOCAL_BOX_SERVICES,
    LOCAL_DNS_FATAL,
    local_dns_down,
    services,
    ssh_port,
)
from core.system.dnsquery import DnsLookup
from core.system.engine import Task, run_tasks
from core.system.service import NO_APT
from core.system.settings import write_setting
from tests.conftest import FIXED_TIME, TEST_ACTOR
from tests.core.tls_factory import box_key, leaf, pem, root_ca, write_ca_file

PRIMARY = "box.example.com"
BAD_TLSA = "3 1 1 " + "ab" * 32
NOW = datetime.datetime.fromtimestamp(FIXED_TIME, datetime.UTC)


class LoopbackDns:
    """A DNS server on 127.0.0.1 (UDP, a free port) answering from `records` at once:
    (name, TYPE) -> values; a name in `rcodes` gets that response code; a name in `silent`
    gets no answer at all (a timeout); every other name NXDOMAIN."""

    __test__ = False

    def __init__(self) -> None:
        self.records: dict[tuple[str, str], list[str]] = {}
        self.rcodes: dict[str, dns.rcode.Rcode] = {}
        self.silent: set[str] = set()
        self.asked: list[tuple[str, str]] = []
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.settimeout(0.1)
        self.address = f"127.0.0.1:{self.sock.getsockname()[1]}"
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def add(self, name: str, rtype: str, *values: str) -> None:
        self.records.setdefault((name, rtype), []).extend(values)

    def here(self, box: Box, *names: str) -> None:
        """`names` resolve to the box's addresses."""
        for name in names:
            self.add(name, "A", box.config.public_ip)
            if box.config.public_ipv6:
                self.add(name, "AAAA", box.config.public_ipv6)

    def _serve(self) -> None:
        while not self._stop.is_set():
            try:
                data, peer = self.sock.recvfrom(4096)
            except TimeoutError:
                continue
            except OSError:
                return
            try:
                query = dns.message.from_wire(data)
            except dns.exception.DNSException:
                continue
            question = query.question[0]
            name = question.name.to_text().rstrip(".").lower()
            rtype = dns.rdatatype.to_text(question.rdtype)
            self.asked.append((name, rtype))
            if name in self.silent:
                continue
            reply = dns.message.make_response(query)
            if name in self.rcodes:
                reply.set_rcode(self.rcodes[name])
            elif (name, rtype) in self.records:
                reply.answer.append(
                    dns.rrset.from_text_list(
                        question.name, 60, "IN", rtype, self.records[(name, rtype)]
                    )
                )
            elif not any(n == name for n, _ in self.records):
                reply.set_rcode(dns.rcode.NXDOMAIN)
            self.sock.sendto(reply.to_wire(), peer)

    def close(self) -> None:
        self._stop.set()
        self._thread.join()
        self.sock.close()


@pytest.fixture
def public_dns(demo_box: Box) -> Iterator[LoopbackDns]:
    """The demo box's public DNS, on loopback: nothing set until a test says so."""
    server = LoopbackDns()
    demo_box.status.nameserver = server.address
    yield server
    server.close()


def run(box: Box, **plan: object) -> StatusReport:
    return box.status.run(box.status.plan(**plan))  # type: ignore[arg-type]


def messages(report: StatusReport, check: str) -> list[tuple[str, str]]:
    return [(i.status.value, i.message) for i in report.items() if i.check == check]


# --- a run on this machine ---------------------------------------------------------------------


def test_a_run_on_this_machine_is_well_formed(demo_box: Box, public_dns: LoopbackDns) -> None:
    plan = demo_box.status.plan()
    assert [s.heading for s in plan.sections] == [
        "System",
        "Network",
        PRIMARY,
        "example.com",
        "example.net",
        "example.org",
        "bücher.example",
    ]
    assert plan.stopped == ""
    ids = [c.id for c in plan.checks]
    assert len(ids) == len(set(ids))
    assert "system/disk" in ids and "example.com/mx" in ids
    assert "example.com/www.example.com/web-address" in ids
    results = list(demo_box.status.stream(plan))
    # One result per planned check, none out of time (the DNS server answers at once).
    assert sorted(r.check.id for r in results) == sorted(ids)
    assert not [r.check.id for r in results if r.timed_out]
    sections = {s.id for s in plan.sections}
    for result in results:
        assert result.elapsed >= 0
        assert result.order[0] == next(
            s.index for s in plan.sections if s.id == result.check.section
        )
        for item in result.items:
            assert item.section in sections and item.check == result.check.id
            assert isinstance(item.status, CheckStatus)
            assert item.message and item.message == item.message.strip()
            assert "\n" not in item.message
            for extra in item.extra:
                assert isinstance(extra.text, str) and isinstance(extra.monospace, bool)
    report = StatusReport.of(plan.sections, results)
    body = report.as_reference()
    headings = [e["text"] for e in body if e["type"] == "heading"]
    assert headings == [s.heading for s in plan.sections]
    assert {e["type"] for e in body} <= {"heading", "ok", "warning", "error"}
    assert all(set(e) == {"type", "text", "extra"} for e in body)
    # What this machine says about itself, in the reference's words.
    system = messages(report, "system/disk") + messages(report, "system/memory")
    assert system[0][1].startswith("The disk has ") and system[0][1].endswith(
        " GB space remaining."
    )
    assert system[1][1].startswith("System memory is ") and system[1][1].endswith("% free.")
    assert messages(report, "system/services") == [("warning", LOCAL_BOX_SERVICES)]
    assert messages(report, "system/administrator") == [
        (
            "ok",
            "System administrator address exists as a mail alias. "
            "[administrator@box.example.com ↦ me@example.com]",
        )
    ]


def test_the_first_result_comes_before_the_slowest_check(
    demo_box: Box, public_dns: LoopbackDns
) -> None:
    public_dns.silent.add("example.org")  # its lookups wait out their 5 seconds
    demo_box.status.plan()  # warm the imports and caches a first run fills
    start = time.monotonic()
    arrivals = []
    slowest = 0.0
    for result in demo_box.status.stream():
        arrivals.append(time.monotonic() - start)
        slowest = max(slowest, result.elapsed)
    assert slowest > 4
    assert arrivals[0] < 0.5
    # The whole run takes about as long as its slowest check, not the sum of the waits.
    assert arrivals[-1] < slowest + 3


def test_the_report_keeps_the_reference_order(demo_box: Box, public_dns: LoopbackDns) -> None:
    report = run(demo_box, sections=["example.com"])
    kinds = [r.check.kind for r in report.results if r.check.domain == "example.com"]
    assert kinds == [
        "nameservers",
        "mx",
        "mta-sts",
        "postmaster",
        "dbl",
        "spf",
        "dkim",
        "dmarc",
        "web-address",
        "tls",
        "web-disabled",
        "dnssec",  # no DS at the registrar: the suggestion comes last (§5.3 E)
    ]
    sub = [r.check.id for r in report.results if r.check.domain != "example.com"]
    assert sub[:2] == [
        "example.com/www.example.com/web-address",
        "example.com/www.example.com/tls",
    ]
    www = [i.message for i in report.items() if "/www.example.com/" in i.check]
    assert www and all(m.startswith("www.example.com: ") for m in www)


def test_one_section_or_one_check_again(demo_box: Box, public_dns: LoopbackDns) -> None:
    plan = demo_box.status.plan(sections=["bücher.example"])
    assert [s.id for s in plan.sections] == ["xn--bcher-kva.example"]
    assert {c.section for c in plan.checks} == {"xn--bcher-kva.example"}
    plan = demo_box.status.plan(checks=["system/disk", "example.com/mx"])
    assert [c.id for c in plan.checks] == ["system/disk", "example.com/mx"]
    assert [s.id for s in plan.sections] == ["system", "example.com"]
    report = demo_box.status.run(plan)
    assert [r.check.id for r in report.results] == ["system/disk", "example.com/mx"]
    with pytest.raises(ValidationError, match="There is no status section 'nowhere.example'."):
        demo_box.status.plan(sections=["nowhere.example"])
    with pytest.raises(ValidationError, match="There is no status check 'system/nothing'."):
        demo_box.status.plan(checks=["system/nothing"])


def test_a_fixed_record_shows_on_the_next_run(demo_box: Box, public_dns: LoopbackDns) -> None:
    assert messages(run(demo_box, checks=["example.com/mx"]), "example.com/mx")[0][0] == "error"
    public_dns.add("example.com", "MX", "10 box.example.com.")
    assert messages(run(demo_box, checks=["example.com/mx"]), "example.com/mx") == [
        ("ok", "Domain's email is directed to this domain. [example.com ↦ 10 box.example.com]")
    ]


# --- the engine --------------------------------------------------------------------------------


def test_tasks_come_back_as_they_finish_and_a_stuck_one_times_out() -> None:
    def sleeper(seconds: float) -> Task[str]:
        return Task(f"sleep {seconds}", lambda: time.sleep(seconds) or f"slept {seconds}", 1.0)

    start = time.monotonic()
    seen = []
    for outcome in run_tasks([sleeper(0.3), sleeper(5), sleeper(0.0)]):
        seen.append((outcome.key, outcome.timed_out, round(time.monotonic() - start, 1)))
    assert [s[0] for s in seen] == ["sleep 0.0", "sleep 0.3", "sleep 5"]
    assert seen[2][1] is True and seen[2][2] < 1.5  # reported at its limit, not waited for


def test_a_failing_task_is_its_own_outcome() -> None:
    def boom() -> str:
        raise RuntimeError("no")

    outcomes = list(run_tasks([Task("boom", boom, 1.0), Task("ok", lambda: "fine", 1.0)]))
    by_key = {o.key: o for o in outcomes}
    assert isinstance(by_key["boom"].error, RuntimeError)
    assert by_key["ok"].value == "fine"


def test_held_tasks_wait_for_the_gate() -> None:
    order: list[str] = []
    gate = Task("gate", lambda: time.sleep(0.2) or order.append("gate"), 2.0)
    held = Task("held", lambda: order.append("held"), 2.0, held=True)
    free = Task("free", lambda: order.append("free"), 2.0)
    keys = [o.key for o in run_tasks([held, free], gate=gate)]  # type: ignore[list-item]
    assert sorted(keys) == ["free", "held"]  # the gate itself is not reported
    assert order.index("held") > order.index("gate")


def test_closing_the_stream_early_stops_waiting(demo_box: Box, public_dns: LoopbackDns) -> None:
    public_dns.silent.add("example.com")
    start = time.monotonic()
    stream = demo_box.status.stream()
    next(stream)
    stream.close()
    assert time.monotonic() - start < 4.5  # not the 5 s the silent lookups would take


def test_a_face_can_stop_a_run_from_another_thread(demo_box: Box, public_dns: LoopbackDns) -> None:
    public_dns.silent.add("example.com")
    stop = threading.Event()
    start = time.monotonic()
    seen = 0
    for _ in demo_box.status.stream(stop=stop):
        seen += 1
        threading.Timer(0.05, stop.set).start()
    assert seen >= 1
    assert time.monotonic() - start < 4.5  # not the 5 s the silent lookups would take


# --- lookups -----------------------------------------------------------------------------------


def test_lookups_read_as_the_reference_reads_them(public_dns: LoopbackDns) -> None:
    public_dns.add("multi.example", "A", "192.0.2.2", "192.0.2.1")
    public_dns.add("v6.example", "AAAA", "2001:0db8:0:0::1")
    public_dns.add("mx.example", "MX", "20 b.example.", "10 a.example.")
    public_dns.add("txt.example", "TXT", '"v=spf1 " "mx -all"')
    public_dns.rcodes["refused.example"] = dns.rcode.REFUSED
    public_dns.silent.add("quiet.example")
    lookup = DnsLookup(public_dns.address, lifetime=0.5)
    assert lookup.text("multi.example", "A") == "192.0.2.1; 192.0.2.2"
    assert lookup.text("v6.example", "AAAA") == "2001:db8::1"
    assert lookup.text("mx.example", "MX") == "10 a.example; 20 b.example"
    assert lookup.query("txt.example", "TXT").txt() == ("v=spf1 mx -all",)
    assert lookup.text("missing.example", "A") == "[Not Set]"
    assert lookup.text("missing.example", "A", missing=None) is None
    assert lookup.query("refused.example", "A").outcome == "no-nameservers"
    assert lookup.text("quiet.example", "A") == "[timeout]"
    asked = len(public_dns.asked)
    assert lookup.text("multi.example", "A") == "192.0.2.1; 192.0.2.2"  # asked once per run
    assert len(public_dns.asked) == asked


# --- System ------------------------------------------------------------------------------------


def test_local_dns_down_stops_the_run_as_the_reference(demo_box: Box) -> None:
    service = demo_box.status
    ctx = service._context(rounded=False)
    ctx.probe_services = True
    ctx.dns._system = ["127.0.0.1"]  # this machine's resolver, as on a real box
    listening = socket.socket()
    try:
        down = listening.connect_ex(("127.0.0.1", 53)) != 0
    finally:
        listening.close()
    assert local_dns_down(ctx) is down
    sections, specs = service._catalogue(ctx, stopped=True)
    assert [s.id for s in sections] == ["system"]
    assert [s.info.id for s in specs] == ["system/services"]
    assert LOCAL_DNS_FATAL.startswith("The other checks were not run")


def listens(port: int | None) -> bool:
    with socket.socket() as probe:
        probe.settimeout(1)
        return probe.connect_ex(("127.0.0.1", port or 0)) == 0


def test_services_are_probed_on_a_real_box(demo_box: Box, public_dns: LoopbackDns) -> None:
    """With the box's address on loopback every probe stays on this machine: what listens
    counts as running, the rest is reported in the reference's words, with why."""
    demo_box.status.probe_services = True
    object.__setattr__(demo_box.config, "public_ip", "127.0.0.1")
    object.__setattr__(demo_box.config, "public_ipv6", "")
    listener = socket.socket()
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        listener.bind(("127.0.0.1", 4190))
    except OSError:
        pytest.skip("port 4190 is in use here")
    listener.listen()
    try:
        ctx = demo_box.status._context(rounded=False)
        table = [s for s in services(ssh_port(ctx)) if s.port]
        before = {s.port: listens(s.port) for s in table}
        report = run(demo_box, checks=["system/services"])
        after = {s.port: listens(s.port) for s in table}
    finally:
        listener.close()
    found = messages(report, "system/services")
    texts = [m for _, m in found]
    assert not any("Mail Filters (Sieve/dovecot)" in t for t in texts)
    # A port that opened or closed during the run (another test's server on this shared
    # machine) says nothing either way; every other port must be reported as it was.
    steady = [s for s in table if before[s.port] == after[s.port]]
    assert len(steady) >= len(table) - 2
    for service in steady:
        assert service.port is not None
        listening = before[service.port]
        expected = f"{service.name} is not running (port {service.port})."
        assert (expected in texts) is (not listening and service.port != 4190), service
    if not ctx.host.installed("fail2ban-client"):
        assert ("error", "fail2ban is not running.") in found
    items = {i.message: i for i in report.items()}
    opendkim = items.get("OpenDKIM is not running (port 8891).")
    if opendkim is not None and not ctx.host.installed("opendkim"):
        assert [e.text for e in opendkim.extra] == ["opendkim is not installed here."]


def test_updates_and_the_reboot_flag(demo_box: Box, public_dns: LoopbackDns) -> None:
    flag = demo_box.config.reboot_required_flag
    flag.parent.mkdir(parents=True, exist_ok=True)
    flag.write_text("*** System restart required ***\n")
    assert messages(run(demo_box, checks=["system/updates"]), "system/updates") == [
        ("error", "System updates have been installed and a reboot of the machine is required.")
    ]
    flag.unlink()
    found = messages(run(demo_box, checks=["system/updates"]), "system/updates")
    assert len(found) == 1
    status, text = found[0]
    if not demo_box.system.apt_installed:
        assert (status, text) == ("warning", NO_APT)
    elif text == "System software is up to date.":
        assert status == "ok"
    else:
        assert status == "error" and text.endswith(" software packages that can be updated.")


def test_version_check(demo_box: Box, public_dns: LoopbackDns, tmp_path: Path) -> None:
    from tests.core.test_system import UpstreamServer

    found = messages(run(demo_box, checks=["system/version"]), "system/version")
    assert found == [
        (
            "warning",
            "You are running version Mail-in-a-Box Unknown. Mail-in-a-Box version check "
            "disabled by privacy setting.",
        )
    ]
    write_setting(demo_box.config.settings_yaml, "privacy", False)
    with UpstreamServer(b"#!/bin/bash\nTAG=v75\n") as server:
        server.use_for(demo_box)
        found = messages(run(demo_box, checks=["system/version"]), "system/version")
    assert found == [
        (
            "error",
            "A new version of Mail-in-a-Box is available. You are running version Unknown. The "
            "latest version is v75. For upgrade instructions, see https://mailinabox.email. ",
        )
    ]
    report = run(demo_box, checks=["system/version"])  # the server is gone now
    item = report.items()[0]
    assert item.message == (
        "Latest Mail-in-a-Box version could not be determined. You are running version Unknown."
    )
    assert item.extra[0].text.startswith("The latest Mail-in-a-Box version could not be")
    assert item.extra[-1].text.startswith("miab-tui v")


def test_rounded_figures(demo_box: Box, public_dns: LoopbackDns) -> None:
    report = run(demo_box, checks=["system/disk", "system/memory"], rounded=True)
    texts = [i.message for i in report.items()]
    assert texts[0] in (
        "The disk has more than 30% free space.",
        "The disk has less than 30% free space.",
        "The disk has less than 15% free space.",
    )
    assert texts[1] in (
        "System free memory is at least 20%.",
        "System free memory is below 20%.",
        "System free memory is below 10%.",
    )


def test_alias_checks(demo_box: Box, public_dns: LoopbackDns) -> None:
    demo_box.mail.aliases.remove_alias("administrator@box.example.com", actor=TEST_ACTOR)
    assert messages(run(demo_box, checks=["system/administrator"]), "system/administrator") == [
        (
            "error",
            "You must add a mail alias for administrator@box.example.com which directs email to "
            "you or another administrator.",
        )
    ]


def test_backup_check(demo_box: Box, public_dns: LoopbackDns) -> None:
    found = messages(run(demo_box, checks=["system/backup"]), "system/backup")
    assert found[0] == ("ok", "Backups are enabled")
    if hasattr(demo_box, "backup"):
        assert found[1][1].startswith("Could not obtain backup status or no backup has been made")
    custom = demo_box.config.storage_root / "backup" / "custom.yaml"
    custom.parent.mkdir(parents=True, exist_ok=True)
    custom.write_text("target: 'off'\n")
    assert messages(run(demo_box, checks=["system/backup"]), "system/backup") == [
        ("warning", "Backups are disabled. It is recommended to enable a backup for your box.")
    ]


# --- Network -----------------------------------------------------------------------------------


def test_spamhaus_return_codes(demo_box: Box, public_dns: LoopbackDns) -> None:
    zen4 = "10.2.0.192.zen.spamhaus.org"
    check = "network/spamhaus"
    found = messages(run(demo_box, checks=[check]), check)
    assert found == [
        ("ok", "IPv4 address is not blacklisted by zen.spamhaus.org."),
        ("ok", "IPv6 address is not blacklisted by zen.spamhaus.org."),
    ]
    # The IPv6 name is nibble-reversed.
    assert any(
        n.startswith("0.1.0.0.0.0.0.0") and n.endswith(".8.b.d.0.1.0.0.2.zen.spamhaus.org")
        for n, _ in public_dns.asked
    )
    for code, expected in (
        (
            "127.0.0.2",
            (
                "error",
                "The IPv4 address of this machine 192.0.2.10 is listed in the "
                "Spamhaus Block List (code 127.0.0.2), which may prevent recipients from "
                "receiving your email. See http://www.spamhaus.org/query/ip/192.0.2.10.",
            ),
        ),
        (
            "127.255.255.254",
            (
                "warning",
                "Mail-in-a-Box is configured to use a public DNS server. "
                "This is not supported by spamhaus. Could not determine whether "
                "this box's IPv4 address is blacklisted.",
            ),
        ),
        (
            "127.255.255.255",
            (
                "warning",
                "Too many queries have been performed on the spamhaus "
                "server. Could not determine whether this box's IPv4 address is "
                "blacklisted.",
            ),
        ),
        (
            "127.255.255.252",
            (
                "warning",
                f"Incorrect spamhaus query: {zen4}. Could not determine "
                "whether this box's IPv4 address is blacklisted.",
            ),
        ),
    ):
        public_dns.records[(zen4, "A")] = [code]
        assert messages(run(demo_box, checks=[check]), check)[0] == expected
    del public_dns.records[(zen4, "A")]
    public_dns.rcodes[zen4] = dns.rcode.SERVFAIL
    assert messages(run(demo_box, checks=[check]), check)[0] == (
        "warning",
        "Could not connect to zen.spamhaus.org. Could not determine whether this box's IPv4 "
        "address is blacklisted. Please try again later.",
    )


def test_outbound_smtp_is_not_tried_from_a_local_box(
    demo_box: Box, public_dns: LoopbackDns
) -> None:
    found = messages(run(demo_box, checks=["network/outbound-smtp"]), "network/outbound-smtp")
    assert found == [
        (
            "warning",
            "This is a local box: it sends no mail, so outbound mail (SMTP port 25) was not "
            "checked.",
        )
    ]
    assert ("aspmx.l.google.com", "A") not in public_dns.asked


# --- domains -----------------------------------------------------------------------------------


def test_primary_hostname_checks(demo_box: Box, public_dns: LoopbackDns) -> None:
    public_dns.here(demo_box, PRIMARY, "ns1." + PRIMARY, "ns2." + PRIMARY)
    public_dns.add("10.2.0.192.in-addr.arpa", "PTR", PRIMARY + ".")
    public_dns.add(
        "0.1.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.b.d.0.1.0.0.2.ip6.arpa",
        "PTR",
        "elsewhere.example.",
    )
    report = run(demo_box, sections=[PRIMARY])
    assert messages(report, f"{PRIMARY}/glue") == [
        (
            "ok",
            f"Nameserver glue records are correct at registrar. [ns1/ns2.{PRIMARY} ↦ 192.0.2.10]",
        )
    ]
    assert messages(report, f"{PRIMARY}/address") == [
        ("ok", f"Domain resolves to box's IP address. [{PRIMARY} ↦ 192.0.2.10 / 2001:db8::10]")
    ]
    assert messages(report, f"{PRIMARY}/reverse-dns") == [
        (
            "error",
            "Your box's reverse DNS is currently box.example.com (IPv4) and elsewhere.example "
            "(IPv6), but it should be box.example.com. Your ISP or cloud provider will have "
            "instructions on setting up reverse DNS for your box.",
        )
    ]
    assert messages(report, f"{PRIMARY}/tlsa") == []  # not set and no DNSSEC: nothing to say
    assert messages(report, f"{PRIMARY}/tls") == [
        (
            "error",
            "The TLS (SSL) certificate for this domain is currently self-signed. You will get a "
            "security warning when you check or send email and when visiting this domain in a "
            "web browser (for webmail or static site hosting).",
        )
    ]
    tlsa = demo_box.dns.zone_facts().tlsa
    assert tlsa
    public_dns.add("_25._tcp." + PRIMARY, "TLSA", BAD_TLSA)
    assert messages(run(demo_box, checks=[f"{PRIMARY}/tlsa"]), f"{PRIMARY}/tlsa") == [
        (
            "error",
            f"The DANE TLSA record for incoming mail (_25._tcp.{PRIMARY}) is not correct. It is "
            f"'{BAD_TLSA}' but it should be '{tlsa}'. It may take several hours for public DNS "
            "to update after a change.",
        )
    ]


def test_mail_domain_checks(demo_box: Box, public_dns: LoopbackDns) -> None:
    public_dns.add("example.com", "MX", "10 mx.elsewhere.example.")
    public_dns.add("example.com.dbl.spamhaus.org", "A", "127.0.1.2")
    public_dns.add("example.com", "TXT", '"v=spf1 mx -all"')
    public_dns.add("_dmarc.example.com", "TXT", '"v=DMARC1; p=none"')
    report = run(demo_box, sections=["example.com"])
    assert messages(report, "example.com/mx") == [
        (
            "error",
            "This domain's DNS MX record is incorrect. It is currently set to "
            "'10 mx.elsewhere.example' but should be '10 box.example.com'. Mail will not be "
            "delivered to this box. It may take several hours for public DNS to update after a "
            "change. This problem may result from other issues listed here.",
        )
    ]
    assert messages(report, "example.com/mta-sts") == []  # mail does not come here
    assert messages(report, "example.com/dbl") == [
        (
            "error",
            "This domain is listed in the Spamhaus Domain Block List (code 127.0.1.2), which may "
            "prevent recipients from receiving your mail. See http://www.spamhaus.org/dbl/ and "
            "http://www.spamhaus.org/query/domain/example.com.",
        )
    ]
    assert messages(report, "example.com/spf") == [
        ("ok", "The SPF record is set correctly. [example.com]")
    ]
    dmarc = [i for i in report.items() if i.check == "example.com/dmarc"]
    assert dmarc[0].status is CheckStatus.WARNING
    assert dmarc[0].message.startswith(
        "The DMARC record (_dmarc.example.com) in public DNS is not the one this box publishes."
    )
    assert [e.text for e in dmarc[0].extra] == [
        "It is currently:",
        "v=DMARC1; p=none",
        "It should be:",
        "v=DMARC1; p=quarantine",
    ]
    public_dns.records[("example.com", "MX")] = ["20 box.example.com."]
    assert messages(run(demo_box, checks=["example.com/mx"]), "example.com/mx") == [
        (
            "ok",
            "Domain's email is directed to this domain. [example.com ↦ 20 box.example.com]  This "
            "configuration is non-standard.  The recommended configuration is "
            "'10 box.example.com'.",
        )
    ]
    found = messages(run(demo_box, checks=["example.com/mta-sts"]), "example.com/mta-sts")
    assert found == [("error", "MTA-STS policy is missing: STSFetchResult.NONE")]


def test_web_domain_and_certificate(
    demo_box: Box, public_dns: LoopbackDns, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = root_ca(start=NOW - datetime.timedelta(days=30))
    monkeypatch.setenv("SSL_CERT_FILE", str(write_ca_file(tmp_path / "roots.pem", root)))
    monkeypatch.setenv("SSL_CERT_DIR", str(tmp_path / "no-such-dir"))
    public_dns.here(demo_box, "www.example.com")
    public_dns.add("example.com", "A", "198.51.100.7")
    report = run(demo_box, sections=["example.com"])
    assert messages(report, "example.com/web-address") == [
        (
            "error",
            "This domain should resolve to your box's IP address (A 192.0.2.10) if you would like "
            "the box to serve webmail or a website on this domain. The domain currently resolves "
            "to 198.51.100.7 in public DNS. It may take several hours for public DNS to update "
            "after a change. This problem may result from other issues listed here.",
        )
    ]
    assert messages(report, "example.com/tls") == []  # it does not point here: not checked
    assert messages(report, "example.com/www.example.com/web-address") == [
        (
            "ok",
            "www.example.com: Domain resolves to this box's IP address. "
            "[www.example.com ↦ 192.0.2.10; 2001:db8::10]",
        )
    ]
    assert messages(report, "example.com/www.example.com/tls")[0][1].startswith(
        "www.example.com: No TLS (SSL) certificate is installed for this domain."
    )
    cert = leaf(
        root,
        box_key(demo_box.config.ssl_dir),
        ["www.example.com"],
        start=NOW - datetime.timedelta(days=1),
        days=60,
    )
    demo_box.tls.install("www.example.com", pem(cert), "", actor=TEST_ACTOR)
    expires = cert.not_valid_after_utc.date().isoformat()
    days = (cert.not_valid_after_utc - NOW).days
    check = "example.com/www.example.com/tls"
    assert messages(run(demo_box, checks=[check]), check) == [
        (
            "ok",
            f"www.example.com: TLS (SSL) certificate is signed & valid. The certificate expires "
            f"in {days} days on {expires}.",
        )
    ]
    # The nightly mode's rounded figures (SYSTEM.md §5, `--show-changes`).
    assert messages(run(demo_box, checks=[check], rounded=True), check) == [
        (
            "ok",
            "www.example.com: TLS (SSL) certificate is signed & valid. The certificate expires "
            f"on {expires}.",
        )
    ]


def test_web_disabled_by_a_custom_record(demo_box: Box, public_dns: LoopbackDns) -> None:
    demo_box.dns.add_custom_record("www.example.org", "A", "198.51.100.9", actor=TEST_ACTOR)
    report = run(demo_box, checks=["example.org/web-disabled"])
    assert messages(report, "example.org/web-disabled") == [
        (
            "warning",
            "A redirect from 'www.example.org' has been disabled for this domain because you have "
            "set a custom DNS record on the www subdomain.",
        )
    ]


def test_a_check_that_fails_says_so(demo_box: Box, public_dns: LoopbackDns) -> None:
    plan = demo_box.status.plan(checks=["system/memory"])
    spec = plan._specs[0]

    def broken(ctx: object, out: object) -> None:
        raise RuntimeError("unexpected")

    object.__setattr__(spec, "run", broken)
    [result] = list(demo_box.status.stream(plan))
    assert isinstance(result, CheckResult)
    assert [(i.status.value, i.message) for i in result.items] == [
        ("error", 'The check "Free memory" failed unexpectedly; the log has the details.')
    ]
