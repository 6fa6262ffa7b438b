"""TLS over HTTP (BEHAVIOUR.md §5, SYSTEM.md §1): status, CSR, install and provisioning, on real
boxes, with certificates made here by a CA made here, and public DNS answered by a small DNS
server on loopback (so every lookup is real and fast, and says what the test wants).

Responses are checked against the spec except where docs/compatibility.md ("TLS operations")
records a deviation; those calls say `validate=False` and why.
"""

from __future__ import annotations

import datetime
import os
import re
import socket
import threading
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import quote

import dns.exception
import dns.message
import dns.rcode
import dns.rdatatype
import dns.rrset
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from core import Box
from core.tls.certificates import ensure_system_certificate
from core.tls.service import DNS_RESOLVER_KEY, PublicDns
from tests.api.conftest import ADMIN_AUTH, Api, basic
from tests.conftest import FIXED_TIME, TEST_ACTOR

TEXT = "text/html; charset=utf-8"
JSON = "application/json"
PRIMARY = "box.example.com"
NOW = datetime.datetime.fromtimestamp(FIXED_TIME, datetime.UTC)
SELF_SIGNED = "Self-signed. Get a signed certificate to stop warnings."
NOT_HERE = "The domain name does not resolve to this machine: [Not Set] (A), [Not Set] (AAAA)."
CERT_NAME = re.compile(r"(.+)-(\d{8})-([0-9a-f]{8})\.pem")
USER = "alice@example.com"
USER_PASSWORD = "alice-password-1"


# --- public DNS on loopback ----------------------------------------------------------------


class FakeDns:
    """A DNS server on 127.0.0.1 (a free UDP port) answering at once: the names in `here`
    with the box's public addresses, every other name NXDOMAIN."""

    def __init__(self, box: Box, here: set[str] | None = None) -> None:
        self.addresses = {"A": box.config.public_ip, "AAAA": box.config.public_ipv6}
        self.here = here if here is not None else set()
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.settimeout(0.1)
        self.address = f"127.0.0.1:{self.sock.getsockname()[1]}"
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        while not self._stop.is_set():
            try:
                data, peer = self.sock.recvfrom(4096)
            except TimeoutError:
                continue
            except OSError:
                return
            try:
                query = dns.message.from_wire(data)
            except dns.exception.DNSException:
                continue
            reply = dns.message.make_response(query)
            question = query.question[0]
            name = question.name.to_text().rstrip(".").lower()
            rtype = dns.rdatatype.to_text(question.rdtype)
            if name in self.here and self.addresses.get(rtype):
                reply.answer.append(
                    dns.rrset.from_text(question.name, 60, "IN", rtype, self.addresses[rtype])
                )
            elif name not in self.here:
                reply.set_rcode(dns.rcode.NXDOMAIN)
            self.sock.sendto(reply.to_wire(), peer)

    def use_for(self, box: Box) -> None:
        """Aim the box's public DNS checks here: in this process, and (through its conf) in
        the job processes that provision."""
        assert box.config.conf_path is not None
        with box.config.conf_path.open("a", encoding="utf-8") as conf:
            conf.write(f"{DNS_RESOLVER_KEY}={self.address}\n")
        box.tls.lookup = PublicDns(self.address)

    def close(self) -> None:
        self._stop.set()
        self._thread.join()
        self.sock.close()


@pytest.fixture
def fake_dns(demo_box: Box) -> Iterator[FakeDns]:
    """The demo box, whose names resolve nowhere (NXDOMAIN) until a test adds them to
    `here`."""
    server = FakeDns(demo_box)
    server.use_for(demo_box)
    yield server
    server.close()


@pytest.fixture
def empty_dns(box: Box) -> Iterator[FakeDns]:
    server = FakeDns(box)
    server.use_for(box)
    yield server
    server.close()


# --- certificates made here ----------------------------------------------------------------


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


