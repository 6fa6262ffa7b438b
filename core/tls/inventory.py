"""Which certificates the box has and which serves each domain (SYSTEM.md §1.1, STORAGE.md §5).

Every file in `ssl/` and one level of folders is read; the first PEM block decides whether it
is a certificate or a private key. A certificate is usable when a key with its public key is
there too (for the primary hostname: only `ssl_private_key.pem`). For each name, candidates
rank by: valid now, not self-signed, latest expiry, then path (last first).
"""

from __future__ import annotations

import contextlib
import datetime
import os
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Final

from cryptography import x509

from core.tls.check import certificate_names, wildcard_of
from core.tls.pem import (
    CERTIFICATE_TYPES,
    KEY_TYPES,
    PemError,
    PrivateKey,
    load_chain,
    load_private_key,
    pem_blocks,
    spki,
)

SYSTEM_CERT: Final = "ssl_certificate.pem"
SYSTEM_KEY: Final = "ssl_private_key.pem"
# A file bigger than this is not a certificate or key anyone meant (a chain of ten
# certificates is about 20 kB): it is skipped, not read.
MAX_PEM_FILE: Final = 1 << 20


@dataclass(frozen=True, slots=True)
class CertFile:
    """One certificate file: its leaf, the chain after it, and the key file that pairs."""

    path: Path
    chain: tuple[x509.Certificate, ...]
    names: frozenset[str]
    cn: str | None
    key_path: Path | None

    @property
    def leaf(self) -> x509.Certificate:
        return self.chain[0]

    @property
    def self_signed(self) -> bool:
        return self.leaf.issuer == self.leaf.subject


@dataclass(frozen=True, slots=True)
class Inventory:
    ssl_dir: Path
    certs: tuple[CertFile, ...]
    keys: dict[bytes, tuple[Path, PrivateKey]]
    best: dict[str, CertFile] = field(default_factory=dict)  # name (wildcards too) → best

    def for_domain(self, domain: str) -> CertFile | None:
        """The best usable certificate for `domain`: its own name, else the wildcard."""
        return self.best.get(domain) or self.best.get(wildcard_of(domain))

    def system_certificate(self) -> CertFile | None:
        """What `ssl_certificate.pem` (the primary hostname's link) holds, with the system key;
        None if the link or its file is missing or unreadable."""
        path = self.ssl_dir / SYSTEM_CERT
        try:
            chain = load_chain(_read(path))
        except (OSError, PemError):
            return None
        names, cn = certificate_names(chain[0])
        return CertFile(path, tuple(chain), names, cn, self.ssl_dir / SYSTEM_KEY)

    def link_target(self) -> Path | None:
        try:
            return Path(os.readlink(self.ssl_dir / SYSTEM_CERT))
        except OSError:
            return None


def _read(path: Path) -> bytes:
    with open(path, "rb") as f:
        data = f.read(MAX_PEM_FILE + 1)
    if len(data) > MAX_PEM_FILE:
        raise PemError("File is too large to be a certificate or a key.")
    return data


def _files(ssl_dir: Path) -> list[Path]:
    try:
        entries = sorted(os.scandir(ssl_dir), key=lambda e: e.name)
    except OSError:
        return []
    files: list[Path] = []
    for entry in entries:
        if entry.name == SYSTEM_CERT:
            continue
        try:
            if entry.is_file():
                files.append(Path(entry.path))
            elif entry.is_dir():
                files.extend(
                    Path(e.path)
                    for e in sorted(os.scandir(entry.path), key=lambda e: e.name)
                    if e.is_file()
                )
        except OSError:
            continue
    return files


def listing_stamp(ssl_dir: Path) -> tuple[object, ...]:
    """Changes whenever a file in `ssl/` (or a folder one level down) or the link changes."""
    stamp: list[object] = []
    for path in [ssl_dir / SYSTEM_CERT, *_files(ssl_dir)]:
        try:
            st = os.stat(path)
        except OSError:
            continue
        stamp.append((str(path), st.st_mtime_ns, st.st_size, st.st_ino))
    with contextlib.suppress(OSError):
        stamp.append(os.readlink(ssl_dir / SYSTEM_CERT))
    return tuple(stamp)


def scan(ssl_dir: Path, primary_hostname: str, now: datetime.datetime) -> Inventory:
    """Read `ssl/` and rank each name's candidates (SYSTEM.md §1.1)."""
    keys: dict[bytes, tuple[Path, PrivateKey]] = {}
    certs: list[CertFile] = []
    chains: list[tuple[Path, list[x509.Certificate]]] = []
    for path in _files(ssl_dir):
        try:
            data = _read(path)
            first = pem_blocks(data)[0].kind
        except (OSError, PemError):
            continue
        if first in KEY_TYPES:
            try:
                key = load_private_key(data)
            except PemError:
                continue
            keys.setdefault(spki(key.public_key()), (path, key))
        elif first in CERTIFICATE_TYPES:
            try:
                chains.append((path, load_chain(data)))
            except PemError:
                continue
    system_key = ssl_dir / SYSTEM_KEY
    candidates: dict[str, list[CertFile]] = {}
    for path, chain in chains:
        names, cn = certificate_names(chain[0])
        paired = keys.get(spki(chain[0].public_key()))
        cert = CertFile(path, tuple(chain), names, cn, paired[0] if paired else None)
        certs.append(cert)
        if paired is None:
            continue
        for name in names:
            if name == primary_hostname and cert.key_path != system_key:
                continue
            candidates.setdefault(name, []).append(cert)
    now = now.astimezone(datetime.UTC)
    best = {
        name: max(
            options,
            key=lambda c: (
                c.leaf.not_valid_before_utc <= now <= c.leaf.not_valid_after_utc,
                not c.self_signed,
                c.leaf.not_valid_after_utc,
                str(c.path),
            ),
        )
        for name, options in candidates.items()
    }
    return Inventory(ssl_dir, tuple(certs), keys, best)


class InventoryCache:
    """One scan per change of `ssl/` (and per hour, since ranking depends on the time)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._key: tuple[object, ...] | None = None
        self._value: Inventory | None = None

    def get(self, ssl_dir: Path, primary_hostname: str, now: datetime.datetime) -> Inventory:
        key = (listing_stamp(ssl_dir), primary_hostname, int(now.timestamp() // 3600))
        with self._lock:
            if self._key == key and self._value is not None:
                return self._value
        value = scan(ssl_dir, primary_hostname, now)
        with self._lock:
            self._key, self._value = key, value
        return value
