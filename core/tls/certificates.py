"""The box's TLS key and certificates (STORAGE.md §5, SYSTEM.md §1): making the key as setup
does, the TLSA value of the key in use (DNS.md §2.1), and which names have a certificate that
passes the reference's check (DNS.md §2 step 13).
"""

from __future__ import annotations

import datetime
import hashlib
import os
import secrets
from collections.abc import Iterable
from pathlib import Path
from typing import Final

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from core.storage.files import atomic_write

CERT_MIN_DAYS: Final = 10


# --- TLS key and TLSA ------------------------------------------------------------------------


def ensure_tls_key(ssl_dir: Path) -> bool:
    """Create the box's RSA-2048 `ssl_private_key.pem` (0600) as setup does (SYSTEM.md §1.7),
    unless there is one. True if created."""
    path = ssl_dir / "ssl_private_key.pem"
    if path.exists():
        return False
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    atomic_write(
        path,
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.TraditionalOpenSSL,
            serialization.NoEncryption(),
        ),
        mode=0o600,
    )
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
                (ssl_dir / "ssl_private_key.pem").read_bytes(), password=None
            )
            der = key.public_key().public_bytes(*der_format)
        except (OSError, ValueError, TypeError):
            return None
    return "3 1 1 " + hashlib.sha256(der).hexdigest()


# --- certificates ----------------------------------------------------------------------------


def valid_certificate_names(
    ssl_dir: Path, names: Iterable[str], now: float, primary_hostname: str | None = None
) -> frozenset[str]:
    """The names among `names` whose certificate (the primary hostname's link for it, else the
    best of its own or a wildcard) passes the reference's full check (DNS.md §2 step 13): our
    own key, not self-signed, a chain to the system's trusted roots, more than 10 days left."""
    from core.tls.check import OK, check_certificate
    from core.tls.inventory import scan

    wanted = set(names)
    if not wanted:
        return frozenset()
    when = datetime.datetime.fromtimestamp(now, datetime.UTC)
    inventory = scan(ssl_dir, primary_hostname or "", when)
    good: set[str] = set()
    for name in wanted:
        cert = (
            inventory.system_certificate()
            if name == primary_hostname
            else inventory.for_domain(name)
        )
        if cert is None:
            continue
        check = check_certificate(
            name, cert.chain, cert.key_path, now=when, warn_days=CERT_MIN_DAYS
        )
        if check.verdict == OK:
            good.add(name)
    return frozenset(good)


# --- the initial self-signed certificate ------------------------------------------------------


def ensure_system_certificate(ssl_dir: Path, primary_hostname: str, now: float) -> bool:
    """Make the box's key if missing, and, when `ssl_certificate.pem` is missing, a self-signed
    certificate for the primary hostname (365 days, as setup does: STORAGE.md §5) with the link
    pointing at it, so a new box serves TLS at once. True if a certificate was made."""
    ensure_tls_key(ssl_dir)
    link = ssl_dir / "ssl_certificate.pem"
    if link.exists():
        return False
    key = serialization.load_pem_private_key(
        (ssl_dir / "ssl_private_key.pem").read_bytes(), password=None
    )
    if not isinstance(key, rsa.RSAPrivateKey):
        raise ValueError("ssl_private_key.pem is not an RSA key")
    start = datetime.datetime.fromtimestamp(now, datetime.UTC).replace(microsecond=0)
    name = x509.Name([x509.NameAttribute(x509.NameOID.COMMON_NAME, primary_hostname)])
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(start)
        .not_valid_after(start + datetime.timedelta(days=365))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName(primary_hostname)]), False)
        .sign(key, hashes.SHA256())
    )
    path = ssl_dir / f"{primary_hostname}-selfsigned-{start:%Y%m%d}.pem"
    atomic_write(path, cert.public_bytes(serialization.Encoding.PEM))
    point_link(link, path)
    return True


def point_link(link: Path, target: Path) -> None:
    """Point the symlink `link` at `target` atomically (a new link renamed over the old), so
    postfix, dovecot and nginx never find it missing."""
    tmp = link.with_name(f".{link.name}.{os.getpid()}.{secrets.token_hex(4)}.tmp")
    os.symlink(target, tmp)
    try:
        os.replace(tmp, link)
    except OSError:
        os.unlink(tmp)
        raise
