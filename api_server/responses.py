"""Response bodies exactly as the reference sends them (BEHAVIOUR.md conventions).

Text answers carry `text/html; charset=utf-8` because the reference (Flask) labels plain strings
that way and the spec copies it. Browsers would render such a body as HTML, and several bodies
echo what the caller sent (`Invalid email address (ADDRESS).`), so every text answer also
carries a sandboxing CSP: API clients ignore it, a browser tricked into navigating here runs
no script.
"""

from __future__ import annotations

import json as _json
import threading
from collections.abc import Callable
from typing import Final, TypeVar

from bottle import HTTPResponse

TEXT_TYPE: Final = "text/html; charset=utf-8"
JSON_TYPE: Final = "application/json"
PLAIN_TYPE: Final = "text/plain; charset=utf-8"
T = TypeVar("T")
_SAFETY: Final = {
    "X-Content-Type-Options": "nosniff",
    "Content-Security-Policy": "default-src 'none'; sandbox",
}


def text(body: str | bytes, status: int = 200) -> HTTPResponse:
    """A text answer, labelled as the reference labels it."""
    return HTTPResponse(body, status, {"Content-Type": TEXT_TYPE, **_SAFETY})


def plain(body: str, status: int, headers: dict[str, str] | None = None) -> HTTPResponse:
    """A `text/plain` answer (auth failures and Bottle-level errors, as the reference)."""
    return HTTPResponse(body, status, {"Content-Type": PLAIN_TYPE, **_SAFETY, **(headers or {})})


def render_json(data: object) -> str:
    """The reference's JSON body: 2-space indent, sorted keys, trailing newline.

    A list is encoded an element at a time (indented text is byte for byte what one call
    gives; JSON strings hold no raw newline): the indenting encoder is pure Python and keeps
    every piece of its output until the end, which for 20,000 aliases in one call was tens
    of MB at once, left behind as fragmentation in long-lived workers.
    """
    if isinstance(data, list) and data:
        parts = [_json.dumps(item, indent=2, sort_keys=True).replace("\n", "\n  ") for item in data]
        return "[\n  " + ",\n  ".join(parts) + "\n]\n"
    return _json.dumps(data, indent=2, sort_keys=True) + "\n"


def json(data: object, status: int = 200, headers: dict[str, str] | None = None) -> HTTPResponse:
    return json_body(render_json(data), status, headers)


def json_body(
    body: str | bytes, status: int = 200, headers: dict[str, str] | None = None
) -> HTTPResponse:
    """A JSON answer whose body is already rendered (e.g. cached)."""
    return HTTPResponse(
        body,
        status,
        {"Content-Type": JSON_TYPE, "X-Content-Type-Options": "nosniff", **(headers or {})},
    )


class BodyMemo:
    """Rendered bodies reused while core hands back the very same (cached) listing.

    Core caches listings until the database or the mailbox folders change and then returns
    the identical object; rendering 1,000 users as indented JSON costs far more than the
    rest of the request, so the body is kept beside the object it was rendered from. One
    per process, like core's cache, rendered by one thread at a time; holding the object
    means `is` cannot be fooled by id reuse. Kept as UTF-8 bytes: encoding a listing of
    10,000 users for every request cost more time and memory than the rest of it.
    """

    def __init__(self) -> None:
        self._memo: dict[str, tuple[object, bytes]] = {}
        self._lock = threading.Lock()

    def render(self, name: str, source: T, render: Callable[[T], str]) -> bytes:
        hit = self._memo.get(name)
        if hit is not None and hit[0] is source:
            return hit[1]
        with self._lock:
            hit = self._memo.get(name)
            if hit is not None and hit[0] is source:
                return hit[1]
            body = render(source).encode("utf-8")
            self._memo[name] = (source, body)
        return body
