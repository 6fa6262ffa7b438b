"""After-change hooks: services say what changed; the Box wires who follows up.

A service emits an event after its change is committed and gets back the follow-ups' output
lines (the reference's `added alias ...`, `updated DNS: ...`), in subscription order. The
services never reach sideways through the Box to run another area's work.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import TypeVar


@dataclass(frozen=True, slots=True)
class MailChanged:
    """Users or aliases changed: the housekeeping (required aliases), then DNS, follow."""


@dataclass(frozen=True, slots=True)
class UserCredentialsChanged:
    """A user's password or second factors changed, or the user was removed: their login
    sessions end."""

    email: str


@dataclass(frozen=True, slots=True)
class CertificatesChanged:
    """A certificate was installed or provisioned: the web configuration follows (SYSTEM.md
    §1.6 step 3), and DNS (the MTA-STS policy depends on valid certificates)."""


Event = MailChanged | UserCredentialsChanged | CertificatesChanged
E = TypeVar("E", MailChanged, UserCredentialsChanged, CertificatesChanged)


class Hooks:
    """A registry of typed after-change handlers."""

    def __init__(self) -> None:
        self._handlers: dict[type, list[Callable[[object], Iterable[str] | None]]] = {}

    def subscribe(self, event_type: type[E], handler: Callable[[E], Iterable[str] | None]) -> None:
        self._handlers.setdefault(event_type, []).append(handler)  # type: ignore[arg-type]

    def emit(self, event: Event) -> list[str]:
        """Run every handler of the event's type in subscription order; their output lines."""
        lines: list[str] = []
        for handler in self._handlers.get(type(event), ()):
            lines.extend(handler(event) or ())
        return lines
