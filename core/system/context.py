"""What one status run knows about the box before it looks anything up (read once, in the
caller's thread, so the checks' threads touch no database), and how a check reports.
"""

from __future__ import annotations

import datetime
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, TypeVar

from core.dns.records import CustomRecord, DnsRecord
from core.host import Host
from core.system.dnsquery import DnsLookup
from core.system.model import CheckStatus, Extra

if TYPE_CHECKING:
    from core.system.service import SystemService
    from core.tls.inventory import Inventory
    from core.tls.service import TlsService

T = TypeVar("T")


@dataclass
class Facts:
    """The box as the checks see it, read at the start of a run."""

    primary: str
    public_ip: str
    public_ipv6: str
    private_ipv6: str
    storage_root: str
    mail_domains: frozenset[str]
    zones: tuple[str, ...]
    zone_files: dict[str, str]  # zone -> its file name in the nsd zones folder
    web_domains: frozenset[str]
    elsewhere: frozenset[str]  # names a custom record points elsewhere (web disabled)
    aliases: dict[str, str]  # address -> destination (both alias tables)
    custom: tuple[CustomRecord, ...]
    secondary_ns: tuple[str, ...]  # hostnames of the secondary nameserver setting
    tlsa: str | None  # the `_25._tcp` TLSA value the box publishes
    privacy: bool


class Memo:
    """Values computed once per run however many checks ask at once (e.g. `sshd -T`)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._locks: dict[str, threading.Lock] = {}
        self._values: dict[str, object] = {}

    def get(self, key: str, compute: Callable[[], T]) -> T:
        with self._lock:
            lock = self._locks.setdefault(key, threading.Lock())
        with lock:
            if key not in self._values:
                self._values[key] = compute()
            return self._values[key]  # type: ignore[return-value]


@dataclass
class StatusContext:
    """One run: the facts, the lookups, the host door and the services the checks ask."""

    facts: Facts
    dns: DnsLookup
    host: Host
    tls: TlsService
    inventory: Inventory
    system: SystemService
    now: datetime.datetime
    zones_dir: str
    dnssec_dir: str
    reboot_flag: str
    backup: object | None  # `box.backup` when the box has one
    local: bool  # a local box: its services are not run on this machine
    probe_services: bool  # connect to the services' ports (a real box)
    rounded: bool  # the nightly mode's rounded values
    zone_records: Callable[[str], tuple[DnsRecord, ...]]
    memo: Memo = field(default_factory=Memo)


class Findings:
    """What one check found, in order: items, each with the lines (`extra`) printed under it."""

    def __init__(self, prefix: str = "") -> None:
        self.prefix = prefix
        self.entries: list[tuple[CheckStatus, str, list[Extra]]] = []
        self.alternate = False  # the check asks for its second place in the section

    def _add(self, status: CheckStatus, message: str) -> None:
        self.entries.append((status, self.prefix + message, []))

    def ok(self, message: str) -> None:
        self._add(CheckStatus.OK, message)

    def warning(self, message: str) -> None:
        self._add(CheckStatus.WARNING, message)

    def error(self, message: str) -> None:
        self._add(CheckStatus.ERROR, message)

    def line(self, text: str, *, monospace: bool = False) -> None:
        """A line under the last item (the reference's `print_line`)."""
        if not self.entries:
            return
        self.entries[-1][2].append(Extra(self.prefix + text, monospace))
