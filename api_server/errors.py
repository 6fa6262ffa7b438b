"""The one place that turns core's error kinds into HTTP status codes and bodies.

Auth failures follow BEHAVIOUR.md §1.2 (401 with a Basic challenge and `X-Reason`, 403 for
XMLHttpRequest callers, plain text or compact JSON by `Accept`); refused input is a 400 text
answer with core's message verbatim. Bottle's own errors (404, 405, anything uncaught) answer
plain text: its HTML error page and tracebacks never reach a client.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import Any, Final

from bottle import Bottle, HTTPError, HTTPResponse, MultipartError, Route, request

from api_server import responses
from core.errors import (
    AlreadyExists,
    AuthError,
    ConfigError,
    HostError,
    MiabError,
    NotAdmin,
    NotFound,
    RateLimited,
    ValidationError,
)

REALM: Final = 'Basic realm="Mail-in-a-Box Management Server"'
INTERNAL_ERROR: Final = "Internal error."
BAD_FORM: Final = "Invalid form data."
ERRORS_PLUGIN: Final = "miab_errors"

# Kinds of refusal and the status each gets; the first matching class in this order wins.
_STATUS_BY_KIND: Final[tuple[tuple[type[MiabError], int], ...]] = (
    (ValidationError, 400),
    (NotFound, 400),
    (AlreadyExists, 400),
    (HostError, 500),
    (ConfigError, 500),
)
_UNSAFE_HEADER_CHARS: Final = re.compile(r"[^\x20-\x7e]")


def auth_failure(exc: AuthError) -> HTTPResponse:
    """BEHAVIOUR.md §1.2, plus 403 for a non-admin (the spec's Forbidden) and 429 when
    throttled (docs/compatibility.md)."""
    reason = exc.message
    accept = request.environ.get("HTTP_ACCEPT")
    if accept in (None, "", "*/*"):
        body, content_type = reason + "\n", "text/plain; charset=utf-8"
    else:
        body = json.dumps({"status": "error", "reason": reason}) + "\n"
        content_type = responses.JSON_TYPE
    # Header values must be printable ASCII; reasons are core's fixed texts, but be sure.
    headers = {"Content-Type": content_type, "X-Reason": _UNSAFE_HEADER_CHARS.sub("?", reason)}
    if isinstance(exc, RateLimited):
        return HTTPResponse(body, 429, {**headers, "Retry-After": str(exc.retry_after)})
    if isinstance(exc, NotAdmin):
        return HTTPResponse(body, 403, headers)
    if request.environ.get("HTTP_X_REQUESTED_WITH") == "XMLHttpRequest":
        return HTTPResponse(body, 403, {"Content-Type": content_type})
    return HTTPResponse(body, 401, {**headers, "WWW-Authenticate": REALM})


def error_response(exc: MiabError) -> HTTPResponse:
    if isinstance(exc, AuthError):
        return auth_failure(exc)
    for kind, status in _STATUS_BY_KIND:
        if isinstance(exc, kind):
            return responses.text(exc.message, status)
    # A kind this table does not know yet is still a refusal worded for the admin.
    return responses.text(exc.message, 400)


class ErrorsPlugin:
    """Maps every `MiabError` a view (or the auth plugin inside it) raises to its response."""

    name = ERRORS_PLUGIN
    api = 2

    def apply(self, callback: Callable[..., Any], route: Route) -> Callable[..., Any]:
        def with_errors_mapped(*args: Any, **kwargs: Any) -> Any:
            try:
                return callback(*args, **kwargs)
            except MiabError as exc:
                return error_response(exc)

        return with_errors_mapped


def bottle_error(err: HTTPError) -> HTTPResponse:
    """Plain-text body for Bottle's own errors; an uncaught exception says nothing more."""
    if err.status_code >= 500:
        # Bottle has written the traceback to wsgi.errors (the server's log) already.
        return responses.plain(INTERNAL_ERROR, err.status_code)
    if isinstance(err, MultipartError):
        # Its text is the parser's exception message ("MultipartError: No colon."): not for
        # clients, as no exception text is.
        body = BAD_FORM
    else:
        # Bottle's own fixed texts (404, 405, a chunked body it cannot parse).
        body = err.body if isinstance(err.body, str) and err.body else err.status_line
    allow = err.get_header("Allow")
    return responses.plain(body, err.status_code, {"Allow": allow} if allow else None)


def install(app: Bottle) -> None:
    """Install the error plugin (first, so it wraps every other plugin) and the handlers."""
    app.install(ErrorsPlugin())
    # Bottle looks up `error_handler[code]` and falls back to `default_error_handler`, so
    # this one assignment covers 404, 405, 413, 500 and any other code Bottle raises itself.
    app.default_error_handler = bottle_error