class TestCa:
    """A root CA (EC P-256) that issues server certificates in the shape real CAs do."""

    __test__ = False

    def __init__(self, name: str = "Test Root CA") -> None:
        self.key = ec.generate_private_key(ec.SECP256R1())
        public = self.key.public_key()
        self.cert = (
            x509.CertificateBuilder()
            .subject_name(_name(name))
            .issuer_name(_name(name))
            .public_key(public)
            .serial_number(x509.random_serial_number())
            .not_valid_before(NOW - datetime.timedelta(days=365))
            .not_valid_after(NOW + datetime.timedelta(days=3650))
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .add_extension(_usage(ca=True), critical=True)
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(public), False)
            .sign(self.key, hashes.SHA256())
        )

    def issue(
        self, public_key: object, *names: str, until: datetime.datetime | None = None
    ) -> x509.Certificate:
        """A certificate for `names` (CN the first), valid from a day before the tests' fixed
        time until `until` (default: 90 days after it)."""
        return (
            x509.CertificateBuilder()
            .subject_name(_name(names[0]))
            .issuer_name(self.cert.subject)
            .public_key(public_key)  # type: ignore[arg-type]
            .serial_number(x509.random_serial_number())
            .not_valid_before(NOW - datetime.timedelta(days=1))
            .not_valid_after(until or NOW + datetime.timedelta(days=90))
            .add_extension(x509.SubjectAlternativeName([x509.DNSName(n) for n in names]), False)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(_usage(ca=False), critical=True)
            .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), False)
            .add_extension(
                x509.SubjectKeyIdentifier.from_public_key(public_key),  # type: ignore[arg-type]
                False,
            )
            .add_extension(
                x509.AuthorityKeyIdentifier.from_issuer_public_key(self.key.public_key()), False
            )
            .sign(self.key, hashes.SHA256())
        )

    @property
    def pem(self) -> str:
        return pem(self.cert)


def pem(*certs: x509.Certificate) -> str:
    return "".join(c.public_bytes(serialization.Encoding.PEM).decode() for c in certs)


def box_key(box: Box) -> rsa.RSAPrivateKey:
    key = serialization.load_pem_private_key(
        (box.config.ssl_dir / "ssl_private_key.pem").read_bytes(), password=None
    )
    assert isinstance(key, rsa.RSAPrivateKey)
    return key


def self_signed(key: rsa.RSAPrivateKey, name: str) -> x509.Certificate:
    return (
        x509.CertificateBuilder()
        .subject_name(_name(name))
        .issuer_name(_name(name))
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(NOW - datetime.timedelta(days=1))
        .not_valid_after(NOW + datetime.timedelta(days=90))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName(name)]), False)
        .sign(key, hashes.SHA256())
    )


def remake_self_signed(box: Box) -> None:
    """The self-signed certificate `miab init` makes, for the key the box has now: the shared
    fixtures copy in a key made once per session after `init_box` has made its own key and a
    certificate for it."""
    ssl_dir = box.config.ssl_dir
    (ssl_dir / "ssl_certificate.pem").unlink()
    for path in ssl_dir.glob("*-selfsigned-*.pem"):
        path.unlink()
    ensure_system_certificate(ssl_dir, box.config.primary_hostname, box.clock())


@pytest.fixture(autouse=True)
def _self_signed_for_the_box_key(request: pytest.FixtureRequest) -> None:
    for name in ("demo_box", "box"):
        if name in request.fixturenames:
            remake_self_signed(request.getfixturevalue(name))


def trust(ca: TestCa, folder: Path, monkeypatch: pytest.MonkeyPatch) -> TestCa:
    """Make `ca` the one this system trusts for the test: OpenSSL's `SSL_CERT_FILE`, which
    core's chain check honours as OpenSSL does (and the job processes inherit)."""
    path = folder / "test-ca.pem"
    path.write_text(ca.pem)
    monkeypatch.setenv("SSL_CERT_FILE", str(path))
    monkeypatch.delenv("SSL_CERT_DIR", raising=False)
    return ca


