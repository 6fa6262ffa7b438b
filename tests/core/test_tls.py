"""The TLS core: the reference's check (SYSTEM.md §1.2) on certificates made here, the inventory
and selection (§1.1), per-domain status (§1.3), CSRs (§1.7) and installing (§1.6)."""

from __future__ import annotations

import datetime
import os
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from core.box import Box, init_box
from core.errors import ValidationError
from core.tls.check import MISSING_CHAIN, OK, SELF_SIGNED, check_certificate, system_trust
from core.tls.inventory import scan
from tests.conftest import TEST_ACTOR
from tests.core.tls_factory import (
    NOW,
    box_key,
    intermediate_ca,
    leaf,
    pem,
    root_ca,
    write_ca_file,
)

DOMAIN = "box.example.com"


@pytest.fixture()
def ca(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):  # type: ignore[no-untyped-def]
    """A root and an intermediate; the root trusted through SSL_CERT_FILE (as OpenSSL does)."""
    root = root_ca()
    inter = intermediate_ca(root)
    monkeypatch.setenv("SSL_CERT_FILE", str(write_ca_file(tmp_path / "roots.pem", root)))
    monkeypatch.setenv("SSL_CERT_DIR", str(tmp_path / "no-such-dir"))
    return root, inter


@pytest.fixture()
def key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def check(chain: list[x509.Certificate], key: object, domain: str = DOMAIN, **kw: object):  # type: ignore[no-untyped-def]
    return check_certificate(domain, chain, key, now=NOW, **kw)  # type: ignore[arg-type]


# --- the check, case by case ----------------------------------------------------------------


def test_signed_and_valid(ca, key) -> None:  # type: ignore[no-untyped-def]
    root, inter = ca
    cert = leaf(inter, key, [DOMAIN, "www.example.com"], days=88)
    result = check([cert, inter.cert], key)
    assert result.verdict == OK
    expires = (NOW - datetime.timedelta(days=1) + datetime.timedelta(days=88)).date()
    assert result.info == f"The certificate expires in 87 days on {expires.isoformat()}."


def test_wildcard_covers_a_subdomain(ca, key) -> None:  # type: ignore[no-untyped-def]
    _root, inter = ca
    cert = leaf(inter, key, ["*.example.com"])
    assert check([cert, inter.cert], key, "mail.example.com").verdict == OK
    wrong = check([cert, inter.cert], key, "a.b.example.com")
    assert wrong.message == "The certificate is for the wrong domain name. It is for *.example.com."


def test_wrong_name_lists_the_names_sorted(ca, key) -> None:  # type: ignore[no-untyped-def]
    _root, inter = ca
    cert = leaf(inter, key, ["zeta.example", "alpha.example"])
    result = check([cert, inter.cert], key)
    assert result.message == (
        "The certificate is for the wrong domain name. It is for alpha.example, zeta.example."
    )


def test_wrong_key_names_the_key_file(ca, key, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    _root, inter = ca
    other = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    key_file = tmp_path / "ssl_private_key.pem"
    key_file.write_bytes(
        other.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.TraditionalOpenSSL,
            serialization.NoEncryption(),
        )
    )
    result = check([leaf(inter, key, [DOMAIN]), inter.cert], key_file)
    assert result.message == (
        f"The certificate does not correspond to the private key at {key_file}."
    )
    key_file.write_text("not a key")
    result = check([leaf(inter, key, [DOMAIN]), inter.cert], key_file)
    assert result.message == (
        f"The private key file {key_file} is not a private key file: "
        "File does not contain valid PEM data."
    )


def test_self_signed(ca, key) -> None:  # type: ignore[no-untyped-def]
    assert check([leaf(None, key, [DOMAIN])], key).verdict == SELF_SIGNED


def test_expired_and_not_yet_valid(ca, key) -> None:  # type: ignore[no-untyped-def]
    _root, inter = ca
    old = leaf(inter, key, [DOMAIN], start=NOW - datetime.timedelta(days=100), days=90)
    result = check([old, inter.cert], key)
    assert result.message.startswith(
        "The certificate has expired or is not yet valid. It is valid from "
    )
    start = (NOW - datetime.timedelta(days=100)).strftime("%Y-%m-%d %H:%M:%S")
    assert f"from {start} to " in result.message
    future = leaf(inter, key, [DOMAIN], start=NOW + datetime.timedelta(days=2))
    assert check([future, inter.cert], key).message.startswith(
        "The certificate has expired or is not yet valid."
    )


