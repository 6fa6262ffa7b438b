"""Certificates for the TLS screen's tests and snapshots, made with `cryptography` and always
the same: CA keys derived from fixed numbers, ECDSA signatures deterministic (RFC 6979), fixed
serial numbers and dates from the fixed clock. With the box key checked in (dns_keys) every
fingerprint and TLSA value in a picture is the same on every run.
"""

from __future__ import annotations

import datetime
import socket
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import dns.exception
import dns.message
import dns.rcode
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from core import Box
from core.audit import Actor
from core.tls.certificates import point_link
from core.tls.inventory import SYSTEM_CERT, SYSTEM_KEY
from tests.conftest import FIXED_TIME

NOW = datetime.datetime.fromtimestamp(FIXED_TIME, datetime.UTC)
DAY = datetime.timedelta(days=1)
TEST_ACTOR = Actor("tester", "cli")
Key = rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey


def _name(cn: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])


def _usage(*, ca: bool) -> x509.KeyUsage:
    return x509.KeyUsage(
        digital_signature=True,
        content_commitment=False,
        key_encipherment=not ca,
        data_encipherment=False,
        key_agreement=False,
        key_cert_sign=ca,
        crl_sign=ca,
        encipher_only=False,
        decipher_only=False,
    )


def _sign(builder: x509.CertificateBuilder, key: Key) -> x509.Certificate:
    if isinstance(key, ec.EllipticCurvePrivateKey):
        return builder.sign(key, hashes.SHA256(), ecdsa_deterministic=True)
    return builder.sign(key, hashes.SHA256())  # RSA PKCS#1 v1.5: deterministic already


@dataclass(frozen=True)
class Issuer:
    cert: x509.Certificate
    key: Key


def _ca(subject: str, number: int, issuer: Issuer | None, serial: int) -> Issuer:
    key = ec.derive_private_key(number, ec.SECP256R1())
    builder = (
        x509.CertificateBuilder()
        .subject_name(_name(subject))
        .issuer_name(issuer.cert.subject if issuer else _name(subject))
        .public_key(key.public_key())
        .serial_number(serial)
        .not_valid_before(NOW - 400 * DAY)
        .not_valid_after(NOW + 3000 * DAY)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(_usage(ca=True), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), False)
    )
    if issuer is not None:
        builder = builder.add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(issuer.key.public_key()), False
        )
    return Issuer(_sign(builder, issuer.key if issuer else key), key)


@dataclass(frozen=True)
class TestCa:
    root: Issuer
    intermediate: Issuer

    __test__ = False  # not a test class, whatever pytest thinks of the name


def make_ca() -> TestCa:
    root = _ca("Miab Test Root CA", 0x5EED_0001, None, 1)
    return TestCa(root, _ca("Miab Test Issuing CA R1", 0x5EED_0002, root, 2))


def leaf(
    issuer: Issuer | None,
    key: Key,
    names: Sequence[str],
    *,
    start: datetime.datetime,
    end: datetime.datetime,
    serial: int,
) -> x509.Certificate:
    """A server certificate for `names` (CN = the first); `issuer` None: self-signed."""
    subject = _name(names[0])
    builder = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer.cert.subject if issuer else subject)
        .public_key(key.public_key())
        .serial_number(serial)
        .not_valid_before(start)
        .not_valid_after(end)
        .add_extension(x509.SubjectAlternativeName([x509.DNSName(n) for n in names]), False)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(_usage(ca=False), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), False)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), False)
    )
    if issuer is not None:
        builder = builder.add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(issuer.key.public_key()), False
        )
    return _sign(builder, issuer.key if issuer else key)


def pem(*certs: x509.Certificate) -> str:
    return "".join(c.public_bytes(serialization.Encoding.PEM).decode() for c in certs)


def box_key(box: Box) -> rsa.RSAPrivateKey:
    key = serialization.load_pem_private_key(
        (box.config.ssl_dir / SYSTEM_KEY).read_bytes(), password=None
    )
    assert isinstance(key, rsa.RSAPrivateKey)
    return key


