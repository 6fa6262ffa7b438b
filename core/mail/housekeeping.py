"""Post-change housekeeping ("kick", BEHAVIOUR.md §3.12): required aliases kept in step."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from core.events import Hooks, MailChanged
from core.mail.addresses import domain_of
from core.mail.domains import sort_domains, sort_email_addresses
from core.results import Change

if TYPE_CHECKING:
    from core.config import BoxConfig
    from core.storage.db import Database

_AUTO_LOCAL_PARTS = ("postmaster", "admin", "abuse")


@dataclass(frozen=True, slots=True)
class DomainSummary:
    domain: str
    users: int
    aliases: int


class Housekeeping:
    """The required aliases, kept in step as the first follow-up of `MailChanged` (the Box
    subscribes `on_mail_changed`; the DNS update, and later web, subscribe after it)."""

    def __init__(self, db: Database, config: BoxConfig, hooks: Hooks) -> None:
        self._db = db
        self._config = config
        self._hooks = hooks

    @property
    def administrator(self) -> str:
        return "administrator@" + self._config.primary_hostname

    def mail_domains(self, alias_filter: Callable[[str], bool] | None = None) -> set[str]:
        """Domains of any user, or of any alias (optionally filtered), in IDNA form."""
        db = self._db
        domains = {domain_of(r[0]) for r in db.query("SELECT email FROM users")}
        domains.update(
            domain_of(r[0])
            for r in db.query("SELECT source FROM aliases")
            if alias_filter is None or alias_filter(r[0])
        )
        return domains

    def sorted_mail_domains(self) -> list[str]:
        return sort_domains(self.mail_domains(), self._config.primary_hostname)

    def domain_summaries(self) -> tuple[DomainSummary, ...]:
        users: dict[str, int] = {}
        aliases: dict[str, int] = {}
        for (email,) in self._db.query("SELECT email FROM users"):
            users[domain_of(email)] = users.get(domain_of(email), 0) + 1
        for (source,) in self._db.query("SELECT source FROM aliases"):
            aliases[domain_of(source)] = aliases.get(domain_of(source), 0) + 1
        return tuple(
            DomainSummary(d, users.get(d, 0), aliases.get(d, 0))
            for d in sort_domains(set(users) | set(aliases), self._config.primary_hostname)
        )

    def required_aliases(self) -> set[str]:
        """administrator@ and hostmaster@ the primary hostname, and postmaster@, admin@ and
        abuse@ every domain that has mail besides those aliases and catch-alls."""
        primary = self._config.primary_hostname
        required = {"administrator@" + primary, "hostmaster@" + primary}
        real = self.mail_domains(
            lambda a: not a.startswith(("postmaster@", "admin@", "abuse@", "@"))
        )
        for domain in real:
            required.update(f"{local}@{domain}" for local in _AUTO_LOCAL_PARTS)
        return required

    def kick(self, result: str | None = None) -> Change:
        """Emit `MailChanged`: the required aliases, then every other follow-up (DNS)."""
        return Change.of(result or "", *self._hooks.emit(MailChanged()))

    def on_mail_changed(self, _event: MailChanged) -> list[str]:
        """Create missing required aliases, drop stale automatic ones."""
        lines: list[str] = []
        primary = self._config.primary_hostname
        administrator = self.administrator
        with self._db.write() as conn:
            required = self.required_aliases()
            users = {r[0] for r in conn.execute("SELECT email FROM users")}
            existing = conn.execute("SELECT source, destination FROM aliases").fetchall()
            existing_sources = {source for source, _ in existing}
            for address in sort_email_addresses(required, primary):
                if address in users or address in existing_sources or address == administrator:
                    continue
                conn.execute(
                    "INSERT INTO aliases (source, destination, permitted_senders)"
                    " VALUES (?, ?, NULL)",
                    (address, administrator),
                )
                # Quiet on a fresh box, before administrator@ exists (as the reference).
                if administrator in existing_sources:
                    lines.append(f"added alias {address} (=> {administrator})")
            for address, destination in sorted(existing):
                local = address.partition("@")[0]
                if (
                    local in _AUTO_LOCAL_PARTS
                    and address not in required
                    and destination == administrator
                ):
                    conn.execute("DELETE FROM aliases WHERE source=?", (address,))
                    lines.append(
                        f"removed alias {address} (was to {destination}; "
                        "domain no longer used for email)"
                    )
        return lines
