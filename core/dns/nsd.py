"""nsd's zone list (DNS.md §8), OpenDKIM's tables (STORAGE.md §3) and what the DNS area asks
of the services that read them.

`DnsHost` is the DNS area's use of the host door (`core.host`): the only place DNS touches
running programs, and it runs them only through `Host`. On a local box (made by `miab init`)
or a machine without the program it changes nothing and says so in the result, so a face
never reports "served" for zones nobody serves.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Final

from core.formats import nsd_address, nsd_name, nsd_zonefile, opendkim_domain, opendkim_path
from core.host import Host

if TYPE_CHECKING:
    from core.config import BoxConfig

NSD_ABSENT: Final = "nsd is not installed here: zone files written, not served"
NSD_LOCAL: Final = "this is a local box: zone files written, not served by nsd"
OPENDKIM_ABSENT: Final = "opendkim is not installed here: signing tables written, not used"
OPENDKIM_LOCAL: Final = "this is a local box: OpenDKIM tables written, not used by opendkim"
_TIMEOUT: Final = 60


def render_zones_conf(zone_files: Sequence[tuple[str, str]], xfr: Sequence[str]) -> str:
    """DNS.md §8: per zone an empty line, `zone:`, name and zonefile; then per transfer
    address a `notify` (not for subnets) and a `provide-xfr`.

    Every value passes the nsd.conf validator (core.formats).

    Raises:
        FormatError: a name, file or address that is not one (it could add a directive).
    """
    for address in xfr:
        nsd_address(address)
    out = []
    for zone, zonefile in zone_files:
        out.append(f"\nzone:\n\tname: {nsd_name(zone)}\n\tzonefile: {nsd_zonefile(zonefile)}\n")
        for address in xfr:
            if "/" not in address:
                out.append(f"\n\tnotify: {address} NOKEY")
            out.append(f"\n\tprovide-xfr: {address} NOKEY\n")
    return "".join(out)


def render_opendkim_tables(domains: Sequence[str], key_file: str) -> dict[str, str]:
    """STORAGE.md §3: one line per mail domain in KeyTable and SigningTable.

    Raises:
        FormatError: a domain that is not a DNS name, or a key path that is not one field.
    """
    opendkim_path(key_file)
    for domain in domains:
        opendkim_domain(domain)
    return {
        "KeyTable": "".join(f"{d} {d}:mail:{key_file}\n" for d in domains),
        "SigningTable": "".join(f"*@{d} {d}\n" for d in domains),
    }


class DnsHost:
    """Reloads nsd, restarts opendkim and flushes the local resolver (DNS.md §9 steps 3–5),
    through the host door (`core.host.Host`), in the DNS area's own words."""

    def __init__(self, config: BoxConfig, *, host: Host | None = None) -> None:
        self._config = config
        self.host = host or Host(config)

    def _absent_or_local(self, program: str, absent: str, local: str) -> str | None:
        # A local box never touches the machine's services, installed or not (so its output
        # is the same on every machine).
        if self.host.is_local:
            return local
        if not self.host.installed(program):
            return absent
        return None

    def reload_nsd(self) -> tuple[str, ...]:
        """Make nsd load the new zones (HEAD: nsd-control, falling back to a restart)."""
        note = self._absent_or_local("nsd", NSD_ABSENT, NSD_LOCAL)
        if note:
            return (note,)
        if self.host.installed("nsd-control"):
            reconfig = self.host.run(["nsd-control", "reconfig"], timeout=_TIMEOUT)
            reload = self.host.run(["nsd-control", "reload"], timeout=_TIMEOUT)
            if reconfig.ok and reload.ok:
                return ()
        return self._restart("nsd")

    def restart_opendkim(self) -> tuple[str, ...]:
        note = self._absent_or_local("opendkim", OPENDKIM_ABSENT, OPENDKIM_LOCAL)
        if note:
            return (note,)
        return self._restart("opendkim")

    def flush_resolver(self) -> None:
        """`rndc flush` so the box's own lookups see the change; errors ignored (as upstream)."""
        if self.host.is_local or not self.host.installed("rndc"):
            return
        self.host.run(["rndc", "flush"], timeout=_TIMEOUT)

    def _restart(self, service: str) -> tuple[str, ...]:
        done = self.host.restart(service, timeout=_TIMEOUT)
        return (done.note,) if done.note else ()
