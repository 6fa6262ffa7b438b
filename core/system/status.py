"""`box.status`: the status checks (SYSTEM.md §5), run concurrently and streamed as they finish.

    plan = box.status.plan()                 # sections and checks, nothing looked up yet
    for result in box.status.stream(plan):   # one CheckResult per check, as each finishes
        ...
    report = box.status.run()                # all of them, in the reference's order
    report.as_reference()                    # POST /system/status's list

`plan(sections=..., checks=...)` runs part of the catalogue again (one section, one check).
Every check has its own time limit and the lookups it needs are shared and started at once, so
a whole run takes about as long as its slowest check. The reference's order is kept in the
report whatever order the checks finish in.

On a local box (`miab init`) the services are not run on this machine: the services check says
so instead of probing ports, and nothing connects to the box's (made-up) public addresses.
"""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import logging
import threading
from collections.abc import Callable, Collection, Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Final

from core.config import parse_conf
from core.dns.records import DnsRecord, build_zone, dump_records
from core.dns.secondary import ns_hostnames
from core.dns.zones import zone_file_name
from core.errors import ValidationError
from core.host import Host
from core.hostnames import DNS_RESOLVER_KEY
from core.mail.domains import sort_domains
from core.system import checks_domain as dom
from core.system import checks_system as sysc
from core.system.context import Facts, Findings, StatusContext
from core.system.dnsquery import DnsLookup
from core.system.engine import Outcome, Task, run_tasks
from core.system.model import (
    NETWORK_SECTION,
    SYSTEM_SECTION,
    Area,
    CheckInfo,
    CheckResult,
    CheckStatus,
    Extra,
    Section,
    StatusItem,
    StatusReport,
)
from core.web.domains import web_domains

if TYPE_CHECKING:
    from core.box import Box

log = logging.getLogger("miab.status")

SUBDOMAIN_LABELS: Final = ("www", "autoconfig", "autodiscover")
GROUPED_LABELS: Final = ("www", "autoconfig", "autodiscover", "mta-sts")
FLUSH_TIMEOUT: Final = 5.0

CheckRun = Callable[[StatusContext, Findings], None]


@dataclass(frozen=True, slots=True)
class Kind:
    title: str
    area: Area
    timeout: float
    uses_dns: bool


# Every check of the catalogue: its title, the area that can fix it, its time limit, and
# whether it looks names up (those wait for the resolver's cache flush on a real box).
KINDS: Final[dict[str, Kind]] = {
    "services": Kind("System services", "services", 20.0, False),
    "ssh": Kind("SSH password login", "system", 10.0, False),
    "updates": Kind("Software updates", "system", 60.0, False),
    "version": Kind("Mail-in-a-Box version", "system", 10.0, False),
    "administrator": Kind("System administrator address", "mail", 5.0, False),
    "disk": Kind("Free disk space", "system", 5.0, False),
    "memory": Kind("Free memory", "system", 5.0, False),
    "backup": Kind("Backups", "backup", 30.0, False),
    "firewall": Kind("Firewall", "system", 10.0, False),
    "outbound-smtp": Kind("Outbound mail (port 25)", "outside", 12.0, True),
    "spamhaus": Kind("Spamhaus block list (ZEN)", "outside", 12.0, True),
    "name": Kind("Domain name", "dns", 5.0, False),
    "dnssec-primary": Kind("DNSSEC of the primary hostname's zone", "outside", 12.0, True),
    "glue": Kind("Nameserver glue records", "outside", 12.0, True),
    "address": Kind("The box's address in public DNS", "dns", 12.0, True),
    "reverse-dns": Kind("Reverse DNS", "outside", 12.0, True),
    "tlsa": Kind("DANE TLSA record", "dns", 12.0, True),
    "hostmaster": Kind("Hostmaster contact address", "mail", 5.0, False),
    "dnssec": Kind("DNSSEC (DS record at the registrar)", "outside", 12.0, True),
    "nameservers": Kind("Nameservers at the registrar", "outside", 25.0, True),
    "mx": Kind("MX record", "dns", 12.0, True),
    "mta-sts": Kind("MTA-STS policy", "web", 25.0, True),
    "postmaster": Kind("Postmaster contact address", "mail", 5.0, False),
    "dbl": Kind("Spamhaus domain block list (DBL)", "outside", 12.0, True),
    "spf": Kind("SPF record", "dns", 12.0, True),
    "dkim": Kind("DKIM record", "dns", 12.0, True),
    "dmarc": Kind("DMARC record", "dns", 12.0, True),
    "web-address": Kind("Web address in public DNS", "dns", 12.0, True),
    "tls": Kind("TLS certificate", "tls", 12.0, True),
    "web-disabled": Kind("Web serving", "dns", 5.0, False),
}

