"""Authentication of API callers (BEHAVIOUR.md §1): master key, per-user API keys, login keys,
passwords with TOTP, and throttling of failed logins."""

from core.auth.service import AuthService, Caller

__all__ = ["AuthService", "Caller"]
