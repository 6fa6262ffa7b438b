"""Request bodies are bounded on every route and never read before authentication.

A declared `Content-Length` over the bound is refused (413, plain text, `Connection: close`)
before routing and authentication, without reading a byte; a chunked body is read at most
one byte past the bound, and only by an authenticated view. Bottle never spools a body to
disk. Over a real socket, the server answers a 100 MB declared body at once.
"""

from __future__ import annotations

import io
import re
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import bottle
import pytest
from webtest import TestApp, TestRequest, TestResponse

from api_server import make_app
from api_server.bodies import BAD_LENGTH, BODY_LIMIT, TOO_LARGE
from core import Box
from core.dns.custom import TXT_MAX_CHARS
from tests.api.conftest import ADMIN_AUTH, CLIENT_ADDRESS, basic
from tests.core.dns.conftest import fake_resolver

HUNDRED_MB = 100 * 1024 * 1024
PLAIN = "text/plain; charset=utf-8"
WRONG_AUTH = basic("me@example.com", "not-the-password")
# Routes of every kind: raw-body DNS, forms, MFA, the unauthenticated user routes, no route.
ROUTES = [
    ("POST", "/dns/custom/_acme-challenge.example.com/TXT"),
    ("PUT", "/admin/dns/custom/www.example.com/A"),
    ("DELETE", "/dns/custom/www.example.com"),
    ("POST", "/mail/users/add"),
    ("POST", "/mail/aliases/add"),
    ("POST", "/mfa/totp/enable"),
    ("POST", "/dns/update"),
    ("POST", "/login"),
    ("GET", "/me"),
    ("POST", "/nope"),
]


class Stream:
    """A `wsgi.input` that counts what is read from it (and can refuse to be read at all)."""

    def __init__(self, data: bytes = b"", *, readable: bool = True) -> None:
        self._data = io.BytesIO(data)
        self.readable = readable
        self.taken = 0

    def read(self, size: int = -1) -> bytes:
        assert self.readable, "the body was read"
        data = self._data.read(size)
        self.taken += len(data)
        return data

    def readline(self, size: int = -1) -> bytes:
        assert self.readable, "the body was read"
        data = self._data.readline(size)
        self.taken += len(data)
        return data

    def readlines(self, hint: int = -1) -> list[bytes]:
        raise AssertionError("not used by the app")

    def __iter__(self) -> Iterator[bytes]:
        raise AssertionError("not used by the app")


@pytest.fixture
def app(demo_box: Box) -> TestApp:
    demo_box.dns.resolver = fake_resolver
    return TestApp(make_app(demo_box), extra_environ={"REMOTE_ADDR": CLIENT_ADDRESS})


def request(
    app: TestApp,
    method: str,
    path: str,
    stream: Stream,
    *,
    status: int,
    auth: str | None = ADMIN_AUTH,
    length: str | None = None,
    chunked: bool = False,
    content_type: str = "text/plain",
    lint: bool = True,
) -> TestResponse:
    """A request whose body is `stream`, declared by `length` or sent chunked as a server
    that decodes chunked uploads hands it over (no length, `wsgi.input_terminated`)."""
    environ: dict[str, Any] = {
        "REQUEST_METHOD": method,
        "wsgi.input": stream,
        "CONTENT_TYPE": content_type,
    }
    if length is not None:
        environ["CONTENT_LENGTH"] = length
    if chunked:
        environ["HTTP_TRANSFER_ENCODING"] = "chunked"
        environ["wsgi.input_terminated"] = True
    if auth is not None:
        environ["HTTP_AUTHORIZATION"] = auth
    req = TestRequest.blank(path, environ)
    if not lint:  # WebTest's lint refuses some malformed requests before the app sees them
        app = TestApp(app.app, extra_environ=app.extra_environ, lint=False)
    resp: TestResponse = app.do_request(req, status=status, expect_errors=True)
    return resp


def custom_yaml(box: Box) -> bytes | None:
    path = box.dns.custom_yaml
    return path.read_bytes() if path.exists() else None


def assert_too_large(resp: TestResponse) -> None:
    assert resp.status_int == 413
    assert resp.headers["Content-Type"] == PLAIN
    assert resp.headers["Connection"] == "close"
    assert resp.text == TOO_LARGE
    assert "X-Reason" not in resp.headers