def trust(ca: TestCa, directory: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Make the test CA the only root this process trusts: core.tls.check reads
    SSL_CERT_FILE (and SSL_CERT_DIR) as OpenSSL does."""
    path = directory / "test-ca.pem"
    path.write_text(pem(ca.root.cert))
    monkeypatch.setenv("SSL_CERT_FILE", str(path))
    monkeypatch.setenv("SSL_CERT_DIR", str(directory / "no-ca-dir"))


def no_public_dns(box: Box, here: Sequence[str] = ()) -> None:
    """Answer the public DNS checks without the network (they are not what these tests are
    about): the names in `here` point at the box, every other name has no address."""
    config = box.config

    def lookup(name: str, rtype: str) -> str:
        if name in here:
            return config.public_ip if rtype == "A" else (config.public_ipv6 or "[Not Set]")
        return "[Not Set]"

    box.tls.lookup = lookup


def write_chain(box: Box, name: str, *certs: x509.Certificate) -> Path:
    """A certificate file in ssl/ as another tool would leave it (install refuses some)."""
    path = box.config.ssl_dir / name
    path.write_text(pem(*certs))
    return path


def own_self_signed(box: Box) -> None:
    """The primary hostname's self-signed certificate again, for the box key in use: the test
    boxes get their keys copied in after `init_box` made the first one."""
    ssl_dir = box.config.ssl_dir
    for old in ssl_dir.glob("*-selfsigned-*.pem"):
        old.unlink()
    cert = leaf(None, box_key(box), [box.hostname], start=NOW, end=NOW + 365 * DAY, serial=1000)
    path = write_chain(box, f"{box.hostname}-selfsigned-{NOW:%Y%m%d}.pem", cert)
    point_link(ssl_dir / SYSTEM_CERT, path)


def certificate_states(box: Box, ca: TestCa) -> None:
    """One domain in each state the screen colours (the demo box's domains)."""
    key = box_key(box)
    issuing = ca.intermediate
    chain = pem(issuing.cert)
    own_self_signed(box)
    # Signed and valid: the primary hostname (60 days), example.com and www (25: yellow).
    primary = leaf(
        issuing, key, [box.hostname], start=NOW - 30 * DAY, end=NOW + 60 * DAY, serial=1001
    )
    box.tls.install(box.hostname, pem(primary), chain, actor=TEST_ACTOR)
    com = leaf(
        issuing,
        key,
        ["example.com", "www.example.com"],
        start=NOW - 65 * DAY,
        end=NOW + 25 * DAY,
        serial=1002,
    )
    box.tls.install("example.com", pem(com), chain, actor=TEST_ACTOR)
    # What install refuses, as files another tool left: expiring in 5 days, self-signed,
    # expired, and a missing intermediate.
    net = leaf(issuing, key, ["example.net"], start=NOW - 85 * DAY, end=NOW + 5 * DAY, serial=1003)
    write_chain(box, "example.net-expiring.pem", net, issuing.cert)
    org = leaf(None, key, ["example.org"], start=NOW - DAY, end=NOW + 364 * DAY, serial=1004)
    write_chain(box, "example.org-selfsigned.pem", org)
    old = leaf(
        issuing,
        key,
        ["xn--bcher-kva.example"],
        start=NOW - 100 * DAY,
        end=NOW - 10 * DAY,
        serial=1005,
    )
    write_chain(box, "xn--bcher-kva.example-expired.pem", old, issuing.cert)
    lone = leaf(
        issuing, key, ["mta-sts.example.org"], start=NOW - DAY, end=NOW + 89 * DAY, serial=1006
    )
    write_chain(box, "mta-sts.example.org-nochain.pem", lone)
    # www.example.org is served elsewhere: no certificate is needed here.
    box.dns.add_custom_record("www.example.org", "A", "198.51.100.7", actor=TEST_ACTOR)


class FakeDns:
    """A DNS server on loopback for the provisioning job, which runs in a process of its own
    (so `no_public_dns` cannot reach it): every name is NXDOMAIN. Point the box at it with
    `MIAB_DNS_RESOLVER` (core.tls.service.DNS_RESOLVER_KEY) in its conf."""

    def __init__(self) -> None:
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.settimeout(0.2)
        self.port = self.sock.getsockname()[1]
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)

    def __enter__(self) -> FakeDns:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(timeout=2)
        self.sock.close()

    def _serve(self) -> None:
        while not self._stop.is_set():
            try:
                data, peer = self.sock.recvfrom(4096)
            except OSError:
                continue
            try:
                query = dns.message.from_wire(data)
            except dns.exception.DNSException:
                continue
            answer = dns.message.make_response(query)
            answer.set_rcode(dns.rcode.NXDOMAIN)
            self.sock.sendto(answer.to_wire(), peer)
