"""Request bodies: bounded on every route, and read only by the views (after authentication).

`install(app)` adds a check that runs for every request before routing, so before the auth
plugin and before any body byte is read: a `Content-Length` over `BODY_LIMIT` is answered
413 at once (plain text, `Connection: close`), whoever the caller. The body stream is also
wrapped so that, whatever reads it, no more than `BODY_LIMIT` + 1 bytes are ever taken from
the socket: a chunked body (no `Content-Length`) that runs over is refused with the same 413
when a view reads it.

Views read bodies only through `raw()` and `forms()`. A body is at most `BODY_LIMIT` bytes
and Bottle's `MEMFILE_MAX` is raised to match, so Bottle keeps every body in memory and never
spools one to a temporary file.
"""

from __future__ import annotations

import io
from collections.abc import Iterator
from typing import Any, Final

from bottle import BaseRequest, Bottle, FormsDict, HTTPResponse, request

from api_server import responses

# The largest legitimate request of the spec is a DNS TXT value (at most 64 KiB of record
# data) or a form (an alias with a long list of addresses, a certificate chain): 256 KiB
# holds any of them several times over.
BODY_LIMIT: Final = 256 * 1024
TOO_LARGE: Final = f"Request body too large (the limit is {BODY_LIMIT} bytes)."
BAD_LENGTH: Final = "Invalid Content-Length."
_READ_SIZE: Final = 64 * 1024
# Set in the environ when the server hands over a chunked body already decoded (every
# server that supports chunked uploads does, gunicorn included, and says so with
# `wsgi.input_terminated`): its length is learnt by reading it, in `_load`.
_UNSIZED: Final = "miab.body.unsized"


def too_large() -> HTTPResponse:
    return responses.plain(TOO_LARGE, 413, {"Connection": "close"})


class _LimitedInput:
    """`wsgi.input` that refuses (413) once more than `BODY_LIMIT` bytes have been read."""

    def __init__(self, stream: Any) -> None:
        self._stream = stream
        self._taken = 0

    def _take(self, reader: Any, size: int | None) -> bytes:
        room = BODY_LIMIT + 1 - self._taken
        if room <= 0:
            raise too_large()
        data: bytes = reader(room if size is None or size < 0 else min(size, room))
        self._taken += len(data)
        if self._taken > BODY_LIMIT:
            raise too_large()
        return data

    def read(self, size: int | None = -1) -> bytes:
        return self._take(self._stream.read, size)

    def readline(self, size: int | None = -1) -> bytes:
        return self._take(self._stream.readline, size)

    def readlines(self, hint: int = -1) -> list[bytes]:  # PEP 3333 asks for all four
        lines = []
        while line := self.readline():
            lines.append(line)
        return lines

    def __iter__(self) -> Iterator[bytes]:
        return iter(self.readlines())


def _is_chunked(environ: dict[str, Any]) -> bool:
    return "chunked" in str(environ.get("HTTP_TRANSFER_ENCODING", "")).lower()


def check_request() -> None:
    """Before routing and authentication: refuse a declared length over the bound, and bound
    whatever is read of the body later. Reads no body byte."""
    environ = request.environ
    length = str(environ.get("CONTENT_LENGTH") or "").strip()
    if length:
        if not (length.isascii() and length.isdigit()):
            raise responses.plain(BAD_LENGTH, 400, {"Connection": "close"})
        if len(length) > 12 or int(length) > BODY_LIMIT:
            raise too_large()
    if "wsgi.input" in environ:
        environ["wsgi.input"] = _LimitedInput(environ["wsgi.input"])
    if _is_chunked(environ) and environ.get("wsgi.input_terminated"):
        # Decoded by the server already: Bottle must not parse chunk framing again. Without
        # a length Bottle reads no body at all until `_load` has read it.
        del environ["HTTP_TRANSFER_ENCODING"]
        environ.pop("CONTENT_LENGTH", None)
        environ[_UNSIZED] = True


def _load() -> None:
    """Read a decoded chunked body (bounded) and hand it to Bottle with its length."""
    environ = request.environ
    if not environ.pop(_UNSIZED, False):
        return
    stream = environ["wsgi.input"]
    parts: list[bytes] = []
    while part := stream.read(_READ_SIZE):  # refuses past BODY_LIMIT (`_LimitedInput`)
        parts.append(part)
    body = b"".join(parts)
    environ["wsgi.input"] = io.BytesIO(body)
    environ["CONTENT_LENGTH"] = str(len(body))


def raw() -> bytes:
    """The request body, at most `BODY_LIMIT` bytes (413 beyond)."""
    _load()
    body: bytes = request.body.read()
    return body


def forms() -> FormsDict:
    """The request's form fields (url-encoded or multipart), at most `BODY_LIMIT` bytes."""
    _load()
    fields: FormsDict = request.forms
    return fields


def install(app: Bottle) -> None:
    """Bound the bodies of every request `app` answers."""
    # Bottle keeps a body in memory up to MEMFILE_MAX and spools a larger one to disk; ours
    # never exceed BODY_LIMIT, so with this no body is ever written to disk.
    if BaseRequest.MEMFILE_MAX < BODY_LIMIT:
        BaseRequest.MEMFILE_MAX = BODY_LIMIT
    app.add_hook("before_request", check_request)
