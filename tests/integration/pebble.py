"""A private ACME CA for the tests: Let's Encrypt's `pebble`, its fake DNS, and a web root.

`running_pebble(folder)` starts, all on 127.0.0.1 at free high ports:

- `pebble-challtestsrv` as the DNS server only: every A query is answered 127.0.0.1, no AAAA
  (its HTTP-01, HTTPS-01 and TLS-ALPN-01 listeners are off, its management on a free port);
- a small HTTP server serving files from `webroot` (what nginx does on a box), which pebble's
  validation reaches as `http://<name>:<http_port>/.well-known/acme-challenge/<token>`;
- `pebble` with its own config: HTTPS with a certificate made here, validation with no sleeps,
  no rejected nonces, and by default no authorization reuse (every order really validates).

Nothing is installed or touched outside `folder`; everything is stopped on exit.
"""

from __future__ import annotations

import contextlib
import datetime
import functools
import http.server
import ipaddress
import json
import os
import socket
import ssl
import subprocess
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from tests.integration.conftest import free_tcp_port

START_TIMEOUT: Final = 20.0


@dataclass
class Pebble:
    """A running pebble, as the tests see it."""

    directory_url: str  # https://127.0.0.1:PORT/dir
    ca_bundle: str  # CA file that pebble's (and its management interface's) HTTPS chains to
    root_pem: bytes  # the root that signs what pebble issues (new at every start)
    webroot: Path  # served at http://<any name>:http_port/ for HTTP-01
    dns_server: str  # "127.0.0.1:PORT", the fake DNS pebble resolves names with
    http_port: int
    management_url: str  # https://127.0.0.1:PORT
    _http: _WebRoot = field(repr=False)

    @contextlib.contextmanager
    def http_status(self, status: int) -> Iterator[None]:
        """Within the block the web root answers every request with `status` and no file."""
        self._http.forced_status = status
        try:
            yield
        finally:
            self._http.forced_status = None

    @property
    def challenge_dir(self) -> Path:
        return self.webroot / ".well-known" / "acme-challenge"


# --- The web root's HTTP server ---------------------------------------------------------


class _WebRoot(http.server.ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, port: int, webroot: Path) -> None:
        self.webroot = webroot
        self.forced_status: int | None = None
        super().__init__(
            ("127.0.0.1", port), functools.partial(_WebRootHandler, directory=str(webroot))
        )


class _WebRootHandler(http.server.SimpleHTTPRequestHandler):
    server: _WebRoot

    def do_GET(self) -> None:
        if self.server.forced_status is not None:
            self.send_error(self.server.forced_status)
            return
        super().do_GET()

    def log_message(self, format: str, *args: Any) -> None:
        pass


# --- Certificates for pebble's own HTTPS ------------------------------------------------


def _write_https_certificates(folder: Path) -> tuple[Path, Path, Path]:
    """A throwaway CA and a 127.0.0.1/localhost server certificate it signs.

    A real CA plus a leaf (not one self-signed leaf) keeps every TLS client's strict checks
    happy. Returns (ca.pem, cert.pem, key.pem)."""
    now = datetime.datetime.now(datetime.UTC)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "miab-tui test HTTPS CA")])
    ca = (
        x509.CertificateBuilder()
        .subject_name(ca_name)
        .issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=2))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=True,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), False)
        .sign(ca_key, hashes.SHA256())
    )
    key = ec.generate_private_key(ec.SECP256R1())
    leaf = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")]))
        .issuer_name(ca_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName(
                [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
            ),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), False
        )
        .sign(ca_key, hashes.SHA256())
    )
    paths = (folder / "https-ca.pem", folder / "https-cert.pem", folder / "https-key.pem")
    paths[0].write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    paths[1].write_bytes(leaf.public_bytes(serialization.Encoding.PEM))
    paths[2].write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return paths


# --- Processes ----------------------------------------------------------------------------


def _tail(path: Path, lines: int = 30) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return ""


def _wait_for_port(port: int, process: subprocess.Popen[bytes], log: Path, what: str) -> None:
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"{what} exited with {process.returncode}:\n{_tail(log)}")
        with socket.socket() as sock:
            sock.settimeout(0.5)
            if sock.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.05)
    raise RuntimeError(f"{what} did not listen on port {port} in time:\n{_tail(log)}")


