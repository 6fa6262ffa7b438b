"""core.tls.acme against a real ACME CA (pebble): issuance, account reuse, a failed challenge.

Pebble validates for real: it resolves the names through its fake DNS (every name is
127.0.0.1) and fetches the key authorization from the fixture's web root over HTTP.
"""

from __future__ import annotations

import datetime
import json
import time
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.hazmat.primitives.serialization import Encoding
from cryptography.x509.oid import NameOID
from cryptography.x509.verification import PolicyBuilder, Store

from core.tls.acme import AcmeError, challenge_file_name, obtain_certificate
from tests.integration.conftest import free_tcp_port, require_program
from tests.integration.pebble import Pebble, running_pebble

pytestmark = pytest.mark.integration

NAMES = ("box.example.com", "www.example.com")


def make_csr(*names: str) -> tuple[bytes, rsa.RSAPrivateKey]:
    """A CSR as the box makes one (SYSTEM.md §1.5): CN = first name, SAN = all names."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    csr = (
        x509.CertificateSigningRequestBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, names[0])]))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName(n) for n in names]), False)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    return csr.public_bytes(Encoding.PEM), key


def order(pebble: Pebble, account_dir: Path, *names: str) -> tuple[str, list[str]]:
    csr_pem, _ = make_csr(*names)
    lines: list[str] = []
    chain = obtain_certificate(
        directory_url=pebble.directory_url,
        account_dir=account_dir,
        csr_pem=csr_pem,
        webroot=pebble.webroot,
        log=lines.append,
        ca_bundle=pebble.ca_bundle,
        timeout=60,
    )
    return chain, lines


def account_folder(pebble: Pebble, account_dir: Path) -> Path:
    host_port = pebble.directory_url.split("/")[2]
    return account_dir / "miab-acme" / host_port


def test_issues_a_certificate_that_verifies_against_the_ca_root(
    pebble: Pebble, tmp_path: Path
) -> None:
    started = time.monotonic()
    chain_pem, lines = order(pebble, tmp_path, *NAMES)
    elapsed = time.monotonic() - started
    print(f"one order with registration took {elapsed:.2f}s")

    chain = x509.load_pem_x509_certificates(chain_pem.encode())
    leaf, intermediates = chain[0], chain[1:]
    san = leaf.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert set(san.get_values_for_type(x509.DNSName)) == set(NAMES)
    root = x509.load_pem_x509_certificate(pebble.root_pem)
    for name in NAMES:
        verifier = (
            PolicyBuilder()
            .store(Store([root]))
            .time(datetime.datetime.now(datetime.UTC))
            .build_server_verifier(x509.DNSName(name))
        )
        verified = verifier.verify(leaf, intermediates)
        assert verified[0] == leaf
        assert verified[-1] == root

    assert lines[0] == "Registering an ACME account"
    assert "Ordering a certificate for box.example.com, www.example.com" in lines
    for name in NAMES:
        assert f"Answering the http-01 challenge for {name}" in lines
        assert f"Validated {name}" in lines
    assert lines[-1].startswith("Certificate issued, expires ")
    # The challenge files are gone once the order is over.
    assert list(pebble.challenge_dir.iterdir()) == []


def test_the_account_is_registered_once_and_reused(pebble: Pebble, tmp_path: Path) -> None:
    _, first = order(pebble, tmp_path, "box.example.com")
    folder = account_folder(pebble, tmp_path)
    key_file, regr_file = folder / "private_key.json", folder / "regr.json"
    assert key_file.stat().st_mode & 0o777 == 0o600
    key_before, regr_before = key_file.read_bytes(), regr_file.read_bytes()
    assert json.loads(regr_before)["uri"].startswith("https://127.0.0.1:")
    assert "Registering an ACME account" in first

    started = time.monotonic()
    chain, second = order(pebble, tmp_path, "box.example.com")
    print(f"one order with a known account took {time.monotonic() - started:.2f}s")
    assert x509.load_pem_x509_certificates(chain.encode())
    assert not any("Registering" in line for line in second)
    assert key_file.read_bytes() == key_before
    assert regr_file.read_bytes() == regr_before


def test_an_account_the_ca_forgot_is_registered_again(pebble: Pebble, tmp_path: Path) -> None:
    order(pebble, tmp_path, "box.example.com")
    folder = account_folder(pebble, tmp_path)
    # What a restarted pebble sees: a key it has never met (its accounts live in memory).
    (folder / "private_key.json").unlink()
    _, lines = order(pebble, tmp_path, "box.example.com")
    assert lines[:2] == [
        "The CA no longer knows the stored ACME account; registering it again",
        "Registering an ACME account",
    ]
    # Once registered again, the next order reuses it.
    _, lines = order(pebble, tmp_path, "box.example.com")
    assert not any("Registering" in line for line in lines)


def test_an_authorization_the_ca_reuses_needs_no_challenge(
    tmp_path_factory: pytest.TempPathFactory, tmp_path: Path
) -> None:
    programs = {
        "pebble": require_program("pebble", "pebble"),
        "challtestsrv": require_program("pebble-challtestsrv", "pebble"),
    }
    folder = tmp_path_factory.mktemp("pebble-reuse")
    with running_pebble(folder, authz_reuse=100, **programs) as reusing:
        _, first = order(reusing, tmp_path, *NAMES)
        assert "Answering the http-01 challenge for box.example.com" in first
        chain, second = order(reusing, tmp_path, *NAMES)
    assert x509.load_pem_x509_certificates(chain.encode())
    assert not any(line.startswith("Answering") for line in second)
    for name in NAMES:
        assert f"Validated {name} (the CA reused an earlier validation)" in second


def test_a_failed_challenge_reports_the_ca_problem_and_leaves_no_file(
    pebble: Pebble, tmp_path: Path
) -> None:
    with pebble.http_status(404), pytest.raises(AcmeError) as caught:
        order(pebble, tmp_path, "fail.example.com")
    error = caught.value
    assert error.message.startswith("The CA could not validate fail.example.com: ")
    assert error.log[-1] == error.message
    assert "404" in error.message  # pebble's own problem detail
    assert "\n" not in error.message
    assert "Answering the http-01 challenge for fail.example.com" in error.log
    assert not any(line.startswith("Validated") for line in error.log)
    assert list(pebble.challenge_dir.iterdir()) == []


def test_the_whole_order_is_bounded_by_the_timeout(pebble: Pebble, tmp_path: Path) -> None:
    csr_pem, _ = make_csr("slow.example.com")
    started = time.monotonic()
    with pytest.raises(AcmeError) as caught:
        obtain_certificate(
            directory_url=pebble.directory_url,
            account_dir=tmp_path,
            csr_pem=csr_pem,
            webroot=pebble.webroot,
            log=lambda line: None,
            ca_bundle=pebble.ca_bundle,
            timeout=0.5,  # less than the CA takes to issue
        )
    assert caught.value.message == "The ACME order timed out before the CA had finished"
    assert time.monotonic() - started < 3
    assert list(pebble.challenge_dir.iterdir()) == []


def test_an_unreachable_server_is_a_clear_error(tmp_path: Path) -> None:
    csr_pem, _ = make_csr("box.example.com")
    url = f"https://127.0.0.1:{free_tcp_port()}/dir"
    with pytest.raises(AcmeError) as caught:
        obtain_certificate(
            directory_url=url,
            account_dir=tmp_path,
            csr_pem=csr_pem,
            webroot=tmp_path / "webroot",
            log=lambda line: None,
            timeout=10,
        )
    assert caught.value.message.startswith(f"Could not connect to the ACME server at {url}")


def test_an_untrusted_server_certificate_is_refused(pebble: Pebble, tmp_path: Path) -> None:
    csr_pem, _ = make_csr("box.example.com")
    with pytest.raises(AcmeError) as caught:
        obtain_certificate(
            directory_url=pebble.directory_url,
            account_dir=tmp_path,
            csr_pem=csr_pem,
            webroot=pebble.webroot,
            log=lambda line: None,
            timeout=10,
        )  # no ca_bundle: the system store does not know the test CA
    assert "untrusted HTTPS certificate" in caught.value.message


@pytest.mark.parametrize(
    "token",
    ["../../etc/passwd", "a/b", "..", "abc=", "", "a b", "tok\n", "ä", ".hidden"],
)
def test_a_token_that_is_not_url_safe_base64_is_refused(token: str) -> None:
    with pytest.raises(AcmeError, match="not URL-safe base64"):
        challenge_file_name(token)


def test_a_url_safe_base64_token_names_its_file() -> None:
    token = "LoqXcYV8q5ONbJQxbmR7SCTNo3tiAXDfowyjxAjEuX0_-"
    assert challenge_file_name(token) == token
