"""Provisioning end to end against a real ACME CA: pebble on loopback, its DNS (challtestsrv)
as the box's public resolver, the box's web root served for HTTP-01. The provisioning runs as
the box runs it: a job in its own process."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.x509.verification import PolicyBuilder, Store

from core.box import Box, init_box, open_box
from core.jobs.kinds import TLS_PROVISION
from core.tls.service import ProvisionOutcome
from tests.conftest import TEST_ACTOR
from tests.integration.pebble import Pebble

PRIMARY = "box.example.com"
# The web domains of a box with one user, admin@example.com: all under one zone, one order.
NAMES = [
    PRIMARY,
    "mta-sts.box.example.com",
    "example.com",
    "autoconfig.example.com",
    "autodiscover.example.com",
    "mta-sts.example.com",
    "www.example.com",
]


def make_box(folder: Path, pebble: Pebble) -> Box:
    """A box whose public address is loopback, whose DNS is pebble's and whose web root is
    the one the test's web server serves to pebble."""
    box = init_box(folder, primary_hostname=PRIMARY, public_ip="127.0.0.1", public_ipv6="")
    box.close()
    conf = folder / "mailinabox.conf"
    conf.write_text(
        conf.read_text()
        + f"MIAB_DNS_RESOLVER={pebble.dns_server}\n"
        + f"MIAB_ACME_SERVER={pebble.directory_url}\n"
        + f"MIAB_ACME_CA_BUNDLE={pebble.ca_bundle}\n"
    )
    box = open_box(folder)
    webroot = box.config.acme_webroot
    webroot.parent.mkdir(parents=True, exist_ok=True)
    webroot.symlink_to(pebble.webroot)  # on a box nginx serves this folder
    box.mail.users.add_user("admin@example.com", "Secret-pass-1", "admin", actor=TEST_ACTOR)
    return box


@pytest.fixture()
def trust_pebble(tmp_path: Path, pebble: Pebble, monkeypatch: pytest.MonkeyPatch) -> Path:
    roots = tmp_path / "pebble-root.pem"
    roots.write_bytes(pebble.root_pem)
    monkeypatch.setenv("SSL_CERT_FILE", str(roots))
    monkeypatch.setenv("SSL_CERT_DIR", str(tmp_path / "none"))
    return roots


@pytest.fixture()
def box(tmp_path: Path, pebble: Pebble) -> Iterator[Box]:
    box = make_box(tmp_path / "box", pebble)
    yield box
    box.close()


def test_provision_as_a_job_installs_a_chain_that_verifies(
    box: Box, pebble: Pebble, trust_pebble: Path
) -> None:
    ssl_dir = box.config.ssl_dir
    before = set(ssl_dir.iterdir())
    assert box.tls.web_domains() == NAMES
    assert box.tls.status().can_provision == tuple(NAMES)
    outcome = ProvisionOutcome.from_json(
        box.jobs.result(TLS_PROVISION, actor=TEST_ACTOR, timeout=120)
    )
    installed = [r for r in outcome.requests if r.result == "installed"]
    assert [list(r.domains) for r in installed] == [NAMES], outcome
    assert any("Certificate issued" in line for line in installed[0].log)
    assert outcome.messages[0] == "updating primary certificate"
    # One new file, named as the reference names it, holding leaf and chain.
    new = set(ssl_dir.iterdir()) - before
    assert len(new) == 1
    stored = new.pop()
    assert stored.name.startswith(f"{PRIMARY}-") and stored.suffix == ".pem"
    chain = x509.load_pem_x509_certificates(stored.read_bytes())
    root = x509.load_pem_x509_certificate(pebble.root_pem)
    for name in NAMES:
        PolicyBuilder().store(Store([root])).build_server_verifier(x509.DNSName(name)).verify(
            chain[0], chain[1:]
        )
    assert Path(os.readlink(ssl_dir / "ssl_certificate.pem")) == stored
    # Every web domain is now signed & valid; nothing is left to provision.
    status = box.tls.status()
    assert status.can_provision == ()
    assert {r.status for r in status.rows} == {"success"}
    # The same call again renews nothing: every domain has a certificate valid for long.
    again = box.tls.provision(actor=TEST_ACTOR)
    assert {r.result for r in again.requests} == {"skipped"}
    assert again.requests[0].log[0].startswith("The domain has a valid certificate already.")
    # No challenge file is left in the web root.
    assert not list((pebble.webroot / ".well-known" / "acme-challenge").glob("*"))


def test_failing_challenge_is_an_error_with_the_log_and_installs_nothing(
    box: Box, pebble: Pebble, trust_pebble: Path
) -> None:
    ssl_dir = box.config.ssl_dir
    before = sorted(ssl_dir.iterdir())
    link = os.readlink(ssl_dir / "ssl_certificate.pem")
    with pebble.http_status(404):
        outcome = box.tls.provision(actor=TEST_ACTOR, limit=["example.com", "www.example.com"])
    assert [r.result for r in outcome.requests] == ["error"]
    request = outcome.requests[0]
    assert list(request.domains) == ["example.com", "www.example.com"]
    assert "404" in request.log[-1]
    assert outcome.messages == ()
    assert sorted(ssl_dir.iterdir()) == before
    assert os.readlink(ssl_dir / "ssl_certificate.pem") == link
    assert box.audit.recent(1)[0].operation == "provision TLS certificates"
