"""Mail aliases: regular, catch-all (`@domain`), domain aliases, permitted senders (§3.9–3.11)."""

from __future__ import annotations

import sqlite3
from collections.abc import Collection
from dataclasses import dataclass
from typing import TYPE_CHECKING, Final

from core.audit import Actor, AuditLog
from core.errors import AlreadyExists, NotFound, ValidationError
from core.events import Hooks, MailChanged
from core.mail.addresses import (
    DOMAIN_TOO_LONG,
    domain_of,
    is_dcv_address,
    mail_domain_fits,
    prettify_domain,
    prettify_idn_email_address,
    sanitize_idn_email_address,
    validate_email,
)
from core.mail.domains import sort_domains, sort_email_addresses
from core.mail.users import parse_privileges
from core.results import Change

if TYPE_CHECKING:
    from collections.abc import Callable

    from core.config import BoxConfig
    from core.mail.schema import SchemaFeatures
    from core.storage.db import Database

DCV_DESTINATION_MESSAGE: Final = (
    "This alias can only have administrators of this system as destinations because the "
    "address is frequently used for domain control validation."
)


@dataclass(frozen=True, slots=True)
class Alias:
    """One alias row. `destination` and `permitted_senders` are as stored (IDNA, commas)."""

    address: str
    destination: str
    permitted_senders: str | None
    required: bool = False
    auto: bool = False  # a row of upstream's auto_aliases table (HEAD boxes)

    @property
    def address_display(self) -> str:
        return prettify_idn_email_address(self.address)

    @property
    def forwards_to(self) -> tuple[str, ...]:
        return tuple(
            prettify_idn_email_address(r.strip()) for r in self.destination.split(",") if r.strip()
        )

    @property
    def senders(self) -> tuple[str, ...] | None:
        if self.permitted_senders is None:
            return None
        return tuple(
            prettify_idn_email_address(s.strip())
            for s in self.permitted_senders.split(",")
            if s.strip()
        )

    @property
    def kind(self) -> str:
        if self.address.startswith("@"):
            return "domain alias" if self.destination.startswith("@") else "catch-all"
        return "alias"


@dataclass(frozen=True, slots=True)
class DomainAliases:
    domain: str
    aliases: tuple[Alias, ...]

    @property
    def domain_display(self) -> str:
        return prettify_domain(self.domain)


def _split_list(value: str) -> list[str]:
    """Split on newlines and commas, strip, drop blanks (the reference's list fields)."""
    return [item.strip() for line in value.split("\n") for item in line.split(",") if item.strip()]