SYSTEM_CHECKS: Final[tuple[tuple[str, CheckRun], ...]] = (
    ("services", sysc.check_services),
    ("ssh", sysc.check_ssh),
    ("updates", sysc.check_updates),
    ("version", sysc.check_version),
    ("administrator", sysc.check_administrator),
    ("disk", sysc.check_disk),
    ("memory", sysc.check_memory),
    ("backup", sysc.check_backup),
)
NETWORK_CHECKS: Final[tuple[tuple[str, CheckRun], ...]] = (
    ("firewall", sysc.check_firewall),
    ("outbound-smtp", sysc.check_outbound_smtp),
    ("spamhaus", sysc.check_spamhaus),
)


@dataclass(frozen=True, slots=True)
class _Spec:
    info: CheckInfo
    run: CheckRun
    order: tuple[int, int]
    alt_order: tuple[int, int] | None = None
    prefix: str = ""


@dataclass(frozen=True)
class StatusPlan:
    """What a run will check: its sections (in report order) and checks. `stopped` says why
    the catalogue was cut short ("" when it was not): the reference stops after the services
    when the local DNS server is down, since every later check would wait on it."""

    sections: tuple[Section, ...]
    checks: tuple[CheckInfo, ...]
    stopped: str = ""
    _specs: tuple[_Spec, ...] = field(default=(), repr=False, compare=False)
    _context: StatusContext | None = field(default=None, repr=False, compare=False)