def _fetch(url: str, context: ssl.SSLContext) -> bytes:
    with urllib.request.urlopen(url, context=context, timeout=5) as answer:
        body: bytes = answer.read()
        return body


def _wait_for_directory(
    url: str, context: ssl.SSLContext, process: subprocess.Popen[bytes], log: Path
) -> None:
    deadline = time.monotonic() + START_TIMEOUT
    last: Exception | None = None
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"pebble exited with {process.returncode}:\n{_tail(log)}")
        try:
            json.loads(_fetch(url, context))
            return
        except (OSError, urllib.error.URLError, ValueError) as error:
            last = error
            time.sleep(0.1)
    raise RuntimeError(f"pebble did not answer at {url} ({last}):\n{_tail(log)}")


def _stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=5)


@contextlib.contextmanager
def running_pebble(
    folder: Path, *, pebble: str, challtestsrv: str, authz_reuse: int = 0
) -> Iterator[Pebble]:
    """Start challtestsrv, the web root and pebble (programs at the given paths) in `folder`;
    yield what the tests need; stop all three on exit. `authz_reuse` is the percentage of new
    orders in which pebble reuses a valid authorization (as Let's Encrypt does for 30 days)."""
    folder.mkdir(parents=True, exist_ok=True)
    webroot = folder / "webroot"
    webroot.mkdir(exist_ok=True)
    ca_pem, cert_pem, key_pem = _write_https_certificates(folder)
    context = ssl.create_default_context(cafile=str(ca_pem))

    dns_port, dns_management_port = free_tcp_port(), free_tcp_port()
    acme_port, management_port, http_port, tls_port = (free_tcp_port() for _ in range(4))
    config = folder / "pebble-config.json"
    config.write_text(
        json.dumps(
            {
                "pebble": {
                    "listenAddress": f"127.0.0.1:{acme_port}",
                    "managementListenAddress": f"127.0.0.1:{management_port}",
                    "certificate": str(cert_pem),
                    "privateKey": str(key_pem),
                    "httpPort": http_port,
                    "tlsPort": tls_port,
                    "ocspResponderURL": "",
                    "externalAccountBindingRequired": False,
                }
            },
            indent=2,
        )
    )
    env = {
        **os.environ,
        "PEBBLE_VA_NOSLEEP": "1",
        "PEBBLE_WFE_NONCEREJECT": "0",
        "PEBBLE_VA_ALWAYS_VALID": "0",
        "PEBBLE_AUTHZREUSE": str(authz_reuse),
    }
    dns_server = f"127.0.0.1:{dns_port}"
    with contextlib.ExitStack() as stack:
        dns_log = stack.enter_context((folder / "challtestsrv.log").open("wb"))
        dns = subprocess.Popen(
            [
                challtestsrv,
                "-defaultIPv4",
                "127.0.0.1",
                "-defaultIPv6",
                "",
                "-dns01",
                dns_server,
                "-http01",
                "",
                "-https01",
                "",
                "-tlsalpn01",
                "",
                "-management",
                f"127.0.0.1:{dns_management_port}",
            ],
            stdout=dns_log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
        )
        stack.callback(_stop, dns)
        _wait_for_port(dns_management_port, dns, folder / "challtestsrv.log", "challtestsrv")

        web = _WebRoot(http_port, webroot)
        threading.Thread(target=web.serve_forever, name="pebble-webroot", daemon=True).start()
        stack.callback(web.server_close)
        stack.callback(web.shutdown)

        pebble_log = stack.enter_context((folder / "pebble.log").open("wb"))
        ca = subprocess.Popen(
            [pebble, "-config", str(config), "-dnsserver", dns_server],
            stdout=pebble_log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            env=env,
            cwd=folder,
        )
        stack.callback(_stop, ca)
        directory_url = f"https://127.0.0.1:{acme_port}/dir"
        _wait_for_directory(directory_url, context, ca, folder / "pebble.log")
        management_url = f"https://127.0.0.1:{management_port}"
        root_pem = _fetch(f"{management_url}/roots/0", context)

        yield Pebble(
            directory_url=directory_url,
            ca_bundle=str(ca_pem),
            root_pem=root_pem,
            webroot=webroot,
            dns_server=dns_server,
            http_port=http_port,
            management_url=management_url,
            _http=web,
        )
