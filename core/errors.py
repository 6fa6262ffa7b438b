"""The errors core raises. Each carries the exact user-facing message from the reference.

Subclasses say what kind of failure happened, never which status code: the faces map kinds.
"""

from __future__ import annotations


class MiabError(Exception):
    """Base of every error core raises; `message` is shown to the admin verbatim."""

    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.field = field


class ValidationError(MiabError):
    """The input was refused; nothing was changed."""


class NotFound(MiabError):
    """The thing named does not exist (a user, an alias)."""


class AlreadyExists(MiabError):
    """The thing to create exists already."""


class AuthError(MiabError):
    """Authentication failed. `hints` carries MFA hint codes such as `missing-totp-token`."""

    def __init__(self, message: str, *, hints: tuple[str, ...] = ()) -> None:
        super().__init__(message)
        self.hints = hints


class NotAdmin(AuthError):
    """The caller authenticated but is not an administrator."""


class RateLimited(AuthError):
    """Too many failed logins from one address; `retry_after` is in whole seconds."""

    def __init__(self, message: str, *, retry_after: int) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class HostError(MiabError):
    """A host side effect (a service reload, a program) failed."""


class ConfigError(MiabError):
    """The box's configuration is missing or unreadable."""
