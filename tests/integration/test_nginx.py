"""nginx from Debian serves the config core writes (SYSTEM.md §2.2).

A private nginx (its own prefix, main config, pid, temp folders and error log in a temp folder,
in the foreground, on loopback and free high ports) includes the box's `conf.d/*.conf`. The
box's web service writes local.conf through the host door, whose service manager is pointed at
this nginx (`nginx -p PREFIX -c main.conf -s reload`); the door's own `nginx -t` runs first.
The system's nginx and its files are never touched.

Checked over real HTTP and TLS: the 301 to HTTPS, ACME challenge files from the web root over
plain HTTP, the certificate each SNI name gets, custom roots, `www.` redirects, HSTS, the
`/admin/` proxy (X-Forwarded-For set by nginx), www/custom.yaml proxies and redirects, hostile
custom.yaml values staying values, a new certificate served after the update, and a broken
include refused with nginx's own error while the old config stays live.
"""

from __future__ import annotations

import datetime
import http.client
import http.server
import json
import os
import socket
import ssl
import subprocess
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Final, TypeVar

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from core import Box, init_box
from core.host import Host
from core.results import Change
from core.web import UPDATED, Listen, WebService
from core.web.service import NOT_UPDATED
from tests.conftest import TEST_ACTOR
from tests.core.tls_factory import Issuer, box_key, leaf, pem, root_ca
from tests.integration.conftest import free_tcp_port, require_program

pytestmark = pytest.mark.integration

PRIMARY: Final = "box.example.com"
WAIT: Final = 15.0
T = TypeVar("T")


@dataclass
class Served:
    box: Box
    web: WebService
    nginx: str
    prefix: Path
    main_conf: Path
    http_port: int
    https_port: int
    ca: Issuer
    backend: Backend

    def log(self) -> str:
        path = self.prefix / "error.log"
        return path.read_text(errors="replace")[-3000:] if path.exists() else ""


class Backend:
    """A stand-in for the API behind `/admin/` and for a custom.yaml proxy: answers every GET
    with the path and headers it was sent, as JSON."""

    def __init__(self) -> None:
        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 - the stdlib's name
                body = json.dumps({"path": self.path, "headers": dict(self.headers)}).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: object) -> None:
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = int(self.server.server_address[1])
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def main_conf(prefix: Path, include_dir: Path) -> str:
    """nginx's main config for the test: everything it writes inside `prefix`."""
    temp = prefix / "tmp"
    lines = [
        # Workers read the box's files under the test's private temp folder.
        "user root;" if os.geteuid() == 0 else "",
        "worker_processes 1;",
        f"pid {prefix}/nginx.pid;",
        f"error_log {prefix}/error.log info;",
        "events { worker_connections 64; }",
        "http {",
        "\taccess_log off;",
        *(
            f"\t{kind}_temp_path {temp}/{kind};"
            for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")
        ),
        "\tinclude /etc/nginx/mime.types;" if Path("/etc/nginx/mime.types").exists() else "",
        f"\tinclude {include_dir}/*.conf;",
        "}",
        "",
    ]
    return "\n".join(lines)


def eventually(check: Callable[[], T], what: str, served: Served | None = None) -> T:
    """`check()`'s value once it stops raising (nginx reloads asynchronously)."""
    deadline = time.monotonic() + WAIT
    while True:
        try:
            return check()
        except (AssertionError, OSError, http.client.HTTPException, ssl.SSLError):
            if time.monotonic() > deadline:
                log = served.log() if served else ""
                raise AssertionError(f"{what} did not happen within {WAIT} s\n{log}") from None
            time.sleep(0.1)


def nginx_workers(served: Served) -> set[int]:
    """The worker processes of the test's nginx (the master's children)."""
    master = (served.prefix / "nginx.pid").read_text().strip()
    children = Path(f"/proc/{master}/task/{master}/children")
    return {int(pid) for pid in children.read_text().split()}


def update(served: Served) -> Change:
    """`web.update()`, and once it reloaded nginx, its old workers gone: they finish what they
    hold, and until they exit one of them may still take a new connection with the old config."""
    old = nginx_workers(served)
    change = served.web.update(actor=TEST_ACTOR)
    if change.changed:

        def replaced() -> None:
            workers = nginx_workers(served)
            assert workers and not workers & old

        eventually(replaced, "the reload", served)
    return change


