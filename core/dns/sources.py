"""Facts the records are built from that live in files: the DKIM key (STORAGE.md §3), the SSH
host keys for SSHFP (DNS.md §2.2) and the MTA-STS policy (DNS.md §2 step 13). The TLS key and
certificates (TLSA, which names have a valid certificate) are read by `core.tls`.

Each reader is cheap and cached by the files' modification times, because the DNS update runs
after every user or alias change.
"""

from __future__ import annotations

import base64
import hashlib
import re
import threading
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Final, TypeVar

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from core.storage.files import atomic_write
from core.tls import ensure_tls_key, tlsa_value, valid_certificate_names

# The TLS readers live in core.tls; the DNS update uses them from here.
__all__ = [
    "DKIM_SELECTOR",
    "FileCache",
    "ensure_dkim_key",
    "ensure_tls_key",
    "file_stamp",
    "mta_sts_policy_id",
    "parse_dkim_txt",
    "ssh_host_key_files",
    "sshfp_values",
    "tlsa_value",
    "valid_certificate_names",
]

T = TypeVar("T")

DKIM_SELECTOR: Final = "mail"
# The reference's parse of OpenDKIM's mail.txt (DNS.md §2 step 8).
_DKIM_RE: Final = re.compile(r'(\S+)\s+IN\s+TXT\s+\( ((?:"[^"]+"\s+)+)\)', re.S)
_SSHFP_ALGORITHMS: Final = {"ssh-rsa": 1, "ssh-dss": 2, "ecdsa-sha2-nistp256": 3, "ssh-ed25519": 4}


def file_stamp(paths: Iterable[Path]) -> tuple[tuple[str, int, int], ...]:
    out = []
    for path in paths:
        try:
            st = path.stat()
        except OSError:
            continue
        out.append((str(path), st.st_mtime_ns, st.st_size))
    return tuple(out)


class FileCache:
    """Values computed from files, recomputed only when their stat changes."""

    def __init__(self) -> None:
        self._values: dict[str, tuple[object, object]] = {}
        self._lock = threading.Lock()

    def get(self, name: str, key: object, compute: Callable[[], T]) -> T:
        with self._lock:
            hit = self._values.get(name)
        if hit is not None and hit[0] == key:
            return hit[1]  # type: ignore[return-value]
        value = compute()
        with self._lock:
            self._values[name] = (key, value)
        return value

    def clear(self) -> None:
        with self._lock:
            self._values.clear()


# --- DKIM -----------------------------------------------------------------------------------


def ensure_dkim_key(dkim_dir: Path, hostname: str) -> bool:
    """Create `mail.private` (RSA-2048, 0600) and `mail.txt` as `opendkim-genkey -b 2048 -r -s
    mail` does at setup, unless the key exists. True if created."""
    private_path = dkim_dir / "mail.private"
    if private_path.exists():
        return False
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.TraditionalOpenSSL,
        serialization.NoEncryption(),
    )
    public = base64.b64encode(
        key.public_key().public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
        )
    ).decode()
    p = "p=" + public
    chunks = [p[i : i + 250] for i in range(0, len(p), 250)]
    record = (
        f'{DKIM_SELECTOR}._domainkey\tIN\tTXT\t( "v=DKIM1; h=sha256; k=rsa; s=email; "\n'
        + "".join(f'\t  "{c}"\n' for c in chunks[:-1])
        + f'\t  "{chunks[-1]}" )  ; ----- DKIM key {DKIM_SELECTOR} for {hostname}\n'
    )
    atomic_write(private_path, pem, mode=0o600)
    atomic_write(dkim_dir / "mail.txt", record)
    return True


def parse_dkim_txt(text: str) -> tuple[str, str] | None:
    """(qname, value) from OpenDKIM's `mail.txt`: owner name and the quoted strings joined."""
    match = _DKIM_RE.match(text)
    if not match:
        return None
    return match.group(1), "".join(re.findall(r'"([^"]+)"', match.group(2)))


# --- SSHFP ----------------------------------------------------------------------------------


def ssh_host_key_files(ssh_dir: Path) -> list[Path]:
    try:
        return sorted(ssh_dir.glob("ssh_host_*_key.pub"))
    except OSError:
        return []


def sshfp_values(ssh_dir: Path) -> tuple[str, ...]:
    """DNS.md §2.2, from the host's public key files instead of `ssh-keyscan localhost` (same
    keys, no running sshd needed): `<alg> 2 ( <SHA-256 uppercase hex> )`, sorted as the
    keyscan lines, unknown key types skipped."""
    keys: list[tuple[str, str]] = []
    for path in ssh_host_key_files(ssh_dir):
        try:
            parts = path.read_text(encoding="ascii").split()
        except (OSError, UnicodeDecodeError):
            continue
        if len(parts) >= 2:
            keys.append((parts[0], parts[1]))
    values = []
    for keytype, b64 in sorted(set(keys), key=lambda k: f"{k[0]} {k[1]}"):
        if keytype not in _SSHFP_ALGORITHMS:
            continue
        try:
            blob = base64.b64decode(b64, validate=True)
        except ValueError:
            continue
        values.append(
            f"{_SSHFP_ALGORITHMS[keytype]} 2 ( {hashlib.sha256(blob).hexdigest().upper()} )"
        )
    return tuple(values)


# --- MTA-STS ----------------------------------------------------------------------------------


def mta_sts_policy_id(policy_file: Path) -> str:
    """First 20 characters of base64(SHA-1(policy)) with `A` for `+` and `/`; "" if none."""
    try:
        data = policy_file.read_bytes()
    except OSError:
        return ""
    return base64.b64encode(hashlib.sha1(data).digest(), altchars=b"AA").decode("ascii")[:20]
