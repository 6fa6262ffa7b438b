"""Route modules, one per tag of the spec; each exposes `register(app, box)`."""

from __future__ import annotations

from typing import TYPE_CHECKING

from core.audit import Actor

if TYPE_CHECKING:
    from core.auth import Caller


def paths(path: str) -> list[str]:
    """A route's two addresses: as nginx forwards it (prefix stripped) and as the spec's
    server URL names it, for callers that reach the daemon directly."""
    return [path, "/admin" + path]


def actor(caller: Caller) -> Actor:
    """Who the audit log credits with an API change (the master key has no email)."""
    return Actor(caller.email or "master-key", "api")
