"""Status checks for the Dashboard's tests and snapshots.

- `quick_checks(box, dns)`: the real checks, made quick: public DNS asked of a fake server on
  loopback (every name NXDOMAIN, at once) and apt's list of updates already kept, so a whole
  run takes a fraction of a second instead of waiting on lookups and `apt-get -s upgrade`.
- `FixedStatus`: stands in for `box.status` with a fixed catalogue and fixed results (the
  snapshots' pictures are the same on every run); `GatedStatus` hands its results out only as
  the test releases them, to watch them stream in.
"""

from __future__ import annotations

import threading
from collections.abc import Collection, Iterator, Sequence
from dataclasses import dataclass, field

from core import Box
from core.system import (
    CheckInfo,
    CheckResult,
    CheckStatus,
    Extra,
    Section,
    StatusItem,
    StatusPlan,
)
from core.system.apt import PackageUpdate, write_cache
from core.system.status import KINDS
from core.tls.service import DNS_RESOLVER_KEY
from tests.tui.tls_box import FakeDns

PACKAGES = (
    PackageUpdate("libssl3", "3.0.15-1~deb12u1", "3.0.14-1~deb12u2"),
    PackageUpdate("openssh-server", "1:9.2p1-2+deb12u4", "1:9.2p1-2+deb12u3"),
)


def quick_checks(box: Box, dns: FakeDns, packages: Sequence[PackageUpdate] = PACKAGES) -> None:
    conf = box.config.conf_path
    assert conf is not None
    with conf.open("a") as f:
        f.write(f"{DNS_RESOLVER_KEY}=127.0.0.1:{dns.port}\n")
    write_cache(box.system.apt_cache, tuple(packages))


# --- fixed results ----------------------------------------------------------------------------

OK, WARNING, ERROR = CheckStatus.OK, CheckStatus.WARNING, CheckStatus.ERROR

SECTIONS = (
    Section("system", "System", "system", 0),
    Section("network", "Network", "network", 1),
    Section("box.example.com", "box.example.com", "domain", 2),
    Section("example.com", "example.com", "domain", 3),
    Section("xn--bcher-kva.example", "bücher.example", "domain", 4),
)

# (section, sub-name or "", kind, [(status, message, extra lines)])
Found = list[tuple[CheckStatus, str, tuple[str, ...]]]
CATALOGUE: list[tuple[str, str, str, Found]] = [
    ("system", "", "services", [(OK, "All system services are running.", ())]),
    (
        "system",
        "",
        "updates",
        [
            (
                ERROR,
                "There are 2 software packages that can be updated.",
                tuple(p.line for p in PACKAGES),
            )
        ],
    ),
    (
        "system",
        "",
        "version",
        [
            (
                WARNING,
                "You are running version Mail-in-a-Box v69. Mail-in-a-Box version check disabled "
                "by privacy setting.",
                (),
            )
        ],
    ),
    ("system", "", "disk", [(OK, "The disk has 41.20 GB space remaining.", ())]),
    (
        "system",
        "",
        "backup",
        [(WARNING, "Backups are disabled. It is recommended to enable a backup for your box.", ())],
    ),
    ("network", "", "firewall", [(OK, "Firewall is active.", ())]),
    (
        "network",
        "",
        "spamhaus",
        [(OK, "IPv4 address is not blacklisted by zen.spamhaus.org.", ())],
    ),
    (
        "box.example.com",
        "",
        "reverse-dns",
        [
            (
                ERROR,
                "Your box's reverse DNS is currently [Not Set], but it should be "
                "box.example.com. Your ISP or cloud provider will have instructions on setting "
                "up reverse DNS for your box.",
                (),
            )
        ],
    ),
    (
        "box.example.com",
        "",
        "hostmaster",
        [
            (
                OK,
                "Hostmaster contact address exists as a mail alias. "
                "[hostmaster@box.example.com ↦ administrator@box.example.com]",
                (),
            )
        ],
    ),
    (
        "box.example.com",
        "",
        "tls",
        [(OK, "TLS (SSL) certificate is signed & valid. The certificate expires in 60 days.", ())],
    ),
    ("example.com", "", "nameservers", [(OK, "Nameservers are set correctly.", ())]),
    (
        "example.com",
        "",
        "mx",
        [
            (
                ERROR,
                "This domain's DNS MX record is not set. It should be '10 box.example.com'. "
                "Mail will not be delivered to this box.",
                (),
            )
        ],
    ),
    (
        "example.com",
        "",
        "postmaster",
        [(ERROR, "Postmaster contact address is not a mail alias.", ())],
    ),
    (
        "example.com",
        "",
        "spf",
        [
            (
                WARNING,
                "The SPF record (example.com) is not set in public DNS. Without it, other mail "
                "servers may treat mail from this domain as spam.",
                ("It should be:", "v=spf1 mx -all"),
            )
        ],
    ),
    ("example.com", "", "dkim", [(OK, "DKIM record is set correctly.", ())]),
    (
        "example.com",
        "www.example.com",
        "tls",
        [
            (
                WARNING,
                "www.example.com: The TLS (SSL) certificate is signed & valid. The certificate "
                "expires in 12 days.",
                (),
            )
        ],
    ),
    (
        "xn--bcher-kva.example",
        "",
        "nameservers",
        [
            (
                ERROR,
                "The nameservers set on this domain are incorrect. They are currently [Not Set]. "
                "Use your domain name registrar's control panel to set the nameservers to "
                "ns1.box.example.com; ns2.box.example.com.",
                (),
            )
        ],
    ),
    (
        "xn--bcher-kva.example",
        "",
        "mta-sts",
        [(ERROR, "The MTA-STS policy is missing: https://mta-sts.xn--bcher-kva.example/", ())],
    ),
    ("xn--bcher-kva.example", "", "mx", [(OK, "Domain's email is directed to this domain.", ())]),
]