class StatusService:
    """The status checks of a box.

    `nameserver` ("IP" or "IP:PORT") overrides the box's `MIAB_DNS_RESOLVER` setting, which is
    read from the conf file at each run; None for both means the system's resolver.
    `probe_services` None means: probe the services' ports on a real box, not on a local one.
    """

    def __init__(self, box: Box, *, probe_services: bool | None = None) -> None:
        self._box = box
        self.nameserver: str | None = None
        self.probe_services = probe_services

    # --- planning ---------------------------------------------------------------------------

    def resolver_setting(self) -> str | None:
        if self.nameserver:
            return self.nameserver
        config = self._box.config
        if config.conf_path is not None:
            try:
                values = parse_conf(config.conf_path.read_text(encoding="utf-8", errors="replace"))
            except OSError:
                values = {}
            if DNS_RESOLVER_KEY in values:
                return values[DNS_RESOLVER_KEY] or None
        return config.extra.get(DNS_RESOLVER_KEY) or None

    def _context(self, rounded: bool) -> StatusContext:
        box = self._box
        config = box.config
        zone_facts = box.dns.zone_facts()
        aliases = {a: d for a, d, _ in box.mail.aliases.rows()}
        if box.schema.has_auto_aliases:
            for address, destination in box.db.query(
                "SELECT source, destination FROM auto_aliases"
            ):
                aliases.setdefault(address, destination)
        facts = Facts(
            primary=config.primary_hostname,
            public_ip=config.public_ip,
            public_ipv6=config.public_ipv6,
            private_ipv6=config.private_ipv6,
            storage_root=str(config.storage_root),
            mail_domains=frozenset(zone_facts.mail_domains),
            zones=tuple(zone_facts.zones),
            zone_files={z: zone_file_name(z) for z in zone_facts.zones},
            web_domains=frozenset(web_domains(zone_facts)),
            elsewhere=frozenset(box.dns.domains_with_a_records_elsewhere()),
            aliases=aliases,
            custom=zone_facts.custom,
            secondary_ns=tuple(ns_hostnames(" ".join(box.dns.secondary_nameservers()))),
            tlsa=zone_facts.tlsa,
            privacy=box.system.privacy(),
        )
        records: dict[str, tuple[DnsRecord, ...]] = {}

        def zone_records(zone: str) -> tuple[DnsRecord, ...]:
            if zone not in records:
                records[zone] = dump_records(zone, build_zone(zone, zone_facts))
            return records[zone]

        probe = self.probe_services if self.probe_services is not None else not config.is_local
        return StatusContext(
            facts=facts,
            dns=DnsLookup(self.resolver_setting()),
            host=Host(config),
            tls=box.tls,
            inventory=box.tls.inventory(),
            system=box.system,
            now=box.tls.now(),
            zones_dir=str(config.nsd_zones_dir),
            dnssec_dir=str(config.dnssec_dir),
            reboot_flag=str(config.reboot_required_flag),
            backup=getattr(box, "backup", None),
            local=config.is_local,
            probe_services=probe,
            rounded=rounded,
            zone_records=zone_records,
        )

    def plan(
        self,
        *,
        sections: Collection[str] | None = None,
        checks: Collection[str] | None = None,
        rounded: bool = False,
    ) -> StatusPlan:
        """The checks to run: the whole catalogue, or only the named sections (`system`,
        `network`, a domain in IDNA or Unicode) and/or checks (ids from an earlier plan).
        `rounded` is the reference's nightly mode (disk, memory and expiry in round figures).

        When the local DNS server is down on a real box, only the services are checked, as
        the reference does, whatever was asked for (`stopped` says why).

        Raises:
            ValidationError: a section or check that this box does not have.
        """
        ctx = self._context(rounded)
        stopped = sysc.LOCAL_DNS_FATAL if sysc.local_dns_down(ctx) else ""
        all_sections, specs = self._catalogue(ctx, stopped=bool(stopped))
        if stopped:  # only the services are checked, whatever was asked for: `stopped` says why
            return StatusPlan(
                tuple(all_sections), tuple(s.info for s in specs), stopped, tuple(specs), ctx
            )
        wanted_sections = self._wanted_sections(sections, all_sections)
        known = {s.info.id for s in specs}
        for check in checks or ():
            if check not in known:
                raise ValidationError(f"There is no status check {check[:200]!r}.", field="check")
        if sections is not None or checks is not None:
            chosen = {c for c in checks or ()}
            specs = [s for s in specs if s.info.section in wanted_sections or s.info.id in chosen]
            keep = {s.info.section for s in specs} | wanted_sections
            all_sections = [s for s in all_sections if s.id in keep]
        return StatusPlan(
            tuple(all_sections),
            tuple(s.info for s in specs),
            stopped,
            tuple(specs),
            ctx,
        )

    def _wanted_sections(self, sections: Collection[str] | None, known: list[Section]) -> set[str]:
        wanted: set[str] = set()
        ids = {s.id for s in known}
        for name in sections or ():
            key = name.strip().rstrip(".")
            with contextlib.suppress(UnicodeError, ValueError):
                key = key.lower() if key.lower() in ids else key.encode("idna").decode("ascii")
            if key.lower() not in ids:
                raise ValidationError(
                    f"There is no status section {name[:200]!r}.", field="section"
                )
            wanted.add(key.lower())
        return wanted

    def _catalogue(self, ctx: StatusContext, *, stopped: bool) -> tuple[list[Section], list[_Spec]]:
        facts = ctx.facts
        system = Section(SYSTEM_SECTION, "System", "system", 0)
        if stopped:
            services = next(c for c in SYSTEM_CHECKS if c[0] == "services")
            return [system], [self._spec(system, None, services[0], services[1], 0)]
        network = Section(NETWORK_SECTION, "Network", "network", 1)
        sections = [system, network]
        specs = [self._spec(system, None, k, f, n) for n, (k, f) in enumerate(SYSTEM_CHECKS)]
        specs += [self._spec(network, None, k, f, n) for n, (k, f) in enumerate(NETWORK_CHECKS)]
        everything = facts.mail_domains | set(facts.zones) | facts.web_domains
        grouped = {
            d
            for d in everything
            if d.split(".", 1)[0] in GROUPED_LABELS
            and len(d.split(".", 1)) == 2
            and d.split(".", 1)[1] in everything
        }
        for index, domain in enumerate(sort_domains(everything - grouped, facts.primary), 2):
            section = Section(domain, dom.display(domain)[0], "domain", index)
            sections.append(section)
            specs += self._domain_specs(ctx, section, domain, "", [0])
        return sections, specs

    @staticmethod
    def _spec(
        section: Section,
        domain: str | None,
        kind: str,
        run: CheckRun,
        number: int,
        *,
        sub: str | None = None,
        prefix: str = "",
    ) -> _Spec:
        k = KINDS[kind]
        check_id = "/".join(p for p in (section.id, sub, kind) if p)
        info = CheckInfo(check_id, section.id, kind, k.title, domain, k.area, k.timeout, k.uses_dns)
        return _Spec(info, run, (section.index, number), prefix=prefix)

    def _domain_specs(
        self, ctx: StatusContext, section: Section, domain: str, prefix: str, counter: list[int]
    ) -> list[_Spec]:
        """The checks of one domain in the reference's order (A–E), then those of its
        `www.`/`autoconfig.`/`autodiscover.` names (F), with `prefix` before each message."""
        facts = ctx.facts
        sub = domain if prefix else None
        specs: list[_Spec] = []

        def add(kind: str, check: dom.Check) -> _Spec:
            spec = self._spec(
                section,
                domain,
                kind,
                functools.partial(_for_domain, check, domain),
                counter[0],
                sub=sub,
                prefix=prefix,
            )
            counter[0] += 1
            specs.append(spec)
            return spec

        if dom.display(domain)[1]:
            add("name", dom.check_name)
        if domain == facts.primary:
            for kind, check in (
                ("dnssec-primary", dom.check_primary_dnssec),
                ("glue", dom.check_glue),
                ("address", dom.check_address),
                ("reverse-dns", dom.check_reverse_dns),
                ("tlsa", dom.check_tlsa),
                ("hostmaster", dom.check_hostmaster),
            ):
                add(kind, check)
        zone = domain in facts.zones
        dnssec: _Spec | None = None
        if zone:
            dnssec = add("dnssec", dom.check_dnssec)
            add("nameservers", dom.check_nameservers)
        if domain in facts.mail_domains:
            for kind, check in (
                ("mx", dom.check_mx),
                ("mta-sts", dom.check_mta_sts),
                ("postmaster", dom.check_postmaster),
                ("dbl", dom.check_dbl),
                ("spf", dom.check_spf),
                ("dkim", dom.check_dkim),
                ("dmarc", dom.check_dmarc),
            ):
                add(kind, check)
        if domain in facts.web_domains:
            if domain != facts.primary:
                add("web-address", dom.check_web_address)
            add("tls", dom.check_tls)
        if zone:
            add("web-disabled", dom.check_web_disabled)
        if dnssec is not None:
            # Without a DS at the registrar, the DNSSEC suggestion ends the section.
            specs[specs.index(dnssec)] = dataclasses.replace(
                dnssec, alt_order=(section.index, counter[0])
            )
            counter[0] += 1
        for label in SUBDOMAIN_LABELS:
            name = f"{label}.{domain}"
            if name in facts.web_domains or name in facts.mail_domains:
                specs += self._domain_specs(
                    ctx, section, name, dom.display(name)[0] + ": ", counter
                )
        return specs

    # --- running ----------------------------------------------------------------------------

    def stream(
        self, plan: StatusPlan | None = None, *, stop: threading.Event | None = None
    ) -> Iterator[CheckResult]:
        """Run `plan` (the whole catalogue if None), yielding each check's result as it
        finishes. Closing the iterator, or setting `stop` from another thread (a face's cancel
        button), ends the run: running checks end on their own, the rest never start."""
        plan = plan if plan is not None else self.plan()
        ctx = plan._context
        if ctx is None:
            return
        by_id = {s.info.id: s for s in plan._specs}
        gate = self._flush_gate(ctx) if any(s.info.uses_dns for s in plan._specs) else None
        tasks = [
            Task(
                s.info.id,
                functools.partial(_execute, s, ctx),
                s.info.timeout,
                held=gate is not None and s.info.uses_dns,
            )
            for s in plan._specs
        ]
        for outcome in run_tasks(tasks, gate=gate, stop=stop):
            yield _result(by_id[outcome.key], outcome)

    def run(self, plan: StatusPlan | None = None) -> StatusReport:
        """Every check of `plan` (the whole catalogue if None), in the reference's order."""
        plan = plan if plan is not None else self.plan()
        return StatusReport.of(plan.sections, self.stream(plan))

    def _flush_gate(self, ctx: StatusContext) -> Task[object] | None:
        """The reference flushes bind9's cache (`rndc flush`) before looking anything up, so
        the checks see public DNS as it is now. Only on a real box using its local resolver."""
        if ctx.local or not ctx.probe_services or not ctx.dns.local_resolver:
            return None
        if not ctx.host.installed("rndc"):
            return None
        return Task(
            "rndc flush",
            lambda: ctx.host.run(["rndc", "flush"], timeout=FLUSH_TIMEOUT),
            FLUSH_TIMEOUT + 1,
        )