@pytest.fixture
def trusted_ca(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> TestCa:
    return trust(TestCa(), tmp_path, monkeypatch)


def ssl_files(box: Box) -> dict[str, bytes | str]:
    """Everything under ssl/: file contents, and where the links point."""
    found: dict[str, bytes | str] = {}
    for path in sorted(box.config.ssl_dir.rglob("*")):
        rel = str(path.relative_to(box.config.ssl_dir))
        if path.is_symlink():
            found[rel] = "-> " + os.readlink(path)
        elif path.is_file():
            found[rel] = path.read_bytes()
    return found


# --- status --------------------------------------------------------------------------------


def test_status_of_a_new_box(empty_api: Api, box: Box, empty_dns: FakeDns) -> None:
    master = basic(box.auth.master_key(), "")
    for path in ("/ssl/status", "/admin/ssl/status"):
        resp = empty_api.get(path, auth=master)
        assert resp.headers["Content-Type"] == JSON
        body = resp.json
        assert body["can_provision"] == []
        rows = {row["domain"]: row for row in body["status"]}
        # The self-signed certificate `miab init` made: the reference's `warning` is `danger`
        # here (the spec's enum has no `warning`), with the reference's text and the reason
        # it cannot be provisioned.
        assert rows[PRIMARY] == {
            "domain": PRIMARY,
            "status": "danger",
            "text": SELF_SIGNED + " " + NOT_HERE,
        }
        assert body["status"][0]["domain"] == PRIMARY
        others = [row for row in body["status"] if row["domain"] != PRIMARY]
        assert others  # mta-sts etc.: no certificate of their own
        for row in others:
            assert row["status"] == "danger"
            assert row["text"] == "No certificate installed. " + NOT_HERE
    # The same request in the reference's JSON layout.
    assert resp.text.startswith('{\n  "can_provision": [],\n  "status": [\n    {\n')


def test_status_lists_what_can_be_provisioned(api: Api, demo_box: Box, fake_dns: FakeDns) -> None:
    fake_dns.here = {PRIMARY, "www.example.com"}
    demo_box.tls.lookup = PublicDns(fake_dns.address)  # nothing cached from before
    body = api.get("/ssl/status").json
    assert body["can_provision"] == [PRIMARY, "www.example.com"]
    rows = {row["domain"]: row for row in body["status"]}
    assert rows[PRIMARY] == {"domain": PRIMARY, "status": "danger", "text": SELF_SIGNED}
    assert rows["www.example.com"]["text"] == "No certificate installed."
    assert rows["example.com"]["text"] == "No certificate installed. " + NOT_HERE
    assert {row["status"] for row in body["status"]} == {"danger"}


def test_status_after_an_install_is_success(
    api: Api, demo_box: Box, fake_dns: FakeDns, trusted_ca: TestCa
) -> None:
    cert = trusted_ca.issue(box_key(demo_box).public_key(), PRIMARY)
    api.post("/ssl/install", {"domain": PRIMARY, "cert": pem(cert), "chain": ""})
    rows = {row["domain"]: row for row in api.get("/ssl/status").json["status"]}
    expires = (NOW + datetime.timedelta(days=90)).date()
    assert rows[PRIMARY] == {
        "domain": PRIMARY,
        "status": "success",
        "text": f"Signed & valid. The certificate expires in 90 days on {expires}. " + NOT_HERE,
    }


# --- CSR -----------------------------------------------------------------------------------


def csr_of(resp_text: str) -> x509.CertificateSigningRequest:
    return x509.load_pem_x509_csr(resp_text.encode("ascii"))


@pytest.mark.parametrize(
    "domain, country, cn",
    [
        (PRIMARY, "GB", PRIMARY),
        ("www.example.com", "de", "www.example.com"),  # any case
        ("bücher.example", "NZ", "xn--bcher-kva.example"),  # Unicode → its IDNA form
        ("WWW.Example.Org", "US", "www.example.org"),
    ],
)
def test_csr(api: Api, demo_box: Box, domain: str, country: str, cn: str) -> None:
    resp = api.app.post(
        "/admin/ssl/csr/" + quote(domain),
        {"countrycode": country},
        headers={"Authorization": ADMIN_AUTH},
    )
    api.validate("POST", "/ssl/csr/" + quote(domain), resp, None)
    assert resp.headers["Content-Type"] == TEXT
    assert resp.text.startswith("-----BEGIN CERTIFICATE REQUEST-----\n")
    request = csr_of(resp.text)
    assert request.is_signature_valid
    # Exactly C and CN, in that order, as `openssl req -subj /C=../CN=..` makes it.
    assert [(a.oid, a.value) for a in request.subject] == [
        (NameOID.COUNTRY_NAME, country.upper()),
        (NameOID.COMMON_NAME, cn),
    ]
    assert request.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    ) == box_key(demo_box).public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )


def test_a_trailing_newline_is_trimmed_not_put_in_the_csr(api: Api) -> None:
    resp = api.app.post(
        "/ssl/csr/" + PRIMARY + "%0A", {"countrycode": "GB"}, headers={"Authorization": ADMIN_AUTH}
    )
    csr = x509.load_pem_x509_csr(resp.body)
    assert [a.value for a in csr.subject] == ["GB", PRIMARY]


