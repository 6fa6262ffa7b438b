"""nsd's zone list (DNS.md §8), OpenDKIM's tables (STORAGE.md §3) and the one door to the host
services that read them.

`DnsHost` is the only place the DNS area touches running programs. On a local box (made by
`miab init`) or a machine without the program it changes nothing and says so in the result,
so a face never reports "served" for zones nobody serves.
"""

from __future__ import annotations

import contextlib
import shutil
import subprocess
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Final

from core.formats import nsd_address, nsd_name, nsd_zonefile, opendkim_domain, opendkim_path

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


Runner = Callable[[Sequence[str]], subprocess.CompletedProcess[str]]


def _run(argv: Sequence[str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(list(argv), capture_output=True, text=True, timeout=_TIMEOUT,
                          check=False)


class DnsHost:
    """Reloads nsd, restarts opendkim and flushes the local resolver (DNS.md §9 steps 3–5)."""

    def __init__(self, config: BoxConfig, *, run: Runner = _run,
                 which: Callable[[str], str | None] | None = None) -> None:
        self._config = config
        self._run = run
        self._which = which or (lambda name: shutil.which(
            name, path="/usr/sbin:/usr/bin:/sbin:/bin:/usr/local/sbin:/usr/local/bin"))

    def _absent_or_local(self, program: str, absent: str, local: str) -> str | None:
        # A local box never touches the machine's services, installed or not (so its output
        # is the same on every machine).
        if self._config.is_local:
            return local
        if self._which(program) is None:
            return absent
        return None

    def reload_nsd(self) -> tuple[str, ...]:
        """Make nsd load the new zones (HEAD: nsd-control, falling back to a restart)."""
        note = self._absent_or_local("nsd", NSD_ABSENT, NSD_LOCAL)
        if note:
            return (note,)
        control = self._which("nsd-control")
        if control is not None:
            reconfig = self._run([control, "reconfig"])
            reload = self._run([control, "reload"])
            if reconfig.returncode == 0 and reload.returncode == 0:
                return ()
        return self._restart("nsd")

    def restart_opendkim(self) -> tuple[str, ...]:
        note = self._absent_or_local("opendkim", OPENDKIM_ABSENT, OPENDKIM_LOCAL)
        if note:
            return (note,)
        return self._restart("opendkim")

    def flush_resolver(self) -> None:
        """`rndc flush` so the box's own lookups see the change; errors ignored (as upstream)."""
        rndc = self._which("rndc")
        if rndc is None or self._config.is_local:
            return
        with contextlib.suppress(OSError, subprocess.SubprocessError):
            self._run([rndc, "flush"])

    def _restart(self, service: str) -> tuple[str, ...]:
        try:
            done = self._run(["service", service, "restart"])
        except (OSError, subprocess.SubprocessError) as exc:
            return (f"{service} could not be restarted: {exc}",)
        if done.returncode != 0:
            detail = (done.stderr or done.stdout).strip().splitlines()
            return (f"{service} could not be restarted: "
                    f"{detail[-1] if detail else 'exit status ' + str(done.returncode)}",)
        return ()