@pytest.mark.parametrize(("method", "path"), ROUTES)
@pytest.mark.parametrize("auth", [None, WRONG_AUTH, ADMIN_AUTH])
def test_declared_length_over_the_bound_is_refused_unread(
    app: TestApp, demo_box: Box, method: str, path: str, auth: str | None
) -> None:
    before = custom_yaml(demo_box)
    for length in (HUNDRED_MB, BODY_LIMIT + 1):
        stream = Stream(readable=False)
        resp = request(app, method, path, stream, status=413, auth=auth, length=str(length))
        assert_too_large(resp)
        assert stream.taken == 0
    assert custom_yaml(demo_box) == before


def test_an_invalid_length_is_refused_unread(app: TestApp) -> None:
    for length in ("-1", "12abc", "１２", "9" * 5000):
        stream = Stream(readable=False)
        resp = request(
            app, "POST", "/mail/users/add", stream, status=(400, 413), length=length, lint=False
        )
        assert resp.headers["Content-Type"] == PLAIN
        assert resp.text in (BAD_LENGTH, TOO_LARGE)
        assert stream.taken == 0


@pytest.mark.parametrize("auth", [None, WRONG_AUTH])
@pytest.mark.parametrize("chunked", [False, True])
def test_no_body_byte_is_read_before_authentication(
    app: TestApp, auth: str | None, chunked: bool
) -> None:
    body = b"email=x@example.com&password=long-enough-password"
    for method, path in ROUTES:
        if path in ("/login", "/me", "/nope"):
            continue
        stream = Stream(body, readable=False)
        resp = request(
            app,
            method,
            path,
            stream,
            status=(401, 403),
            auth=auth,
            length=None if chunked else str(len(body)),
            chunked=chunked,
            content_type="application/x-www-form-urlencoded",
        )
        assert stream.taken == 0
        assert "codec" not in resp.text


def test_chunked_body_over_the_bound_is_read_one_byte_past_it(app: TestApp, demo_box: Box) -> None:
    before = custom_yaml(demo_box)
    for method, path, content_type in (
        ("POST", "/dns/custom/_acme-challenge.example.com/TXT", "text/plain"),
        ("POST", "/mail/users/add", "application/x-www-form-urlencoded"),
        ("POST", "/mail/aliases/add", "multipart/form-data; boundary=xyz"),
    ):
        stream = Stream(b"x" * (BODY_LIMIT * 4))
        resp = request(
            app, method, path, stream, status=413, chunked=True, content_type=content_type
        )
        assert_too_large(resp)
        assert stream.taken == BODY_LIMIT + 1
    assert custom_yaml(demo_box) == before


def test_chunked_body_within_the_bound_is_read_as_usual(app: TestApp, demo_box: Box) -> None:
    resp = request(
        app,
        "POST",
        "/dns/custom/_acme-challenge.example.com/TXT",
        Stream(b"chunked-token"),
        status=200,
        chunked=True,
    )
    assert resp.text.startswith("updated DNS: example.com")
    assert "chunked-token" in demo_box.dns.custom_yaml.read_text()
    form = b"address=sales@example.com&forwards_to=me@example.com"
    resp = request(
        app,
        "POST",
        "/mail/aliases/add",
        Stream(form),
        status=200,
        chunked=True,
        content_type="application/x-www-form-urlencoded",
    )
    assert demo_box.mail.aliases.get_alias("sales@example.com") is not None


@pytest.fixture
def no_spooling(monkeypatch: pytest.MonkeyPatch) -> None:
    """Bottle's one way of putting a body (or a multipart part) on disk fails if used."""

    def refuse(*_args: object, **_kwargs: object) -> None:
        raise AssertionError("Bottle spooled a request body to disk")

    monkeypatch.setattr(bottle, "NamedTemporaryFile", refuse)


def test_the_largest_legitimate_bodies_fit(app: TestApp, demo_box: Box, no_spooling: None) -> None:
    # The largest TXT value a record can hold, as a raw body.
    value = "v" * TXT_MAX_CHARS
    resp = app.post(
        "/dns/custom/big.example.com/TXT",
        value.encode(),
        headers={"Authorization": ADMIN_AUTH, "Content-Type": "text/plain"},
    )
    assert resp.text.startswith("updated DNS: example.com")
    assert value in demo_box.dns.custom_yaml.read_text()
    # Forms just under the bound, url-encoded and multipart: read whole, in memory.
    padding = "p" * (BODY_LIMIT - 1024)
    fields = {"address": "list@example.com", "forwards_to": "me@example.com", "pad": padding}
    app.post("/mail/aliases/add", fields, headers={"Authorization": ADMIN_AUTH})
    fields["address"] = "list2@example.com"
    app.post(
        "/mail/aliases/add",
        fields,
        headers={"Authorization": ADMIN_AUTH},
        content_type="multipart/form-data",
    )
    assert demo_box.mail.aliases.get_alias("list@example.com") is not None
    assert demo_box.mail.aliases.get_alias("list2@example.com") is not None