@pytest.mark.parametrize(
    "domain, country, message",
    [
        (PRIMARY, "GBR", "Invalid country code 'GBR': use a two-letter ISO 3166 code such as GB."),
        (PRIMARY, "G/", "Invalid country code 'G/': use a two-letter ISO 3166 code such as GB."),
        (PRIMARY, "XX", "Invalid country code 'XX': use a two-letter ISO 3166 code such as GB."),
        (PRIMARY, "", "Invalid country code '': use a two-letter ISO 3166 code such as GB."),
        ("nope.example", "GB", "Invalid domain name."),
        (PRIMARY + "/CN=evil", "GB", "Invalid domain name."),
        (PRIMARY + "%2FCN=evil", "GB", "Invalid domain name."),
        ("a" * 300 + ".example.com", "GB", "Invalid domain name."),
        ("%0A", "GB", "Invalid domain name."),
    ],
    ids=[
        "alpha-3",
        "slash",
        "unassigned",
        "empty",
        "unknown",
        "cn-injection",
        "encoded",
        "long",
        "newline",
    ],
)
def test_csr_refusals_are_400(
    api: Api, demo_box: Box, domain: str, country: str, message: str
) -> None:
    before = ssl_files(demo_box)
    resp = api.app.post(
        "/ssl/csr/" + domain,
        {"countrycode": country},
        headers={"Authorization": ADMIN_AUTH},
        status=400,
    )
    if "/" not in domain.removeprefix(PRIMARY):
        api.validate("POST", "/ssl/csr/" + domain, resp, None)
    assert resp.headers["Content-Type"] == TEXT
    assert resp.text == message
    assert ssl_files(demo_box) == before


def test_csr_without_countrycode_is_400(api: Api) -> None:
    resp = api.post("/ssl/csr/" + PRIMARY, {}, status=400)
    assert resp.text == "Invalid country code '': use a two-letter ISO 3166 code such as GB."


# --- install -------------------------------------------------------------------------------


def test_install_for_the_primary_hostname(
    api: Api, demo_box: Box, trusted_ca: TestCa, fake_dns: FakeDns
) -> None:
    ssl_dir = demo_box.config.ssl_dir
    old_target = os.readlink(ssl_dir / "ssl_certificate.pem")
    cert = trusted_ca.issue(box_key(demo_box).public_key(), PRIMARY, "mta-sts." + PRIMARY)
    resp = api.post("/ssl/install", {"domain": PRIMARY, "cert": pem(cert), "chain": ""})
    assert resp.headers["Content-Type"] == TEXT
    assert resp.text.startswith("updating primary certificate\n")
    # Stored as the reference names it: <CN>-<expiry>-<8 hex of the SHA-256 fingerprint>.
    expected = (
        f"{PRIMARY}-{cert.not_valid_after_utc:%Y%m%d}-"
        f"{cert.fingerprint(hashes.SHA256()).hex()[:8]}.pem"
    )
    stored = ssl_dir / expected
    assert CERT_NAME.fullmatch(expected)
    assert x509.load_pem_x509_certificates(stored.read_bytes()) == [cert]
    # The primary hostname's link now points at it.
    link = ssl_dir / "ssl_certificate.pem"
    assert link.is_symlink() and os.readlink(link) != old_target
    assert link.resolve() == stored.resolve()
    record = demo_box.audit.recent(1)[0]
    assert (record.actor, record.face, record.operation) == (
        "me@example.com",
        "api",
        "install TLS certificate",
    )
    # The same certificate again changes nothing.
    before = ssl_files(demo_box)
    again = api.post("/admin/ssl/install", {"domain": PRIMARY, "cert": pem(cert), "chain": ""})
    assert "updating primary certificate" not in again.text
    assert ssl_files(demo_box) == before


