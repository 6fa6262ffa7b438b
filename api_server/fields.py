"""Reading request fields as Unicode (Bottle 0.13 hands out latin-1 "native" strings)."""

from __future__ import annotations

from typing import Literal

from bottle import FormsDict, request

from api_server import bodies

Source = Literal["form", "query", "values"]


def _first(values: FormsDict, names: tuple[str, ...]) -> str | None:
    for name in names:
        found: list[str] = values.getall(name)
        if not found:
            continue
        # Multipart values arrive decoded already; url-encoded ones as latin-1, which we
        # undo and read as UTF-8. Invalid UTF-8 becomes U+FFFD, which core then refuses.
        if not values.recode_unicode:
            return found[0]
        return found[0].encode("latin-1").decode("utf-8", "replace")
    return None


def field(name: str, *aliases: str, default: str = "", source: Source = "form") -> str:
    """One request field as Unicode; `default` when absent under every name.

    `aliases` are other names the same field goes by (where the spec and the reference
    disagree, see docs/compatibility.md). `source` is the POST body (`form`), the URL query
    (`query`), or the query then the body (`values`, Flask's `request.values`).
    """
    names = (name, *aliases)
    if source == "query":
        value = _first(request.query, names)
    elif source == "form":
        value = _first(bodies.forms(), names)
    else:
        value = _first(request.query, names)
        if value is None:
            value = _first(bodies.forms(), names)
    return default if value is None else value
