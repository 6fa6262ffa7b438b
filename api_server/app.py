"""The Bottle application: a fresh app per box, built once and served as it is."""

from __future__ import annotations

from typing import TYPE_CHECKING

from bottle import Bottle, JSONPlugin

from api_server import bodies, errors
from api_server.auth_plugin import AuthPlugin
from api_server.routes import backup, dns, mail, mfa, spec, ssl, system, user, web

if TYPE_CHECKING:
    from core.box import Box


def make_app(box: Box) -> Bottle:
    """The management API for `box`, answering at `/...` and `/admin/...`."""
    app = Bottle()
    # Views return finished responses; Bottle's dict-to-JSON plugin would only cost a check
    # per request (and format JSON differently from the reference).
    app.uninstall(JSONPlugin)
    # Before routing, so before authentication: a body over the bound is refused unread.
    bodies.install(app)
    errors.install(app)  # first installed = outermost: it also sees the auth plugin's errors
    app.install(AuthPlugin(box.auth))
    user.register(app, box)
    mail.register(app, box)
    dns.register(app, box)
    mfa.register(app, box)
    ssl.register(app, box)
    backup.register(app, box)
    web.register(app, box)
    system.register(app, box)
    spec.register(app, box)
    return app