def _for_domain(check: dom.Check, domain: str, ctx: StatusContext, out: Findings) -> None:
    check(ctx, out, domain)


def _execute(spec: _Spec, ctx: StatusContext) -> Findings:
    out = Findings(spec.prefix)
    spec.run(ctx, out)
    return out


def _result(spec: _Spec, outcome: Outcome[Findings]) -> CheckResult:
    info = spec.info
    order: tuple[int, ...] = spec.order
    items: tuple[StatusItem, ...]
    if outcome.timed_out:
        items = (
            StatusItem(
                info.section,
                info.id,
                CheckStatus.WARNING,
                f'{spec.prefix}The check "{info.title}" did not finish within '
                f"{info.timeout:g} seconds.",
            ),
        )
    elif outcome.error is not None or outcome.value is None:
        log.error("status check %s failed", info.id, exc_info=outcome.error)
        items = (
            StatusItem(
                info.section,
                info.id,
                CheckStatus.ERROR,
                f'{spec.prefix}The check "{info.title}" failed unexpectedly; the log has the '
                "details.",
            ),
        )
    else:
        found = outcome.value
        if found.alternate and spec.alt_order is not None:
            order = spec.alt_order
        items = tuple(
            StatusItem(info.section, info.id, status, message, tuple(extra))
            for status, message, extra in found.entries
        )
    return CheckResult(info, items, outcome.elapsed, order, outcome.timed_out)


__all__ = ["CheckResult", "Extra", "StatusPlan", "StatusReport", "StatusService"]
