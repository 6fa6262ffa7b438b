"""Web: the domains nginx serves and its configuration (SYSTEM.md §2, BEHAVIOUR.md §7)."""

from core.web.domains import web_domains
from core.web.nginx import Listen
from core.web.service import UPDATED, WebDomain, WebService

__all__ = ["UPDATED", "Listen", "WebDomain", "WebService", "web_domains"]
