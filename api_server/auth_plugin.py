"""Authentication as one Bottle plugin: every route is admin-only unless it skips the plugin.

The plugin reads the credentials (Basic `Authorization`, the MFA token in `X-Auth-Token`, and
the caller's address for throttling), asks core to authenticate an administrator, and passes
the resulting `Caller` to views that take a `caller` argument. Failures are core errors,
mapped to responses by `api_server.errors`.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Final

from bottle import Route, request

if TYPE_CHECKING:
    from core.auth import AuthService

AUTH_PLUGIN: Final = "miab_auth"


@dataclass(frozen=True, slots=True)
class Credentials:
    header: str | None
    token: str | None
    address: str


def request_credentials() -> Credentials:
    """The current request's credentials. The address is the first `X-Forwarded-For` value
    (set by nginx on a real box) or the socket peer, as the reference logs it (§1.2)."""
    environ = request.environ
    forwarded = environ.get("HTTP_X_FORWARDED_FOR", "").split(",", 1)[0].strip()
    return Credentials(header=environ.get("HTTP_AUTHORIZATION"),
                       token=environ.get("HTTP_X_AUTH_TOKEN"),
                       address=forwarded or environ.get("REMOTE_ADDR", ""))


class AuthPlugin:
    """Admin-only access for every route that does not `skip` it."""

    name = AUTH_PLUGIN
    api = 2

    def __init__(self, auth: AuthService) -> None:
        self._auth = auth

    def apply(self, callback: Callable[..., Any], route: Route) -> Callable[..., Any]:
        # Not `route.get_callback_args()`: Bottle's unwrapping loops forever on closures
        # that capture no callable, which is what views defined in `register()` are.
        wants_caller = "caller" in inspect.signature(route.callback).parameters
        authenticate = self._auth.authenticate

        def with_admin(*args: Any, **kwargs: Any) -> Any:
            creds = request_credentials()
            caller = authenticate(creds.header, token=creds.token, address=creds.address,
                                  require_admin=True)
            if wants_caller:
                kwargs["caller"] = caller
            return callback(*args, **kwargs)
        return with_admin