def fixed_results() -> tuple[tuple[Section, ...], list[CheckResult]]:
    """The sections and every check's result of the fixed catalogue, in report order."""
    sections = {s.id: s for s in SECTIONS}
    counters: dict[str, int] = {}
    results = []
    for section_id, sub, kind, found in CATALOGUE:
        section = sections[section_id]
        number = counters.get(section_id, 0)
        counters[section_id] = number + 1
        check_id = "/".join(p for p in (section_id, sub, kind) if p)
        spec = KINDS[kind]
        domain = (sub or section_id) if section.kind == "domain" else None
        info = CheckInfo(
            check_id, section_id, kind, spec.title, domain, spec.area, spec.timeout, spec.uses_dns
        )
        items = tuple(
            StatusItem(section_id, check_id, status, message, tuple(Extra(e) for e in extra))
            for status, message, extra in found
        )
        results.append(CheckResult(info, items, 0.01, (section.index, number)))
    return tuple(sections.values()), results


@dataclass
class FixedStatus:
    """`box.status` with the fixed catalogue: `plan` honours `sections` and `checks` as core's
    does; `stream` yields the planned checks' results, the last first (the screen keeps the
    report's order whatever order they come in). `plans` records every plan asked for."""

    plans: list[tuple[Collection[str] | None, Collection[str] | None]] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.sections, self.results = fixed_results()

    def plan(
        self,
        *,
        sections: Collection[str] | None = None,
        checks: Collection[str] | None = None,
        rounded: bool = False,
    ) -> StatusPlan:
        self.plans.append((sections, checks))
        infos = [r.check for r in self.results]
        if sections is not None or checks is not None:
            infos = [i for i in infos if i.section in (sections or ()) or i.id in (checks or ())]
        wanted = {i.section for i in infos} | set(sections or ())
        shown = tuple(
            s for s in self.sections if sections is None and checks is None or s.id in wanted
        )
        return StatusPlan(shown, tuple(infos))

    def stream(
        self, plan: StatusPlan | None = None, *, stop: threading.Event | None = None
    ) -> Iterator[CheckResult]:
        plan = plan if plan is not None else self.plan()
        ids = {info.id for info in plan.checks}
        for result in reversed(self.results):
            if result.check.id in ids:
                yield result


class GatedStatus(FixedStatus):
    """FixedStatus whose results come only as `release(n)` lets them (or `stop` is set)."""

    def __post_init__(self) -> None:
        super().__post_init__()
        self.gate = threading.Semaphore(0)

    def release(self, count: int) -> None:
        for _ in range(count):
            self.gate.release()

    def stream(
        self, plan: StatusPlan | None = None, *, stop: threading.Event | None = None
    ) -> Iterator[CheckResult]:
        for result in super().stream(plan, stop=stop):
            while not self.gate.acquire(timeout=0.05):
                if stop is not None and stop.is_set():
                    return
            yield result