def test_exactly_the_bound_is_accepted(app: TestApp, no_spooling: None) -> None:
    body = b"email=bounded@example.com&password=long-enough-password&pad="
    body += b"p" * (BODY_LIMIT - len(body))
    stream = Stream(body)
    resp = request(
        app,
        "POST",
        "/mail/users/add",
        stream,
        status=200,
        length=str(len(body)),
        content_type="application/x-www-form-urlencoded",
    )
    assert resp.text.startswith("mail user added")
    assert stream.taken == BODY_LIMIT


# --- over a real socket, served as `miab serve` serves it ------------------------------------


@pytest.fixture
def served(demo_box: Box) -> Iterator[tuple[str, int]]:
    """`python -m api_server` (gunicorn, one worker) on a free loopback port."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "api_server",
            "--box",
            str(demo_box.config.system_root),
            "--port",
            str(port),
            "--workers",
            "1",
            "--threads",
            "2",
        ],
        cwd=Path(__file__).resolve().parents[2],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 30
        while True:
            assert proc.poll() is None, "the server exited"
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                assert time.monotonic() < deadline, "the server never listened"
                time.sleep(0.1)
        yield "127.0.0.1", port
    finally:
        proc.terminate()
        proc.wait(30)


def exchange(where: tuple[str, int], head: str, body: bytes) -> tuple[bytes, float]:
    """Send a request head and the first bytes of its body; the whole answer and how long it
    took. The socket timeout fails the test if the server waits for the rest of the body."""
    started = time.monotonic()
    with socket.create_connection(where, timeout=5) as sock:
        sock.sendall(head.encode("ascii") + b"\r\n" + body)
        answer = b""
        while b"\r\n\r\n" not in answer:
            part = sock.recv(65536)
            assert part, f"the server closed without an answer: {answer!r}"
            answer += part
        head_bytes, _, rest = answer.partition(b"\r\n\r\n")
        found = re.search(rb"(?im)^content-length:\s*(\d+)", head_bytes)
        assert found, head_bytes
        while len(rest) < int(found.group(1)):
            part = sock.recv(65536)
            assert part, f"the answer was cut short: {answer!r}"
            rest += part
    return head_bytes + b"\r\n\r\n" + rest, time.monotonic() - started


def test_a_100_mb_body_is_refused_at_once_over_a_socket(served: tuple[str, int]) -> None:
    for path in ("/mail/users/add", "/dns/custom/_acme-challenge.example.com/TXT", "/login"):
        head = (
            f"POST {path} HTTP/1.1\r\nHost: box.example.com\r\n"
            f"Content-Type: application/x-www-form-urlencoded\r\n"
            f"Content-Length: {HUNDRED_MB}\r\n"
        )
        answer, took = exchange(served, head, b"email=a")
        assert answer.startswith(b"HTTP/1.1 413 "), answer[:200]
        assert answer.endswith(TOO_LARGE.encode())
        assert took < 3


def test_a_chunked_body_over_the_bound_is_refused_over_a_socket(served: tuple[str, int]) -> None:
    def chunks(size: int) -> bytes:
        piece = b"x" * 8192
        return b"".join(b"%x\r\n%s\r\n" % (len(piece), piece) for _ in range(size // 8192))

    head = (
        "POST /dns/custom/_acme-challenge.example.com/TXT HTTP/1.1\r\n"
        "Host: box.example.com\r\nContent-Type: text/plain\r\n"
        "Transfer-Encoding: chunked\r\n"
    )
    # Without credentials: 401, the body unread (the rest of it never comes).
    answer, took = exchange(served, head, chunks(8192))
    assert answer.startswith(b"HTTP/1.1 401 "), answer[:200]
    assert took < 3
    # As the admin: read one byte past the bound, then 413 (without waiting for the rest).
    answer, took = exchange(
        served, head + f"Authorization: {ADMIN_AUTH}\r\n", chunks(BODY_LIMIT + 65536)
    )
    assert answer.startswith(b"HTTP/1.1 413 "), answer[:200]
    assert answer.endswith(TOO_LARGE.encode())
    assert took < 3