@dataclass
class Reply:
    status: int
    headers: http.client.HTTPMessage
    body: bytes
    certificate: x509.Certificate | None = None

    @property
    def text(self) -> str:
        return self.body.decode("utf-8", "replace")


def http_get(port: int, host: str, path: str, headers: dict[str, str] | None = None) -> Reply:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
    try:
        conn.request("GET", path, headers={"Host": host, **(headers or {})})
        resp = conn.getresponse()
        return Reply(resp.status, resp.headers, resp.read())
    finally:
        conn.close()


def https_get(port: int, sni: str, path: str, headers: dict[str, str] | None = None) -> Reply:
    """A GET over TLS to 127.0.0.1 with `sni` as the server name (and Host header); the
    certificate the server chose comes back with the answer."""
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    raw = socket.create_connection(("127.0.0.1", port), timeout=5)
    tls = context.wrap_socket(raw, server_hostname=sni)
    der = tls.getpeercert(binary_form=True)
    conn = http.client.HTTPConnection(sni, port, timeout=5)
    conn.sock = tls
    try:
        conn.request("GET", path, headers={"Host": sni, **(headers or {})})
        resp = conn.getresponse()
        body = resp.read()
        cert = x509.load_der_x509_certificate(der) if der else None
        return Reply(resp.status, resp.headers, body, cert)
    finally:
        conn.close()


def sans(cert: x509.Certificate | None) -> list[str]:
    assert cert is not None
    ext = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName)
    return list(ext.value.get_values_for_type(x509.DNSName))


def now() -> datetime.datetime:
    return datetime.datetime.now(datetime.UTC)


