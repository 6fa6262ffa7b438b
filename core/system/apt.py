"""Available package updates (SYSTEM.md §6): `apt-get -qq -s upgrade` read as the reference
reads it, kept for 8 hours in a file every process of the box shares (the reference keeps them
in its daemon's memory), and dropped early when the installed packages change.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from core.storage.files import atomic_write

CACHE_SECONDS: Final = 8 * 3600
DPKG_STATUS: Final = Path("/var/lib/dpkg/status")
_INST: Final = re.compile(r"^Inst (.*) \[(.*)\] \((\S*)")
MAX_LINE: Final = 1000  # characters of one unrecognised line kept


@dataclass(frozen=True, slots=True)
class PackageUpdate:
    """One upgradable package; a line apt printed that is not an `Inst` line is kept as its
    own entry with the line in brackets and no versions (as the reference does)."""

    package: str
    version: str
    current_version: str

    @property
    def line(self) -> str:
        """`NAME (NEWVERSION)`, the reference's line."""
        return f"{self.package} ({self.version})"


def parse_simulation(output: str) -> tuple[PackageUpdate, ...]:
    packages = []
    for line in output.split("\n"):
        if not line.strip() or line.startswith("Conf "):
            continue
        match = _INST.match(line)
        if match:
            packages.append(PackageUpdate(match.group(1), match.group(3), match.group(2)))
        else:
            packages.append(PackageUpdate("[" + line[:MAX_LINE] + "]", "", ""))
    return tuple(packages)


def _dpkg_stamp() -> int:
    try:
        return os.stat(DPKG_STATUS).st_mtime_ns
    except OSError:
        return 0


def read_cache(path: Path, *, now: float | None = None) -> tuple[PackageUpdate, ...] | None:
    """The cached list if it is under 8 hours old and no package was installed since."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        written, stamp, rows = float(data["time"]), int(data["dpkg"]), data["packages"]
        packages = tuple(PackageUpdate(str(p), str(v), str(c)) for p, v, c in rows)
    except (OSError, ValueError, KeyError, TypeError):
        return None
    now = time.time() if now is None else now
    if not 0 <= now - written < CACHE_SECONDS or stamp != _dpkg_stamp():
        return None
    return packages


def write_cache(path: Path, packages: tuple[PackageUpdate, ...]) -> None:
    data = {
        "time": time.time(),
        "dpkg": _dpkg_stamp(),
        "packages": [[p.package, p.version, p.current_version] for p in packages],
    }
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    atomic_write(path, json.dumps(data), mode=0o600)


def forget_cache(path: Path) -> None:
    with contextlib.suppress(FileNotFoundError):
        path.unlink()
