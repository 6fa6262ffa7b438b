"""The spec's Web tag: the web domains and the web update (BEHAVIOUR.md §7, SYSTEM.md §2).

Admin-only like every route but `/me`. Bodies follow the reference. The spec's item schema of
`ssl_certificate` is `oneOf` a string and a string enum (`danger`, `success`), which those two
values match twice: read as `anyOf`, as tests/api/test_web.py validates, the reference's
answers (`warning` for a self-signed certificate included) conform.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from bottle import Bottle, HTTPResponse

from api_server import responses
from api_server.routes import actor, paths

if TYPE_CHECKING:
    from core.auth import Caller
    from core.box import Box


def register(app: Bottle, box: Box) -> None:
    web = box.web

    @app.get(paths("/web/domains"))
    def domains() -> HTTPResponse:
        # `ssl_certificate` is [status, text] with the reference's statuses, `warning` (a
        # self-signed certificate) included: the spec's item schema has no closed enum there.
        return responses.json([row.as_json() for row in web.domains()])

    @app.post(paths("/web/update"))
    def update(caller: Caller) -> HTTPResponse:
        # `web updated\n` when local.conf changed, "" when it did not; a config nginx refused
        # (the last good one stays live) is a 200 too, its one line saying why: the update ran,
        # and the caller sent nothing that could be wrong.
        return responses.text(web.update(actor=actor(caller)).text)
