"""Authentication as one Bottle plugin: every route is admin-only unless it skips the plugin.

The plugin reads the credentials (Basic `Authorization`, the MFA token in `X-Auth-Token`, and
the caller's address for throttling), asks core to authenticate an administrator, and passes
the resulting `Caller` to views that take a `caller` argument. Failures are core errors,
mapped to responses by `api_server.errors`.

The caller's address is the socket peer, unless the peer is one of the box's trusted proxies
(`BoxConfig.trusted_proxies`: loopback on a real box, where nginx sets
`X-Forwarded-For $remote_addr`; none on a local box): then it is the right-most
`X-Forwarded-For` value, the one that proxy set, if it is an IP address.
"""

from __future__ import annotations

import inspect
import ipaddress
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Final

from bottle import Bottle, Route, request

if TYPE_CHECKING:
    from core.auth import AuthService
    from core.config import ProxyNetwork

AUTH_PLUGIN: Final = "miab_auth"
# Where `AuthPlugin.setup` leaves the box's trusted proxies in the app's config.
TRUSTED_PROXIES: Final = "miab.trusted_proxies"
# nginx sends one address; a longer header is not a proxy's and is ignored whole.
MAX_FORWARDED_LENGTH: Final = 256
MAX_ADDRESS_LENGTH: Final = 64


@dataclass(frozen=True, slots=True)
class Credentials:
    header: str | None
    token: str | None
    address: str


def _parse_ip(text: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        ip = ipaddress.ip_address(text)
    except ValueError:
        return None
    # An IPv4 client on a dual-stack socket shows as ::ffff:a.b.c.d: the same client.
    mapped = ip.ipv4_mapped if isinstance(ip, ipaddress.IPv6Address) else None
    return mapped or ip


def _is_trusted(peer: str, proxies: tuple[ProxyNetwork, ...]) -> bool:
    ip = _parse_ip(peer)
    return ip is not None and any(ip in network for network in proxies)


def client_address() -> str:
    """The current request's client address: for throttling, the failed-login log line and
    the DNS routes' default A/AAAA value.

    `X-Forwarded-For` counts only when the socket peer (`REMOTE_ADDR`) is a trusted proxy,
    and then only its right-most value (what that proxy set or appended; the values left of
    it are whatever the client sent), only if it is an IP address (returned in its canonical
    form) and only if the header is at most `MAX_FORWARDED_LENGTH` characters. Otherwise the
    peer address, at most `MAX_ADDRESS_LENGTH` characters.
    """
    environ = request.environ
    peer: str = environ.get("REMOTE_ADDR") or ""
    forwarded: str | None = environ.get("HTTP_X_FORWARDED_FOR")
    if forwarded and len(forwarded) <= MAX_FORWARDED_LENGTH:
        app = environ.get("bottle.app")
        proxies: tuple[ProxyNetwork, ...] = app.config.get(TRUSTED_PROXIES, ()) if app else ()
        if proxies and _is_trusted(peer, proxies):
            ip = _parse_ip(forwarded.rsplit(",", 1)[-1].strip())
            if ip is not None:
                return str(ip)
    return peer[:MAX_ADDRESS_LENGTH]


def request_credentials() -> Credentials:
    """The current request's credentials; the address is `client_address()`."""
    environ = request.environ
    return Credentials(
        header=environ.get("HTTP_AUTHORIZATION"),
        token=environ.get("HTTP_X_AUTH_TOKEN"),
        address=client_address(),
    )


class AuthPlugin:
    """Admin-only access for every route that does not `skip` it."""

    name = AUTH_PLUGIN
    api = 2

    def __init__(self, auth: AuthService) -> None:
        self._auth = auth

    def setup(self, app: Bottle) -> None:
        """Installed: the app learns the box's trusted proxies (for `client_address`)."""
        app.config[TRUSTED_PROXIES] = self._auth.trusted_proxies

    def apply(self, callback: Callable[..., Any], route: Route) -> Callable[..., Any]:
        # Not `route.get_callback_args()`: Bottle's unwrapping loops forever on closures
        # that capture no callable, which is what views defined in `register()` are.
        wants_caller = "caller" in inspect.signature(route.callback).parameters
        authenticate = self._auth.authenticate

        def with_admin(*args: Any, **kwargs: Any) -> Any:
            creds = request_credentials()
            caller = authenticate(
                creds.header, token=creds.token, address=creds.address, require_admin=True
            )
            if wants_caller:
                kwargs["caller"] = caller
            return callback(*args, **kwargs)

        return with_admin
