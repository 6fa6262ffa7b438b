"""`GET /openapi.yml`: the spec this server honours, unauthenticated (as a published document
is), so API clients can be generated from the box they talk to."""

from __future__ import annotations

from typing import TYPE_CHECKING

from bottle import Bottle, HTTPResponse

from api_server.auth_plugin import AUTH_PLUGIN
from api_server.routes import paths
from api_server.spec import SPEC_PATH

if TYPE_CHECKING:
    from core.box import Box


def register(app: Bottle, box: Box) -> None:
    body = SPEC_PATH.read_bytes()  # read once: it ships with the package and never changes

    @app.get(paths("/openapi.yml"), skip=[AUTH_PLUGIN])
    def openapi() -> HTTPResponse:
        return HTTPResponse(
            body,
            status=200,
            headers={
                "Content-Type": "application/yaml; charset=utf-8",
                "Cache-Control": "max-age=3600",
            },
        )
