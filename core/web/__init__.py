"""Web: the domains nginx serves (SYSTEM.md §2)."""

from core.web.domains import web_domains

__all__ = ["web_domains"]