def test_expiring_soon(ca, key) -> None:  # type: ignore[no-untyped-def]
    _root, inter = ca
    soon = leaf(inter, key, [DOMAIN], start=NOW - datetime.timedelta(days=85), days=90)
    result = check([soon, inter.cert], key)
    assert result.verdict == "problem"
    assert result.message.startswith(
        "The certificate is expiring soon: The certificate expires in 5 days on "
    )
    # The renewal rule (14 days) and no threshold at all.
    assert check([soon, inter.cert], key, warn_days=None).verdict == OK
    mid = leaf(inter, key, [DOMAIN], start=NOW - datetime.timedelta(days=78), days=90)
    assert check([mid, inter.cert], key).verdict == OK
    assert check([mid, inter.cert], key, warn_days=14).verdict == "problem"


def test_missing_intermediate_says_so(ca, key) -> None:  # type: ignore[no-untyped-def]
    _root, inter = ca
    result = check([leaf(inter, key, [DOMAIN])], key)
    assert result.message.startswith(MISSING_CHAIN)
    assert "CN=Test Intermediate CA" in result.message


def test_untrusted_root_says_so(ca, key) -> None:  # type: ignore[no-untyped-def]
    other_root = root_ca("Someone Else's Root")
    other_inter = intermediate_ca(other_root, "Their Intermediate")
    result = check([leaf(other_inter, key, [DOMAIN]), other_inter.cert, other_root.cert], key)
    assert result.message.startswith("There is a problem with the certificate: its chain ends at")
    assert "CN=Someone Else's Root" in result.message
    assert "does not trust" in result.message


def test_file_problems_in_the_references_words(key) -> None:  # type: ignore[no-untyped-def]
    def message(data: bytes) -> str:
        return check_certificate(DOMAIN, data, None, now=NOW).message

    prefix = "There is a problem with the certificate file: "
    assert message(b"hello") == prefix + "File does not contain valid PEM data."
    assert message(b"-----BEGIN CERTIFICATE-----\n!!!\n-----END CERTIFICATE-----\n") == (
        prefix + "File is not a valid PEM-formatted file."
    )
    key_pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.TraditionalOpenSSL,
        serialization.NoEncryption(),
    )
    assert message(key_pem) == prefix + "This is not a certificate file."
    assert message(b"-----BEGIN FOO-----\nAAAA\n-----END FOO-----\n") == (
        prefix + "Unsupported PEM object type: FOO"
    )


def test_trust_store_follows_ssl_cert_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    root = root_ca("Env Root")
    monkeypatch.setenv("SSL_CERT_FILE", str(write_ca_file(tmp_path / "a.pem", root)))
    monkeypatch.setenv("SSL_CERT_DIR", str(tmp_path / "none"))
    assert root.cert.subject.public_bytes() in system_trust().subjects
    monkeypatch.setenv("SSL_CERT_FILE", str(write_ca_file(tmp_path / "b.pem", root_ca("Other"))))
    assert root.cert.subject.public_bytes() not in system_trust().subjects


# --- inventory and selection -----------------------------------------------------------------


def _write(path: Path, data: str | bytes) -> None:
    path.write_bytes(data.encode() if isinstance(data, str) else data)


