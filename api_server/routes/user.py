"""The spec's User tag: `GET /me` (v0.51) and upstream's later `POST /login`, `POST /logout`.

These answer 200 JSON whatever the credentials (BEHAVIOUR.md §1.4-1.5), so they skip the
admin-only plugin and call core themselves. Only throttling (429) escapes that rule.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from bottle import Bottle, HTTPResponse

from api_server import responses
from api_server.auth_plugin import AUTH_PLUGIN, request_credentials
from api_server.routes import paths
from core.errors import AuthError, RateLimited

if TYPE_CHECKING:
    from core.box import Box


def failure_body(exc: AuthError) -> dict[str, str]:
    """§1.4: a missing MFA token is a prompt for it, not a failure."""
    status = "missing-totp-token" if "missing-totp-token" in exc.hints else "invalid"
    return {"reason": exc.message, "status": status}


def register(app: Bottle, box: Box) -> None:
    auth = box.auth

    @app.get(paths("/me"), skip=[AUTH_PLUGIN])
    def me() -> HTTPResponse:
        creds = request_credentials()
        try:
            caller = auth.authenticate(creds.header, token=creds.token, address=creds.address)
        except RateLimited:
            raise
        except AuthError as exc:
            return responses.json(failure_body(exc))
        body: dict[str, object] = {
            "email": caller.email,
            "privileges": list(caller.privileges),
            "status": "ok",
        }
        # The master key has no email, hence no per-user key (the reference crashes here).
        api_key = auth.user_api_key(caller.email) if caller.is_admin and caller.email else None
        if api_key:
            body["api_key"] = api_key
        return responses.json(body)

    @app.post(paths("/login"), skip=[AUTH_PLUGIN])
    def login() -> HTTPResponse:
        creds = request_credentials()
        try:
            caller, key = auth.login(creds.header, token=creds.token, address=creds.address)
        except RateLimited:
            raise
        except AuthError as exc:
            return responses.json(failure_body(exc))
        return responses.json(
            {
                "api_key": key,
                "email": caller.email,
                "privileges": list(caller.privileges),
                "status": "ok",
            }
        )

    @app.post(paths("/logout"), skip=[AUTH_PLUGIN])
    def logout() -> HTTPResponse:
        auth.logout(request_credentials().header)
        return responses.json({"status": "ok"})
