"""PEM files as the reference reads them (SYSTEM.md §1.1–§1.2): blocks split out, the first block
decides what a file is, and the reasons it gives when a file is not what was expected."""

from __future__ import annotations

import base64
import binascii
import re
from dataclasses import dataclass
from typing import Final

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import dsa, ec, ed448, ed25519, rsa

_BLOCK: Final = re.compile(
    rb"-----BEGIN ([A-Z0-9 ]{1,64})-----\r?\n(.*?)-----END \1-----", re.DOTALL
)
CERTIFICATE_TYPES: Final = frozenset({"CERTIFICATE", "TRUSTED CERTIFICATE", "X509 CERTIFICATE"})
KEY_TYPES: Final = frozenset(
    {"PRIVATE KEY", "RSA PRIVATE KEY", "EC PRIVATE KEY", "DSA PRIVATE KEY"}
)
# The box's own keys are RSA (SYSTEM.md §1.7); HEAD also pairs EC and DSA keys.
PrivateKey = rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey | dsa.DSAPrivateKey
SPKI: Final = (serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)


class PemError(ValueError):
    """A file is not what it should be; the message is the reference's reason."""


@dataclass(frozen=True, slots=True)
class PemBlock:
    kind: str  # e.g. CERTIFICATE, RSA PRIVATE KEY
    data: bytes  # the whole block, BEGIN to END, newline-terminated


def pem_blocks(data: bytes) -> list[PemBlock]:
    """Every PEM block in `data`, in order.

    Raises:
        PemError: `File does not contain valid PEM data.` / `File is not a valid PEM-formatted file.`
    """
    if b"-----BEGIN " not in data:
        raise PemError("File does not contain valid PEM data.")
    blocks: list[PemBlock] = []
    for match in _BLOCK.finditer(data):
        body = b"".join(match.group(2).split())
        try:
            base64.b64decode(body, validate=True)
        except (binascii.Error, ValueError):
            raise PemError("File is not a valid PEM-formatted file.") from None
        blocks.append(PemBlock(match.group(1).decode("ascii"), match.group(0) + b"\n"))
    if not blocks:
        raise PemError("File is not a valid PEM-formatted file.")
    return blocks


def load_chain(data: bytes) -> list[x509.Certificate]:
    """The certificates of a file whose first block is a certificate (leaf first, then chain).

    Raises:
        PemError: the reference's reason (`This is not a certificate file.`, ...).
    """
    blocks = pem_blocks(data)
    first = blocks[0].kind
    if first in KEY_TYPES:
        raise PemError("This is not a certificate file.")
    if first not in CERTIFICATE_TYPES:
        raise PemError(f"Unsupported PEM object type: {first}")
    chain: list[x509.Certificate] = []
    for block in blocks:
        if block.kind not in CERTIFICATE_TYPES:
            continue  # openssl ignores other blocks in a chain file; so do we
        try:
            chain.append(x509.load_pem_x509_certificate(block.data))
        except ValueError as exc:
            raise PemError(f"The certificate could not be read: {_reason(exc)}") from None
    return chain


def load_private_key(data: bytes) -> PrivateKey:
    """The private key in a file whose first block is a private key.

    Raises:
        PemError: the reason it is not a (supported) private key.
    """
    blocks = pem_blocks(data)
    if blocks[0].kind not in KEY_TYPES:
        if blocks[0].kind in CERTIFICATE_TYPES:
            raise PemError("This is a certificate file, not a private key.")
        raise PemError(f"Unsupported PEM object type: {blocks[0].kind}")
    try:
        key = serialization.load_pem_private_key(blocks[0].data, password=None)
    except (ValueError, TypeError) as exc:
        raise PemError(_reason(exc)) from None
    if isinstance(key, ed25519.Ed25519PrivateKey | ed448.Ed448PrivateKey) or not isinstance(
        key, rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey | dsa.DSAPrivateKey
    ):
        raise PemError("Unsupported private key type.")
    return key


def spki(public_key: object) -> bytes:
    """A public key's SubjectPublicKeyInfo (DER): what pairs a certificate with its key."""
    return public_key.public_bytes(*SPKI)  # type: ignore[attr-defined,no-any-return]


def _reason(exc: Exception) -> str:
    # cryptography's messages can span lines (OpenSSL error stacks); the first says it.
    text = str(exc).strip().splitlines()
    return text[0] if text else type(exc).__name__
