"""Backups to S3: moto's S3-compatible server (`moto[server]` from PyPI) started by this test
on 127.0.0.1 over HTTPS (a certificate made here, trusted through AWS_CA_BUNDLE, which both
our listing and duplicity's boto3 honour), with IAM authentication on, so that a wrong key is
refused as by AWS. A backup and restore round trip, and the reference's messages for a
missing bucket and bad credentials.

moto checks signatures wrongly when the listing's prefix holds a `/` (AWS does not), so the
round trip under a prefix runs against a moto without authentication, and the one with
authentication backs up to the bucket's top."""

from __future__ import annotations

import contextlib
import datetime
import ipaddress
import json
import os
import socket
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from core import Box
from core.backup import BackupOutcome, RestoreRequest
from core.backup.targets import S3_BAD_BUCKET, S3_BAD_KEYS
from core.errors import ValidationError
from tests.conftest import TEST_ACTOR
from tests.integration.backup_helpers import done, snapshot
from tests.integration.conftest import free_tcp_port, missing_requirement, require_program

pytestmark = pytest.mark.integration

# Requests moto answers before it starts checking credentials: the IAM user, its policy and
# its key are made with them.
SETUP_REQUESTS = 3
POLICY = {
    "Version": "2012-10-17",
    "Statement": [{"Effect": "Allow", "Action": "s3:*", "Resource": "*"}],
}


@dataclass(frozen=True)
class S3Server:
    host: str  # host:port
    access_key: str
    secret: str
    ca_bundle: Path
    authenticated: bool

    def target(self, bucket: str, prefix: str = "") -> str:
        return f"s3://{self.host}/{bucket}" + (f"/{prefix}" if prefix else "")


def _certificate(folder: Path) -> tuple[Path, Path]:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(hours=1))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = folder / "s3.pem", folder / "s3.key"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_path, key_path


@contextlib.contextmanager
def moto(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, *, authenticated: bool
) -> Iterator[S3Server]:
    """moto's server on loopback over HTTPS, with an IAM user allowed S3 and a bucket."""
    program = require_program("moto_server", "moto[server] from PyPI")
    try:
        import boto3
    except ImportError:
        missing_requirement("boto3 is not installed (PyPI boto3)")
    cert, key = _certificate(tmp_path)
    port = free_tcp_port()
    log = (tmp_path / "moto.log").open("wb")
    env = dict(os.environ)
    if authenticated:
        env["INITIAL_NO_AUTH_ACTION_COUNT"] = str(SETUP_REQUESTS)
    process = subprocess.Popen(
        [program, "-H", "127.0.0.1", "-p", str(port), "-c", str(cert), "-k", str(key)],
        stdout=log,
        stderr=log,
        env=env,
    )
    deadline = time.monotonic() + 30
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            break
        except OSError:
            if process.poll() is not None or time.monotonic() > deadline:
                log.close()
                pytest.fail("moto_server did not start: " + (tmp_path / "moto.log").read_text())
            time.sleep(0.1)
    monkeypatch.setenv("AWS_CA_BUNDLE", str(cert))  # our boto3 and duplicity's trust it
    for name in ("AWS_PROFILE", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    endpoint = f"https://127.0.0.1:{port}"
    iam = boto3.client(
        "iam",
        endpoint_url=endpoint,
        region_name="us-east-1",
        aws_access_key_id="setup",
        aws_secret_access_key="setup",
    )
    iam.create_user(UserName="box")
    iam.put_user_policy(UserName="box", PolicyName="s3", PolicyDocument=json.dumps(POLICY))
    made = iam.create_access_key(UserName="box")["AccessKey"]
    server = S3Server(
        f"127.0.0.1:{port}",
        made["AccessKeyId"],
        made["SecretAccessKey"],
        cert,
        authenticated,
    )
    boto3.client(
        "s3",
        endpoint_url=endpoint,
        region_name="us-east-1",
        aws_access_key_id=server.access_key,
        aws_secret_access_key=server.secret,
    ).create_bucket(Bucket="box-backups")
    try:
        yield server
    finally:
        process.terminate()
        process.wait(10)
        log.close()


@pytest.fixture
def s3(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[S3Server]:
    """moto checking every request's credentials, as AWS does."""
    with moto(tmp_path, monkeypatch, authenticated=True) as server:
        yield server


@pytest.fixture
def open_s3(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[S3Server]:
    """moto taking any credentials (its signature check fails on prefixes with a `/`)."""
    with moto(tmp_path, monkeypatch, authenticated=False) as server:
        yield server


@pytest.mark.parametrize(("server", "prefix"), [("s3", ""), ("open_s3", "box.example.com")])
def test_s3_round_trip(
    live_box: Box, server: str, prefix: str, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    s3: S3Server = request.getfixturevalue(server)
    box = live_box
    target = s3.target("box-backups", prefix)
    change = box.backup.set_config(target, s3.access_key, s3.secret, "3", actor=TEST_ACTOR)
    assert change.text == "OK"
    ui = box.backup.get_config().for_ui()
    assert ui["target"] == target and "target_pass" not in ui and "target_user" not in ui
    state = snapshot(box.config.storage_root)
    job = done(box, box.backup.start_backup(actor=TEST_ACTOR))
    assert BackupOutcome.from_json(job.result).full
    status = box.backup.status()
    assert status.error is None and [b.full for b in status.backups] == [True]
    assert status.backups[0].size > 0
    destination = tmp_path / "restored"
    done(box, box.backup.start_restore(RestoreRequest(to=str(destination)), actor=TEST_ACTOR))
    assert snapshot(destination) == state


def test_s3_failures_in_the_reference_words(live_box: Box, s3: S3Server) -> None:
    box = live_box
    with pytest.raises(ValidationError) as err:
        box.backup.set_config(
            s3.target("no-such-bucket"), s3.access_key, s3.secret, "3", actor=TEST_ACTOR
        )
    assert err.value.message == S3_BAD_BUCKET == "Invalid S3 bucket name."
    with pytest.raises(ValidationError) as err:
        box.backup.set_config(s3.target("box-backups"), "AKIAWRONG", "wrong", "3", actor=TEST_ACTOR)
    assert err.value.message == S3_BAD_KEYS == "Invalid S3 access key or secret access key."
    with pytest.raises(ValidationError) as err:
        box.backup.set_config(f"s3://{s3.host}", s3.access_key, s3.secret, "3", actor=TEST_ACTOR)
    assert err.value.message == "Enter an S3 bucket name."
    assert box.backup.get_config().target == "local"  # nothing saved