def test_install_with_a_chain_for_another_domain(
    api: Api, demo_box: Box, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A leaf issued by an intermediate, the chain in its own field; the missing `chain`
    field of a leaf-only install reads as "". The link stays on the primary's certificate."""
    root = trust(TestCa("Test Root CA 2"), tmp_path, monkeypatch)
    intermediate_key = ec.generate_private_key(ec.SECP256R1())
    intermediate = TestCa("Test Intermediate")
    intermediate.key = intermediate_key
    intermediate.cert = (
        x509.CertificateBuilder()
        .subject_name(_name("Test Intermediate"))
        .issuer_name(root.cert.subject)
        .public_key(intermediate_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(NOW - datetime.timedelta(days=30))
        .not_valid_after(NOW + datetime.timedelta(days=1000))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(_usage(ca=True), critical=True)
        .add_extension(
            x509.SubjectKeyIdentifier.from_public_key(intermediate_key.public_key()), False
        )
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(root.key.public_key()), False
        )
        .sign(root.key, hashes.SHA256())
    )
    link_before = os.readlink(demo_box.config.ssl_dir / "ssl_certificate.pem")
    cert = intermediate.issue(box_key(demo_box).public_key(), "www.example.com")
    # Without the intermediate: the reference's message for it.
    resp = api.post("/ssl/install", {"domain": "www.example.com", "cert": pem(cert)}, status=400)
    assert resp.text.startswith(
        "The certificate is missing an intermediate chain or the intermediate chain is "
        "incorrect or incomplete."
    )
    resp = api.post(
        "/ssl/install",
        {"domain": "www.example.com", "cert": pem(cert), "chain": intermediate.pem},
    )
    stored = list(demo_box.config.ssl_dir.glob("www.example.com-*.pem"))
    assert len(stored) == 1 and CERT_NAME.fullmatch(stored[0].name)
    assert x509.load_pem_x509_certificates(stored[0].read_bytes()) == [cert, intermediate.cert]
    assert "updating primary certificate" not in resp.text
    assert os.readlink(demo_box.config.ssl_dir / "ssl_certificate.pem") == link_before
    # A leaf with its chain pasted into the one `cert` field, `chain` left out, installs too.
    (stored[0]).unlink()
    api.post(
        "/ssl/install",
        {"domain": "www.example.com", "cert": pem(cert) + intermediate.pem},
    )
    assert len(list(demo_box.config.ssl_dir.glob("www.example.com-*.pem"))) == 1


def _refusals(box: Box, ca: TestCa) -> list[tuple[str, dict[str, str], str]]:
    key = box_key(box)
    other_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    good = pem(ca.issue(key.public_key(), PRIMARY))
    return [
        (
            "self-signed",
            {"domain": PRIMARY, "cert": pem(self_signed(key, PRIMARY)), "chain": ""},
            "This is a self-signed certificate. I can't install that.",
        ),
        (
            "wrong-key",
            {"domain": PRIMARY, "cert": pem(ca.issue(other_key.public_key(), PRIMARY))},
            "The certificate does not correspond to the private key at "
            f"{box.config.ssl_dir / 'ssl_private_key.pem'}.",
        ),
        (
            "wrong-name",
            {"domain": "example.com", "cert": good, "chain": ""},
            f"The certificate is for the wrong domain name. It is for {PRIMARY}.",
        ),
        (
            "garbage",
            {"domain": PRIMARY, "cert": "hello", "chain": ""},
            "There is a problem with the certificate file: File does not contain valid PEM data.",
        ),
        (
            "non-ascii",
            {"domain": PRIMARY, "cert": good.replace("CERTIFICATE", "CERTIFICATÉ"), "chain": ""},
            "There is a problem with the certificate file: File is not a valid PEM-formatted file.",
        ),
        (
            "100kB",
            {"domain": PRIMARY, "cert": good * (100_000 // len(good) + 1), "chain": ""},
            "There is a problem with the certificate file: it is larger than 64 kB.",
        ),
        (
            "unknown-domain",
            {"domain": "nope.example", "cert": good, "chain": ""},
            "Invalid domain name.",
        ),
        ("no-domain", {"cert": good, "chain": ""}, "Invalid domain name."),
        (
            "no-cert",
            {"domain": PRIMARY, "chain": ""},
            "No certificate was given (the cert field is missing).",
        ),
        (
            "empty-cert",
            {"domain": PRIMARY, "cert": "", "chain": ""},
            "There is a problem with the certificate file: File does not contain valid PEM data.",
        ),
    ]


def test_install_refusals_are_400_and_write_nothing(
    api: Api, demo_box: Box, trusted_ca: TestCa
) -> None:
    before = ssl_files(demo_box)
    refusals = _refusals(demo_box, trusted_ca)
    for name, form, message in refusals:
        resp = api.post("/ssl/install", form, status=400)
        assert resp.headers["Content-Type"] == TEXT, name
        assert resp.text == message, name
        assert ssl_files(demo_box) == before, name
    # Multipart forms are read the same way.
    _, form, message = refusals[0]
    resp = api.app.post(
        "/ssl/install",
        upload_files=[],
        params=form,
        content_type="multipart/form-data",
        headers={"Authorization": ADMIN_AUTH},
        status=400,
    )
    assert resp.text == message


def test_install_refusals_are_audited_as_the_caller(
    api: Api, demo_box: Box, trusted_ca: TestCa
) -> None:
    api.post("/ssl/install", {"domain": "nope.example", "cert": "x", "chain": ""}, status=400)
    record = demo_box.audit.recent(1)[0]
    assert (record.actor, record.face, record.operation) == (
        "me@example.com",
        "api",
        "install TLS certificate",
    )


# --- provision -----------------------------------------------------------------------------


def test_provision_when_nothing_resolves_here(api: Api, demo_box: Box, fake_dns: FakeDns) -> None:
    """A real run of the provisioning job: every name of the demo box is NXDOMAIN at the
    box's resolver, so every request is skipped with the reference's reason."""
    before = ssl_files(demo_box)
    resp = api.post("/ssl/provision")
    assert resp.headers["Content-Type"] == JSON
    body = resp.json
    assert set(body) == {"requests", "messages"}
    assert body["messages"] == []
    domains = demo_box.tls.web_domains()
    # One skipped request per web domain, in domain order, each with the reason as its log.
    assert body["requests"] == [
        {"domains": [d], "log": [NOT_HERE], "result": "skipped"} for d in sorted(domains)
    ]
    # The reference's layout; the job is recorded as the caller's.
    assert resp.text.startswith('{\n  "messages": [],\n  "requests": [\n    {\n      "domains"')
    job = demo_box.jobs.recent(1)[0]
    assert (job.kind, job.state.value, job.actor.name, job.actor.face) == (
        "tls-provision",
        "done",
        "me@example.com",
        "api",
    )
    # Nothing installed (the ACME webroot may now exist, empty).
    after = ssl_files(demo_box)
    assert {k: v for k, v in after.items() if not k.startswith("lets_encrypt")} == before


def test_provision_skips_a_domain_with_a_valid_certificate(
    api: Api, demo_box: Box, fake_dns: FakeDns, trusted_ca: TestCa
) -> None:
    """A domain that resolves here but has a certificate good for more than 14 days is
    skipped with the reference's `valid certificate already` reason (the runner inherits
    `SSL_CERT_FILE`, so it trusts the test CA too)."""
    # The runner has the real clock, not the tests' fixed one: valid across both.
    real_now = datetime.datetime.now(datetime.UTC)
    until = max(NOW, real_now) + datetime.timedelta(days=90)
    cert = trusted_ca.issue(box_key(demo_box).public_key(), "www.example.com", until=until)
    api.post("/ssl/install", {"domain": "www.example.com", "cert": pem(cert), "chain": ""})
    stored = next(demo_box.config.ssl_dir.glob("www.example.com-*.pem"))
    fake_dns.here = {"www.example.com"}
    body = api.post("/ssl/provision").json
    www = [r for r in body["requests"] if r["domains"] == ["www.example.com"]]
    assert len(www) == 1 and www[0]["result"] == "skipped"
    assert re.fullmatch(
        r"The domain has a valid certificate already\. \(The certificate expires in \d+ days on "
        rf"{until:%Y-%m-%d}\. Certificate: {re.escape(str(stored))}, private key "
        rf"{re.escape(str(demo_box.config.ssl_dir / 'ssl_private_key.pem'))}\)",
        www[0]["log"][0],
    )
    assert all(r["result"] == "skipped" for r in body["requests"])


# --- who may call them ---------------------------------------------------------------------


def test_non_admins_may_not_use_the_ssl_routes(api: Api, demo_box: Box) -> None:
    demo_box.mail.users.set_password(USER, USER_PASSWORD, actor=TEST_ACTOR)
    alice = basic(USER, USER_PASSWORD)
    before = ssl_files(demo_box)
    jobs_before = demo_box.jobs.recent(1)
    # 403 as the spec's Forbidden, but text/plain where the spec says text/html.
    assert api.get("/ssl/status", auth=alice, status=403, validate=False).text == (
        "You are not an administrator.\n"
    )
    for path, form in (
        ("/ssl/csr/" + PRIMARY, {"countrycode": "GB"}),
        ("/ssl/install", {"domain": PRIMARY, "cert": "x", "chain": ""}),
        ("/ssl/provision", {}),
    ):
        resp = api.post(path, form, auth=alice, status=403, validate=False)
        assert resp.text == "You are not an administrator.\n", path
    assert ssl_files(demo_box) == before
    assert demo_box.jobs.recent(1) == jobs_before