class AliasService:
    """Aliases in users.sqlite; after a change it emits `MailChanged` (the housekeeping and
    DNS follow). `required_aliases` is the housekeeping's rule, to mark those aliases."""

    def __init__(
        self,
        db: Database,
        schema: SchemaFeatures,
        config: BoxConfig,
        audit: AuditLog,
        hooks: Hooks,
        required_aliases: Callable[[], set[str]],
    ) -> None:
        self._db = db
        self._schema = schema
        self._config = config
        self._audit = audit
        self._hooks = hooks
        self._required_aliases = required_aliases

    def rows(self) -> list[tuple[str, str, str | None]]:
        return self._db.query("SELECT source, destination, permitted_senders FROM aliases")

    def list_aliases(self) -> tuple[DomainAliases, ...]:
        """Aliases grouped by domain, non-required first within a domain, then by address.

        Reused until the database changes."""
        return self._db.cached("aliases", self._list_aliases)

    def _list_aliases(self) -> tuple[DomainAliases, ...]:
        required = self._required_aliases()
        aliases = [Alias(a, d, p, required=a in required) for a, d, p in self.rows()]
        if self._schema.has_auto_aliases:
            seen = {a.address for a in aliases}
            for address, dest, senders in self._db.query(
                "SELECT source, destination, permitted_senders FROM auto_aliases"
            ):
                # Upstream's @unicode -> @idna domain maps are plumbing, not aliases to show.
                if address in seen or address.startswith("@"):
                    continue
                aliases.append(Alias(address, dest, senders, required=True, auto=True))
        grouped: dict[str, list[Alias]] = {}
        for alias in aliases:
            grouped.setdefault(alias.address.rpartition("@")[2], []).append(alias)
        return tuple(
            DomainAliases(
                domain, tuple(sorted(grouped[domain], key=lambda a: (a.required, a.address)))
            )
            for domain in sort_domains(grouped, self._config.primary_hostname)
        )

    def text_rows(self) -> tuple[tuple[str, str, str | None], ...]:
        """(address, destination, permitted_senders) in domain-sort then address order."""

        def compute() -> tuple[tuple[str, str, str | None], ...]:
            rows = {a: (a, d, p) for a, d, p in self.rows()}
            order = sort_email_addresses(rows, self._config.primary_hostname)
            return tuple(rows[a] for a in order)

        return self._db.cached("alias-rows", compute)

    def get_alias(self, address: str) -> Alias | None:
        rows = self._db.query(
            "SELECT source, destination, permitted_senders FROM aliases WHERE source=?",
            (sanitize_idn_email_address(address),),
        )
        return Alias(*rows[0]) if rows else None

    def _validate(
        self, address: str, forwards_to: str, permitted_senders: str | None
    ) -> tuple[str, str, str | None]:
        # Stripped before the IDNA step (the reference strips after it, so a domain followed
        # by whitespace, which IDNA refuses, was stored in Unicode and then broke its zone).
        address = sanitize_idn_email_address(address.strip()).lower().strip()
        if address == "":
            raise ValidationError("No email address provided.", field="address")
        if not validate_email(address, mode="alias") or not address.isascii():
            raise ValidationError(f"Invalid email address ({address}).", field="address")
        if not mail_domain_fits(address):
            raise ValidationError(DOMAIN_TOO_LONG, field="address")

        destinations: list[str] = []
        forwards_to = forwards_to.strip()
        is_dcv_source = is_dcv_address(address)
        # A single `@domain` (or single address) is kept whole: postfix keeps the local part
        # when rewriting to `@domain`. DCV addresses may not use that shortcut.
        single = sanitize_idn_email_address(forwards_to)
        if validate_email(single, mode="alias") and not is_dcv_source:
            destinations.append(single)
        else:
            for item in _split_list(forwards_to):
                email = sanitize_idn_email_address(item)
                if not validate_email(email):
                    raise ValidationError(
                        f"Invalid receiver email address ({email}).", field="forwards_to"
                    )
                if is_dcv_source and not is_dcv_address(email) and not self._is_admin_login(email):
                    raise ValidationError(DCV_DESTINATION_MESSAGE, field="forwards_to")
                destinations.append(email)

        senders: list[str] = []
        if permitted_senders:
            logins = {row[0] for row in self._db.query("SELECT email FROM users")}
            for login in _split_list(permitted_senders):
                if login not in logins:
                    raise ValidationError(
                        f"Invalid permitted sender: {login} is not a user on this system.",
                        field="permitted_senders",
                    )
                senders.append(login)
        if not destinations and not senders:
            raise ValidationError(
                "The alias must either forward to an address or have a permitted sender.",
                field="forwards_to",
            )
        return address, ",".join(destinations), (",".join(senders) if senders else None)

    def _is_admin_login(self, email: str) -> bool:
        local, _, domain = email.partition("@")
        login = local.split("+", 1)[0] + "@" + domain
        rows = self._db.query("SELECT privileges FROM users WHERE email=?", (login,))
        return bool(rows) and "admin" in parse_privileges(rows[0][0])

    def add_alias(
        self,
        address: str,
        forwards_to: str,
        permitted_senders: str | None = "",
        *,
        update_if_exists: bool = False,
        actor: Actor,
    ) -> Change:
        """Add an alias, or replace it when `update_if_exists`; then the housekeeping.

        Raises:
            ValidationError: the address, a destination or a permitted sender is refused.
            AlreadyExists: the alias exists and `update_if_exists` is false.
        """
        # An edit (update_if_exists on an existing alias) is logged as one.
        operation = "add alias"
        if update_if_exists and self.get_alias(address.strip().lower()) is not None:
            operation = "edit alias"
        with self._audit.recording(actor, operation, address.strip()):
            source, destination, senders = self._validate(address, forwards_to, permitted_senders)
            with self._db.write() as conn:
                try:
                    conn.execute(
                        "INSERT INTO aliases (source, destination, permitted_senders)"
                        " VALUES (?, ?, ?)",
                        (source, destination, senders),
                    )
                    result = "alias added"
                except sqlite3.IntegrityError:
                    if not update_if_exists:
                        raise AlreadyExists(
                            f"Alias already exists ({source}).", field="address"
                        ) from None
                    conn.execute(
                        "UPDATE aliases SET destination=?, permitted_senders=? WHERE source=?",
                        (destination, senders, source),
                    )
                    result = "alias updated"
        return Change.of(result, *self._hooks.emit(MailChanged()))

    def ensure_administrator_alias(self, admin_email: str, *, actor: Actor) -> Change:
        """Setup's last step (the reference's first-user script): `administrator@` the primary
        hostname forwards to the first admin, so every required alias reaches someone. Nothing
        happens if that address is already an alias or a user."""
        administrator = "administrator@" + self._config.primary_hostname
        taken = self._db.query(
            "SELECT 1 FROM aliases WHERE source=? UNION SELECT 1 FROM users WHERE email=?",
            (administrator, administrator),
        )
        if taken:
            return Change.unchanged()
        added = self.add_alias(administrator, admin_email, actor=actor)
        # Named as the housekeeping names the aliases it adds next, not a bare `alias added`.
        return Change(
            (f"added alias {administrator} (=> {admin_email})", *added.lines[1:]), added.changed
        )

    def is_required(self, address: str) -> bool:
        """True for the addresses the housekeeping keeps (postmaster@, abuse@, ...): removing
        one only lasts until the next change re-creates it."""
        return sanitize_idn_email_address(address) in self._required_aliases()

    def remove_alias(self, address: str, *, actor: Actor) -> Change:
        """Raises: NotFound: no such alias."""
        # As add_alias stores it (the reference matches the case as given, so `INFO@` missed
        # the `info@` it had stored).
        address = sanitize_idn_email_address(address.strip()).lower().strip()
        with self._audit.recording(actor, "remove alias", address), self._db.write() as conn:
            cursor = conn.execute("DELETE FROM aliases WHERE source=?", (address,))
            if cursor.rowcount != 1:
                raise NotFound(f"That's not an alias ({address}).", field="address")
        return Change.of("alias removed", *self._hooks.emit(MailChanged()))


def dangling_required(
    aliases: Collection[Alias], users: Collection[str], primary_hostname: str
) -> dict[str, tuple[str, ...]]:
    """Each required alias with the destinations that reach nobody: an address of one of
    this box's mail domains that is neither a user nor an alias (nor caught by a catch-all
    or a domain alias). Mail to it bounces: administrator@ missing after a bare setup leaves
    postmaster@, abuse@... all forwarding nowhere. External addresses are not judged."""
    sources = {alias.address for alias in aliases}
    users = set(users)
    local_domains = {domain_of(address) for address in users | sources}
    local_domains.add(primary_hostname)
    found: dict[str, tuple[str, ...]] = {}
    for alias in aliases:
        if not alias.required:
            continue
        missing = []
        for destination in (d.strip() for d in alias.destination.split(",")):
            if not destination or destination.startswith("@"):
                continue
            local, _, domain = destination.rpartition("@")
            plain = local.split("+", 1)[0] + "@" + domain  # user+tag@ reaches user@
            if domain not in local_domains or "@" + domain in sources:
                continue
            if {destination, plain} & (users | sources):
                continue
            missing.append(destination)
        if missing:
            found[alias.address] = tuple(missing)
    return found