def _key_pem(key: rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


def test_selection_ranks_valid_signed_latest(tmp_path: Path, ca, key) -> None:  # type: ignore[no-untyped-def]
    _root, inter = ca
    ssl_dir = tmp_path / "ssl"
    (ssl_dir / "sub").mkdir(parents=True)
    _write(ssl_dir / "other_key.pem", _key_pem(key))
    early = leaf(inter, key, ["www.example.com"], days=60)
    late = leaf(inter, key, ["www.example.com"], days=80)
    expired = leaf(
        inter, key, ["www.example.com"], start=NOW - datetime.timedelta(days=400), days=300
    )
    selfsigned = leaf(None, key, ["www.example.com"], days=900)
    _write(ssl_dir / "a-early.pem", pem(early, inter.cert))
    _write(ssl_dir / "sub" / "b-late.pem", pem(late, inter.cert))
    _write(ssl_dir / "c-expired.pem", pem(expired, inter.cert))
    _write(ssl_dir / "d-self.pem", pem(selfsigned))
    lonely = leaf(inter, ec.generate_private_key(ec.SECP256R1()), ["lonely.example.com"])
    _write(ssl_dir / "e-nokey.pem", pem(lonely, inter.cert))
    inventory = scan(ssl_dir, DOMAIN, NOW)
    assert inventory.for_domain("www.example.com").path == ssl_dir / "sub" / "b-late.pem"  # type: ignore[union-attr]
    assert inventory.for_domain("lonely.example.com") is None  # no key: not usable
    assert len(inventory.certs) == 5


def test_primary_hostname_only_with_the_system_key(tmp_path: Path, ca, key) -> None:  # type: ignore[no-untyped-def]
    _root, inter = ca
    ssl_dir = tmp_path / "ssl"
    ssl_dir.mkdir()
    _write(ssl_dir / "elsewhere_key.pem", _key_pem(key))
    _write(ssl_dir / "p.pem", pem(leaf(inter, key, [DOMAIN]), inter.cert))
    assert scan(ssl_dir, DOMAIN, NOW).best.get(DOMAIN) is None
    _write(ssl_dir / "ssl_private_key.pem", _key_pem(key))
    (ssl_dir / "elsewhere_key.pem").unlink()
    assert scan(ssl_dir, DOMAIN, NOW).best[DOMAIN].path == ssl_dir / "p.pem"


# --- the service on a real box ---------------------------------------------------------------


@pytest.fixture()
def tls_box(tmp_path: Path, ca) -> Box:  # type: ignore[no-untyped-def]
    box = init_box(tmp_path / "box", clock=lambda: NOW.timestamp())
    box.mail.users.add_user("admin@example.com", "Secret-pass-1", "admin", actor=TEST_ACTOR)
    # DNS answers are not under test here: every name "resolves" nowhere.
    box.tls.lookup = lambda name, rtype: "[Not Set]"
    return box


def test_new_box_serves_a_self_signed_certificate(tls_box: Box) -> None:
    ssl_dir = tls_box.config.ssl_dir
    link = ssl_dir / "ssl_certificate.pem"
    assert link.is_symlink()
    assert Path(os.readlink(link)).name == f"{DOMAIN}-selfsigned-{NOW:%Y%m%d}.pem"
    status = tls_box.tls.status()
    rows = {r.domain: r for r in status.rows}
    assert rows[DOMAIN].status == "warning"
    assert rows[DOMAIN].text == (
        "Self-signed. Get a signed certificate to stop warnings. The domain name does not "
        "resolve to this machine: [Not Set] (A), [Not Set] (AAAA)."
    )
    assert rows["example.com"].summary == "No certificate installed."
    assert rows["example.com"].status == "danger"
    assert status.can_provision == ()


def test_hosted_elsewhere_is_not_applicable(tls_box: Box) -> None:
    tls_box.dns.set_custom_record("www.example.com", "A", "203.0.113.9", actor=TEST_ACTOR)
    status = tls_box.tls.status()
    last = status.rows[-1]
    assert (last.domain, last.status, last.text) == (
        "www.example.com",
        "not-applicable",
        "The domain's website is hosted elsewhere.",
    )
    _todo, cant = tls_box.tls.provision_plan(["www.example.com"])
    assert cant["www.example.com"].startswith("The domain has a custom DNS A/AAAA record")


def test_provision_plan_checks_public_dns(tls_box: Box) -> None:
    tls_box.tls.lookup = lambda name, rtype: (
        tls_box.config.public_ip if rtype == "A" else "2001:db8::99"
    )
    todo, cant = tls_box.tls.provision_plan(["example.com"])
    assert todo == []
    assert cant["example.com"] == (
        "The domain name does not resolve to this machine: 2001:db8::99 (AAAA)."
    )
    tls_box.tls.lookup = lambda name, rtype: (
        tls_box.config.public_ip if rtype == "A" else "2001:db8::10"
    )
    todo, cant = tls_box.tls.provision_plan(["example.com"])
    assert cant == {} and todo == ["example.com"]


def test_csr_carries_exactly_c_and_cn(tls_box: Box) -> None:
    csr = x509.load_pem_x509_csr(tls_box.tls.csr("example.com", "gb").encode())
    assert [(a.oid, a.value) for a in csr.subject] == [
        (x509.NameOID.COUNTRY_NAME, "GB"),
        (x509.NameOID.COMMON_NAME, "example.com"),
    ]
    assert csr.is_signature_valid
    assert csr.public_key() == box_key(tls_box.config.ssl_dir).public_key()


@pytest.mark.parametrize(
    ("domain", "country"),
    [
        ("example.com", "GBR"),
        ("example.com", "G/"),
        ("example.com", "XX"),
        ("example.com/CN=evil.com", "GB"),
        ("not-served.example.net", "GB"),
        ("", "GB"),
    ],
)
def test_csr_refuses_bad_input(tls_box: Box, domain: str, country: str) -> None:
    with pytest.raises(ValidationError):
        tls_box.tls.csr(domain, country)


def test_install_stores_and_repoints_the_primary_link(tls_box: Box, ca) -> None:  # type: ignore[no-untyped-def]
    _root, inter = ca
    ssl_dir = tls_box.config.ssl_dir
    cert = leaf(inter, box_key(ssl_dir), [DOMAIN, "www.box.example.com"], days=91)
    change = tls_box.tls.install(DOMAIN, pem(cert), pem(inter.cert), actor=TEST_ACTOR)
    assert change.lines[0] == "updating primary certificate"
    # A local box restarts nothing, and says so.
    assert "this is a local box: postfix not restarted" in change.lines
    stored = ssl_dir / (
        f"{DOMAIN}-{cert.not_valid_after_utc:%Y%m%d}-"
        f"{cert.fingerprint(hashes.SHA256()).hex()[:8]}.pem"
    )
    assert stored.read_text() == pem(cert, inter.cert)
    assert Path(os.readlink(ssl_dir / "ssl_certificate.pem")) == stored
    row = next(r for r in tls_box.tls.status().rows if r.domain == DOMAIN)
    assert row.status == "success"
    assert row.summary.startswith("Signed & valid. The certificate expires in 90 days on ")
    # The same again changes nothing, as the reference's empty answer.
    again = tls_box.tls.install(DOMAIN, pem(cert), pem(inter.cert), actor=TEST_ACTOR)
    assert not again.changed and again.lines == ()


def test_install_refusals_change_nothing(tls_box: Box, ca) -> None:  # type: ignore[no-untyped-def]
    _root, inter = ca
    ssl_dir = tls_box.config.ssl_dir
    before = sorted(p.name for p in ssl_dir.iterdir())
    key = box_key(ssl_dir)
    other = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    cases = [
        (
            "example.com",
            pem(leaf(None, key, ["example.com"])),
            "",
            "This is a self-signed certificate. I can't install that.",
        ),
        (
            "example.com",
            pem(leaf(inter, other, ["example.com"])),
            pem(inter.cert),
            "The certificate does not correspond to the private key at ",
        ),
        (
            "example.com",
            pem(leaf(inter, key, ["example.org"])),
            pem(inter.cert),
            "The certificate is for the wrong domain name. It is for example.org.",
        ),
        (
            "example.com",
            "garbage",
            "",
            "There is a problem with the certificate file: File does not contain valid PEM data.",
        ),
        (
            "example.com",
            "é",
            "",
            "There is a problem with the certificate file: File is not a valid PEM-formatted file.",
        ),
        (
            "example.com",
            "A" * 100_000,
            "",
            "There is a problem with the certificate file: it is larger than 64 kB.",
        ),
        ("example.com", pem(leaf(inter, key, ["example.com"])), "", MISSING_CHAIN),
        ("nowhere.example", pem(leaf(inter, key, ["example.com"])), "", "Invalid domain name."),
    ]
    for domain, cert, chain, expected in cases:
        with pytest.raises(ValidationError) as refused:
            tls_box.tls.install(domain, cert, chain, actor=TEST_ACTOR)
        assert refused.value.message.startswith(expected), (expected, refused.value.message)
    assert sorted(p.name for p in ssl_dir.iterdir()) == before
    audit = tls_box.audit.recent(20)
    assert audit[0].outcome.startswith("refused: ")


def test_details_for_the_tui(tls_box: Box) -> None:
    details = tls_box.tls.details(DOMAIN)
    assert details is not None
    assert details.self_signed and details.key_type == "RSA 2048"
    assert details.names == (DOMAIN,)
    assert details.tlsa.startswith("3 1 1 ") and len(details.tlsa) == 6 + 64
    assert len(details.sha256.split(":")) == 32
    assert tls_box.tls.details("example.com") is None


def test_provision_groups_by_zone(tls_box: Box) -> None:
    names = ["www.example.com", "example.com", DOMAIN, "mta-sts.example.com", "www.box.example.com"]
    groups = tls_box.tls._groups(names)
    # The primary hostname lies under the zone example.com: one certificate for all.
    assert groups == [
        [DOMAIN, "www.box.example.com", "example.com", "mta-sts.example.com", "www.example.com"]
    ]
    many = [f"h{i}.example.com" for i in range(150)]
    assert [len(g) for g in tls_box.tls._groups(many)] == [100, 50]


def test_dns_publishes_mta_sts_once_the_certificates_are_valid(tls_box: Box, ca) -> None:  # type: ignore[no-untyped-def]
    """DNS asks TLS which names have a valid certificate (DNS.md §2 step 13)."""
    _root, inter = ca
    tls_box.config.mta_sts_policy.write_text("version: STSv1\nmode: enforce\nmax_age: 604800\n")

    def mta_sts_txt() -> list[str]:
        return [
            r.value for r in tls_box.dns.records("example.com") if r.qname == "_mta-sts.example.com"
        ]

    assert mta_sts_txt() == []  # the primary hostname's certificate is self-signed
    cert = leaf(inter, box_key(tls_box.config.ssl_dir), [DOMAIN, "mta-sts.example.com"])
    tls_box.tls.install(DOMAIN, pem(cert), pem(inter.cert), actor=TEST_ACTOR)
    assert [v.startswith("v=STSv1; id=") for v in mta_sts_txt()] == [True]