def own_certificate(box: Box, ca: Issuer, names: Sequence[str], stem: str) -> x509.Certificate:
    """A certificate for `names` with a key of its own, both written into ssl/."""
    key = ec.generate_private_key(ec.SECP256R1())
    ssl_dir = box.config.ssl_dir
    (ssl_dir / f"{stem}.key").write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    cert = leaf(ca, key, names, start=now() - datetime.timedelta(days=1))
    (ssl_dir / f"{stem}.pem").write_text(pem(cert, ca.cert))
    return cert


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    nginx = require_program("nginx", "nginx")
    tmp = tmp_path_factory.mktemp("nginx")
    box = init_box(tmp / "box")  # the real clock: nginx and TLS clients judge by it
    box.mail.users.add_user("me@example.com", "secret-password", "admin", actor=TEST_ACTOR)
    box.mail.aliases.add_alias("administrator@" + PRIMARY, "me@example.com", actor=TEST_ACTOR)
    box.mail.users.add_user("carol@example.org", "secret-password", actor=TEST_ACTOR)
    config = box.config
    www = config.storage_root / "www"
    (www / "default" / "index.html").write_text("the default site\n")
    (www / "example.com").mkdir()
    (www / "example.com" / "index.html").write_text("example.com's own site\n")
    config.mta_sts_policy.write_text("version: STSv1\nmode: enforce\n")
    # example.com: a certificate for the box's key; example.org: one with its own key; the
    # other names fall back to the primary hostname's self-signed certificate.
    ca = root_ca(start=now())
    ssl_dir = config.ssl_dir
    example_com = leaf(
        ca,
        box_key(ssl_dir),
        ["example.com", "www.example.com"],
        start=now() - datetime.timedelta(days=1),
    )
    (ssl_dir / "example.com-own.pem").write_text(pem(example_com, ca.cert))
    own_certificate(box, ca, ["example.org"], "example.org")

    prefix = tmp / "prefix"
    for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi"):
        (prefix / "tmp" / kind).mkdir(parents=True)
    main = prefix / "main.conf"
    main.write_text(main_conf(prefix, config.nginx_conf_dir))
    http_port, https_port = free_tcp_port(), free_tcp_port()
    while https_port == http_port:
        https_port = free_tcp_port()
    # The door of a real box (it reloads services), its service manager this nginx.
    host = Host(
        config.with_values(system_root=Path("/")),
        service_manager=lambda service, action: (
            nginx,
            "-p",
            str(prefix),
            "-c",
            str(main),
            "-s",
            action,
        ),
    )
    backend = Backend()
    web = WebService(
        box,
        host=host,
        listen=Listen(http_port, https_port, ("127.0.0.1",)),
        api_port=backend.port,
    )
    process = subprocess.Popen(
        [nginx, "-p", str(prefix), "-c", str(main), "-g", "daemon off;"],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    state = Served(box, web, nginx, prefix, main, http_port, https_port, ca, backend)
    try:
        deadline = time.monotonic() + WAIT
        while not (prefix / "nginx.pid").exists():
            if process.poll() is not None or time.monotonic() > deadline:
                out = process.stdout.read() if process.stdout and process.poll() is not None else ""
                pytest.fail(f"nginx did not start: {out}{state.log()}")
            time.sleep(0.05)
        change = update(state)
        assert change.lines == (UPDATED,), change.lines
        eventually(lambda: http_get(http_port, PRIMARY, "/"), "serving port 80", state)
        yield state
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        backend.close()
        box.close()


def test_the_generated_config_passes_nginx_t(served: Served) -> None:
    done = subprocess.run(
        [served.nginx, "-p", str(served.prefix), "-c", str(served.main_conf), "-t"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    text = served.box.config.nginx_local_conf.read_text()
    domains = served.web.domains()
    assert len(domains) == 12
    assert text.count("\nserver {") == 2 * len(domains)


def test_port_80_redirects_except_acme_challenges(served: Served) -> None:
    reply = http_get(served.http_port, "example.com", "/some/page?x=1")
    assert reply.status == 301
    assert reply.headers["Location"] == "https://example.com/some/page?x=1"
    assert "nginx/" not in (reply.headers["Server"] or "")  # server_tokens off
    challenges = served.box.config.acme_webroot / ".well-known" / "acme-challenge"
    challenges.mkdir(parents=True, exist_ok=True)
    (challenges / "token-123").write_text("token-123.thumbprint")
    for name in ("example.com", "mta-sts.example.org", PRIMARY):
        reply = http_get(served.http_port, name, "/.well-known/acme-challenge/token-123")
        assert (reply.status, reply.text) == (200, "token-123.thumbprint"), name
    assert (
        http_get(served.http_port, "example.com", "/.well-known/acme-challenge/nope").status == 404
    )


def test_each_name_gets_its_certificate(served: Served) -> None:
    ssl_dir = served.box.config.ssl_dir
    system = x509.load_pem_x509_certificate((ssl_dir / "ssl_certificate.pem").read_bytes())
    box_public = (
        box_key(ssl_dir)
        .public_key()
        .public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    )

    def served_cert(name: str) -> x509.Certificate:
        cert = https_get(served.https_port, name, "/").certificate
        assert cert is not None
        return cert

    assert served_cert(PRIMARY) == system
    com = served_cert("example.com")
    assert sans(com) == ["example.com", "www.example.com"]
    assert (
        com.public_key().public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
        )
        == box_public
    )
    assert served_cert("www.example.com") == com
    org = served_cert("example.org")
    assert sans(org) == ["example.org"]
    assert (
        org.public_key().public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
        )
        != box_public
    )
    # No certificate of its own: the primary hostname's.
    assert served_cert("mta-sts.example.com") == system
    assert served_cert("autoconfig.example.org") == system


def test_https_sites(served: Served) -> None:
    port = served.https_port
    reply = https_get(port, "example.com", "/")
    assert (reply.status, reply.text) == (200, "example.com's own site\n")
    assert reply.headers["Strict-Transport-Security"] == "max-age=15768000"
    assert https_get(port, "example.org", "/").text == "the default site\n"
    reply = https_get(port, "www.example.com", "/a/b?c=d")
    assert (reply.status, reply.headers["Location"]) == (301, "https://example.com/a/b?c=d")
    reply = https_get(port, "mta-sts.example.com", "/.well-known/mta-sts.txt")
    assert (reply.status, reply.text) == (200, "version: STSv1\nmode: enforce\n")
    assert https_get(port, "example.com", "/.git/config").status == 403
    # Webmail is there on a Mail-in-a-Box; here, without php-fpm, the upstream is missing.
    assert https_get(port, "example.com", "/mail/index.php").status == 502


def test_the_admin_proxy_sets_the_clients_address(served: Served) -> None:
    reply = https_get(
        served.https_port, PRIMARY, "/admin/mail/users?format=json", {"X-Forwarded-For": "6.6.6.6"}
    )
    assert reply.status == 200, reply.text
    seen = json.loads(reply.body)
    assert seen["path"] == "/mail/users?format=json"
    # nginx's own $remote_addr, never what the client claimed.
    assert seen["headers"]["X-Forwarded-For"] == "127.0.0.1"
    assert reply.headers["X-Frame-Options"] == "DENY"
    # Only the primary hostname proxies /admin/.
    assert https_get(served.https_port, "example.com", "/admin/").status == 404


def test_custom_yaml_proxies_redirects_and_hostile_values(served: Served) -> None:
    box = served.box
    hostile = '/h" { return 200 "pwned"; } location "/z'
    custom = {
        "example.org": {
            "proxies": {"/app/": f"http://127.0.0.1:{served.backend.port}/inner/#pass-http-host"},
            "redirects": {"^/old/(.*)$": "https://example.com/new/$1"},
            "aliases": {hostile: "/nonexistent"},
            "hsts": "preload",
        }
    }
    (box.config.storage_root / "www" / "custom.yaml").write_text(json.dumps(custom))
    change = update(served)
    assert change.lines == (UPDATED,), change.lines
    port = served.https_port

    def proxied() -> Reply:
        reply = https_get(port, "example.org", "/app/x")
        assert reply.status == 200
        return reply

    seen = json.loads(eventually(proxied, "the custom proxy", served).body)
    assert seen["path"] == "/inner/x"
    assert seen["headers"]["Host"] == "example.org"
    reply = https_get(port, "example.org", "/old/page")
    assert (reply.status, reply.headers["Location"]) == (301, "https://example.com/new/page")
    assert reply.headers["Strict-Transport-Security"] == (
        "max-age=15768000; includeSubDomains; preload"
    )
    # The hostile path is one location with that literal path: nothing answers "pwned".
    for path in ("/z", "/h", "/"):
        assert "pwned" not in https_get(port, "example.org", path).text


def test_a_new_certificate_is_served_after_the_update(served: Served) -> None:
    new = own_certificate(served.box, served.ca, ["example.org", "mta-sts.example.org"], "org-2")
    change = update(served)
    assert change.lines == (UPDATED,), change.lines

    def renewed() -> None:
        assert https_get(served.https_port, "mta-sts.example.org", "/").certificate == new

    eventually(renewed, "the new certificate", served)
    assert update(served).lines == ()


def test_a_broken_config_is_refused_and_the_old_one_stays_live(served: Served) -> None:
    box, web = served.box, served.web
    conf = box.config.nginx_local_conf
    before = conf.read_bytes()
    include = box.config.storage_root / "www" / "example.com.conf"
    include.write_text("add_header X-Broken yes\nlocation /broken {\n")
    try:
        change = update(served)
        assert not change.changed
        (line,) = change.lines
        assert line.startswith(NOT_UPDATED + "nginx refused it: nginx: [emerg] "), line
        assert str(include) in line
        assert conf.read_bytes() == before
        assert not conf.with_name(".local.conf.miab-new").exists()
        reply = https_get(served.https_port, "example.com", "/")
        assert (reply.status, reply.text) == (200, "example.com's own site\n")
        assert "X-Broken" not in reply.headers
        # A good include is taken, and served after the reload.
        include.write_text('add_header X-Included "yes" always;\n')
        assert update(served).lines == (UPDATED,)

        def included() -> None:
            assert https_get(served.https_port, "example.com", "/").headers["X-Included"] == "yes"

        eventually(included, "the include", served)
    finally:
        include.unlink()
    assert update(served).lines == (UPDATED,)
    assert https_get(served.https_port, "example.com", "/").status == 200
    # The fingerprints of every TLS file are in the config (the change marker).
    assert conf.read_text().count("# ssl files sha1: ") == len(web.domains())
