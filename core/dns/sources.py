"""Facts the records are built from that live in files: the DKIM key (STORAGE.md §3), the TLS
key for TLSA (STORAGE.md §5, DNS.md §2.1), the SSH host keys for SSHFP (DNS.md §2.2) and the
MTA-STS policy and certificates (DNS.md §2 step 13).

Each reader is cheap and cached by the files' modification times, because the DNS update runs
after every user or alias change.
"""

from __future__ import annotations

import base64
import datetime
import hashlib
import os
import re
import ssl
import threading
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Final, TypeVar

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.verification import PolicyBuilder, Store, VerificationError

from core.storage.files import atomic_write

T = TypeVar("T")

DKIM_SELECTOR: Final = "mail"
# The reference's parse of OpenDKIM's mail.txt (DNS.md §2 step 8).
_DKIM_RE: Final = re.compile(r'(\S+)\s+IN\s+TXT\s+\( ((?:"[^"]+"\s+)+)\)', re.S)
_SSHFP_ALGORITHMS: Final = {"ssh-rsa": 1, "ssh-dss": 2, "ecdsa-sha2-nistp256": 3,
                            "ssh-ed25519": 4}
CERT_MIN_DAYS: Final = 10


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
    pem = key.private_bytes(serialization.Encoding.PEM,
                            serialization.PrivateFormat.TraditionalOpenSSL,
                            serialization.NoEncryption())
    public = base64.b64encode(key.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)).decode()
    p = "p=" + public
    chunks = [p[i:i + 250] for i in range(0, len(p), 250)]
    record = (f'{DKIM_SELECTOR}._domainkey\tIN\tTXT\t( "v=DKIM1; h=sha256; k=rsa; s=email; "\n'
              + "".join(f'\t  "{c}"\n' for c in chunks[:-1])
              + f'\t  "{chunks[-1]}" )  ; ----- DKIM key {DKIM_SELECTOR} for {hostname}\n')
    atomic_write(private_path, pem, mode=0o600)
    atomic_write(dkim_dir / "mail.txt", record)
    return True


def parse_dkim_txt(text: str) -> tuple[str, str] | None:
    """(qname, value) from OpenDKIM's `mail.txt`: owner name and the quoted strings joined."""
    match = _DKIM_RE.match(text)
    if not match:
        return None
    return match.group(1), "".join(re.findall(r'"([^"]+)"', match.group(2)))


# --- TLS key and TLSA -----------------------------------------------------------------------

def ensure_tls_key(ssl_dir: Path) -> bool:
    """Create the box's RSA-2048 `ssl_private_key.pem` (0600) as setup does (SYSTEM.md §1.7),
    unless there is one. True if created."""
    path = ssl_dir / "ssl_private_key.pem"
    if path.exists():
        return False
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    atomic_write(path, key.private_bytes(serialization.Encoding.PEM,
                                         serialization.PrivateFormat.TraditionalOpenSSL,
                                         serialization.NoEncryption()), mode=0o600)
    return True


def tlsa_value(ssl_dir: Path) -> str | None:
    """DNS.md §2.1: `3 1 1` + SHA-256 of the leaf certificate's SubjectPublicKeyInfo.

    Without a certificate the key's own public key gives the same value, since every
    certificate the box uses is made for `ssl_private_key.pem`."""
    der_format = (serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    try:
        cert = x509.load_pem_x509_certificate((ssl_dir / "ssl_certificate.pem").read_bytes())
        der = cert.public_key().public_bytes(*der_format)
    except (OSError, ValueError):
        try:
            key = serialization.load_pem_private_key(
                (ssl_dir / "ssl_private_key.pem").read_bytes(), password=None)
            der = key.public_key().public_bytes(*der_format)
        except (OSError, ValueError, TypeError):
            return None
    return "3 1 1 " + hashlib.sha256(der).hexdigest()


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
        values.append(f"{_SSHFP_ALGORITHMS[keytype]} 2 ( "
                      f"{hashlib.sha256(blob).hexdigest().upper()} )")
    return tuple(values)


# --- MTA-STS ----------------------------------------------------------------------------------

def mta_sts_policy_id(policy_file: Path) -> str:
    """First 20 characters of base64(SHA-1(policy)) with `A` for `+` and `/`; "" if none."""
    try:
        data = policy_file.read_bytes()
    except OSError:
        return ""
    return base64.b64encode(hashlib.sha1(data).digest(), altchars=b"AA").decode("ascii")[:20]


def _pem_blocks(directory: Path) -> Iterable[Path]:
    try:
        entries = list(os.scandir(directory))
    except OSError:
        return []
    files: list[Path] = []
    for entry in entries:
        if entry.name == "ssl_certificate.pem":
            continue
        if entry.is_file():
            files.append(Path(entry.path))
        elif entry.is_dir():
            try:
                files.extend(Path(e.path) for e in os.scandir(entry.path) if e.is_file())
            except OSError:
                continue
    return files


def _covers(cert: x509.Certificate, name: str) -> bool:
    names = {a.value for a in cert.subject.get_attributes_for_oid(x509.NameOID.COMMON_NAME)}
    try:
        san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName)
        names.update(san.value.get_values_for_type(x509.DNSName))
    except x509.ExtensionNotFound:
        pass
    return name in names or ("*." + name.partition(".")[2]) in names


def valid_certificate_names(ssl_dir: Path, names: Iterable[str], now: float) -> frozenset[str]:
    """The names among `names` for which `ssl/` holds a certificate that passes the
    reference's full check (DNS.md §2 step 13): our own key, not self-signed, a chain to the
    system's trusted roots, and more than 10 days left."""
    wanted = set(names)
    if not wanted:
        return frozenset()
    keys: set[bytes] = set()
    certs: list[tuple[x509.Certificate, list[x509.Certificate]]] = []
    for path in _pem_blocks(ssl_dir):
        try:
            data = path.read_bytes()
        except OSError:
            continue
        if b"PRIVATE KEY-----" in data.split(b"\n", 1)[0]:
            try:
                key = serialization.load_pem_private_key(data, password=None)
                keys.add(key.public_key().public_bytes(
                    serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo))
            except (ValueError, TypeError):
                continue
        elif b"BEGIN CERTIFICATE" in data:
            try:
                chain = x509.load_pem_x509_certificates(data)
            except ValueError:
                continue
            certs.append((chain[0], chain[1:]))
    cafile = ssl.get_default_verify_paths().cafile or ssl.get_default_verify_paths().openssl_cafile
    try:
        with open(cafile, "rb") as f:
            store = Store(x509.load_pem_x509_certificates(f.read()))
    except (OSError, ValueError, TypeError):
        return frozenset()
    when = datetime.datetime.fromtimestamp(now, datetime.UTC)
    good: set[str] = set()
    for leaf, intermediates in certs:
        spki = leaf.public_key().public_bytes(serialization.Encoding.DER,
                                              serialization.PublicFormat.SubjectPublicKeyInfo)
        if spki not in keys or leaf.issuer == leaf.subject:
            continue
        if (leaf.not_valid_after_utc - when).days < CERT_MIN_DAYS:
            continue
        for name in wanted - good:
            if not _covers(leaf, name):
                continue
            try:
                verifier = PolicyBuilder().store(store).time(when).build_server_verifier(
                    x509.DNSName(name))
                verifier.verify(leaf, intermediates)
            except (VerificationError, ValueError):
                continue
            good.add(name)
    return frozenset(good)
