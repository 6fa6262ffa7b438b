"""Mail users: list, add, remove, passwords, privileges, quotas (BEHAVIOUR.md §3.1–3.7)."""

from __future__ import annotations

import errno
import os
import re
import secrets
import shutil
import sqlite3
import stat
import threading
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Final, Literal

from core.audit import Actor, AuditLog
from core.errors import AlreadyExists, HostError, NotFound, ValidationError
from core.events import Hooks, MailChanged, UserCredentialsChanged
from core.mail.addresses import (
    DOMAIN_TOO_LONG,
    is_dcv_address,
    mail_domain_fits,
    prettify_domain,
    prettify_idn_email_address,
    user_address,
    validate_email,
)
from core.mail.domains import sort_domains, sort_email_addresses
from core.mail.passwords import hash_password, validate_password
from core.results import Change
from core.storage.db import Database

if TYPE_CHECKING:
    from core.config import BoxConfig
    from core.mail.schema import SchemaFeatures

Status = Literal["active", "inactive"]

USER_CHARS_MESSAGE: Final = (
    "User account email addresses may only use the lowercase ASCII letters a-z, the digits "
    "0-9, underscore (_), hyphen (-), and period (.)."
)
DCV_USER_MESSAGE: Final = (
    "You may not make a user account for that address because it is frequently used for "
    "domain control validation. Use an alias instead if necessary."
)
_QUOTA_FORBIDDEN: Final = re.compile(r"[\s,.]")
# ASCII digits only (`\d` alone also takes other scripts' digits, which dovecot cannot read).
_QUOTA_FORMAT: Final = re.compile(r"^\d+[GM]?$", re.ASCII)
# Ours: the limit dovecot is given must be a number it can hold (a signed 64-bit byte count);
# a 400-digit quota was accepted and only failed when dovecot read it.
QUOTA_MAX_DIGITS: Final = 19
QUOTA_MAX_BYTES: Final = 2**63 - 1


@dataclass(frozen=True, slots=True)
class MailUser:
    """One account, or an archived mailbox left behind by a removed account (`inactive`)."""

    email: str
    privileges: tuple[str, ...]
    status: Status
    mailbox: str
    quota: str | None = None  # None on a v0.51 database (no quota column) and for inactive
    # Bytes used, from dovecot's maildirsize (the reference's figure); None when there is none
    # (see `UserService.mailbox_sizes` for every mailbox's size, the folder's where needed).
    box_size: int | None = None

    @property
    def is_admin(self) -> bool:
        return "admin" in self.privileges


@dataclass(frozen=True, slots=True)
class DomainUsers:
    domain: str  # IDNA form; display with `domain_display`
    users: tuple[MailUser, ...]

    @property
    def domain_display(self) -> str:
        return prettify_domain(self.domain)


SIZE_MAX_AGE: Final = 2.0


def _folder_stamp(root: str) -> tuple[int, ...]:
    """Modification times of mail/mailboxes and its domain folders: a mailbox made or removed
    changes one of them."""
    try:
        stamps = [os.stat(root).st_mtime_ns]
        stamps.extend(d.stat().st_mtime_ns for d in os.scandir(root) if d.is_dir())
    except OSError:
        return ()
    return tuple(stamps)


def parse_privileges(value: str) -> tuple[str, ...]:
    return tuple(p for p in value.split("\n") if p.strip() != "")


def validate_privilege(privilege: str) -> None:
    """Raises: ValidationError: blank or multi-line privilege."""
    if "\n" in privilege or privilege.strip() == "":
        raise ValidationError(f"That's not a valid privilege ({privilege}).", field="privileges")


def validate_quota(quota: str) -> str:
    """Normalise a quota as upstream does: `0`, bytes, or digits with `M`/`G`; upper-cased.

    Raises:
        ValidationError: empty, containing spaces/commas/points, of another form, or (ours)
            more than 2**63 - 1 bytes (`Invalid quota.`).
    """
    quota = quota.strip().upper()
    if quota == "":
        raise ValidationError("No quota provided.", field="quota")
    if _QUOTA_FORBIDDEN.search(quota):
        raise ValidationError(
            "Quotas cannot contain spaces, commas, or decimal points.", field="quota"
        )
    if (
        not _QUOTA_FORMAT.fullmatch(quota)
        or len(quota.rstrip("GM")) > QUOTA_MAX_DIGITS
        or quota_bytes(quota) > QUOTA_MAX_BYTES
    ):
        raise ValidationError("Invalid quota.", field="quota")
    return quota


def quota_bytes(quota: str) -> int:
    """`0` means unlimited; plain digits are bytes."""
    if quota.endswith("G"):
        return int(quota[:-1]) * 1024**3
    if quota.endswith("M"):
        return int(quota[:-1]) * 1024**2
    return int(quota)


def human_size(size: int) -> str:
    """Sizes as upstream's panel shows them: `512`, `1.2K`, `3.4M`, `1.0G`."""
    value = float(size)
    for unit in ("", "K", "M", "G", "T"):
        if abs(value) < 1024.0:
            return f"{value:.0f}" if unit == "" else f"{value:3.1f}{unit}"
        value /= 1024.0
    return f"{value:.1f}P"


def read_box_size(mailbox: str | Path) -> int | None:
    """Bytes used by a maildir as dovecot's `maildirsize` file records it (sum of its lines)."""
    try:
        with open(os.path.join(mailbox, "maildirsize"), encoding="ascii") as f:
            lines = f.read().splitlines()
    except (OSError, UnicodeDecodeError):
        return None
    total = 0
    for line in lines[1:]:
        parts = line.split()
        if parts and parts[0].lstrip("-").isdigit():
            total += int(parts[0])
    return total


def folder_size(path: str | Path) -> int | None:
    """Bytes in the regular files under a folder, links not followed (neither the folder
    itself nor anything inside it); None when `path` is not a folder."""
    try:
        if not stat.S_ISDIR(os.lstat(path).st_mode):
            return None
    except OSError:
        return None
    total = 0
    pending = [os.fspath(path)]
    while pending:
        try:
            with os.scandir(pending.pop()) as entries:
                for entry in entries:
                    try:
                        if entry.is_dir(follow_symlinks=False):
                            pending.append(entry.path)
                        elif entry.is_file(follow_symlinks=False):
                            total += entry.stat(follow_symlinks=False).st_size
                    except OSError:  # gone meanwhile (dovecot moves mail new/ -> cur/)
                        continue
        except OSError:
            continue
    return total


def _folder_tree_stamp(path: str) -> tuple[int, ...] | None:
    """Modification times of a maildir's folders two levels down (the maildir, its `cur`,
    `new`, `tmp` and `.Folder`s, and theirs): a message delivered, moved or deleted, or a
    folder made or removed, changes one of them. None when `path` is not a folder."""
    try:
        top = os.lstat(path)
    except OSError:
        return None
    if not stat.S_ISDIR(top.st_mode):
        return None
    stamps = [top.st_mtime_ns]
    level = [path]
    for _depth in range(2):
        below = []
        for folder in level:
            try:
                with os.scandir(folder) as entries:
                    for entry in entries:
                        try:
                            if entry.is_dir(follow_symlinks=False):
                                stamps.append(entry.stat(follow_symlinks=False).st_mtime_ns)
                                below.append(entry.path)
                        except OSError:
                            continue
            except OSError:
                continue
        level = below
    return tuple(stamps)


# The reference's answers to an add and a remove (the API must say exactly these).
USER_ADDED: Final = "mail user added"
USER_REMOVED: Final = "mail user removed"


def last_admin_message(email: str, doing: str) -> str:
    return (
        f"{prettify_idn_email_address(email)} is the only administrator: {doing} would leave nobody who "
        "can use the admin panel or the API. Make another user an administrator first."
    )


def _is_last_admin(conn: sqlite3.Connection, email: str) -> bool:
    admins = [
        address
        for address, privileges in conn.execute(
            "SELECT email, privileges FROM users WHERE privileges LIKE '%admin%'"
        )
        if "admin" in parse_privileges(privileges)
    ]
    return admins == [email]


def _plain_name(name: str) -> bool:
    """A single folder name (no separator, not `.` or `..`)."""
    return name not in ("", ".", "..") and "/" not in name and "\x00" not in name


class UserService:
    """Mail user accounts in users.sqlite. After a change it emits `MailChanged` (the
    housekeeping and DNS follow) and, when a user's login changes, `UserCredentialsChanged`."""

    def __init__(
        self, db: Database, schema: SchemaFeatures, config: BoxConfig, audit: AuditLog, hooks: Hooks
    ) -> None:
        self._db = db
        self._schema = schema
        self._config = config
        self._audit = audit
        self._hooks = hooks
        # Folder sizes of mailboxes without dovecot's maildirsize: {path: (stamp, bytes)}.
        self._folder_sizes: dict[str, tuple[tuple[int, ...], int]] = {}
        self._folder_sizes_lock = threading.Lock()

    def _mailbox_path(self, email: str) -> Path:
        local, _, domain = email.rpartition("@")
        return self._config.mailboxes_dir / domain / local

    # --- reading --------------------------------------------------------------------------

    def emails(self) -> tuple[str, ...]:
        """Every user's address, in the reference's order (domain sort, then address)."""

        def compute() -> tuple[str, ...]:
            rows = self._db.query("SELECT email FROM users")
            return tuple(sort_email_addresses((r[0] for r in rows), self._config.primary_hostname))

        return self._db.cached("user-emails", compute)

    def exists(self, email: str) -> bool:
        return bool(self._db.query("SELECT 1 FROM users WHERE email=?", (email,)))

    def password_hash(self, email: str) -> str | None:
        rows = self._db.query("SELECT password FROM users WHERE email=?", (email,))
        return rows[0][0] if rows else None

    def list_users(
        self, *, with_archived: bool = True, with_sizes: bool = True
    ) -> tuple[DomainUsers, ...]:
        """All users grouped by domain in the reference's order, archived mailboxes included.

        The result is reused until the database or the mailbox folders change; mailbox sizes
        (written by dovecot) may lag by up to SIZE_MAX_AGE seconds.
        """
        root = str(self._config.mailboxes_dir)
        return self._db.cached(
            f"users:{with_archived}:{with_sizes}",
            lambda: self._list_users(with_archived, with_sizes),
            extra_key=_folder_stamp(root),
            max_age=SIZE_MAX_AGE,
        )

    def _list_users(self, with_archived: bool, with_sizes: bool) -> tuple[DomainUsers, ...]:
        features = self._schema
        columns = "email, privileges" + (", quota" if features.has_quota else "")
        root = str(self._config.mailboxes_dir)
        # One scan of the mailbox folders serves both the archived accounts and the sizes
        # (string paths: pathlib costs more than the whole query here).
        on_disk = self._scan_mailboxes(root) if (with_archived or with_sizes) else {}
        grouped: dict[str, list[MailUser]] = {}
        active: set[str] = set()
        for row in self._db.query(f"SELECT {columns} FROM users"):
            email = row[0]
            active.add(email)
            local, _, domain = email.rpartition("@")
            mailbox = f"{root}/{domain}/{local}"
            size = None
            if with_sizes and local in on_disk.get(domain, ()):
                size = read_box_size(mailbox)
            grouped.setdefault(domain, []).append(
                MailUser(
                    email=email,
                    privileges=parse_privileges(row[1]),
                    status="active",
                    mailbox=mailbox,
                    quota=row[2] if features.has_quota else None,
                    box_size=size,
                )
            )
        if with_archived:
            for domain, locals_ in on_disk.items():
                for local in locals_:
                    email = local + "@" + domain
                    if email not in active:
                        grouped.setdefault(domain, []).append(
                            MailUser(
                                email=email,
                                privileges=(),
                                status="inactive",
                                mailbox=f"{root}/{domain}/{local}",
                            )
                        )
        result = []
        for domain in sort_domains(grouped, self._config.primary_hostname):
            members = sorted(grouped[domain], key=lambda u: (u.status != "active", u.email))
            result.append(DomainUsers(domain=domain, users=tuple(members)))
        return tuple(result)

    def mailbox_sizes(self, emails: Iterable[str]) -> dict[str, int | None]:
        """Each address's mailbox size in bytes (users' and archived mailboxes' alike):
        dovecot's `maildirsize` where present, else the size of the mailbox's folder; None
        when there is no mailbox folder.

        A folder is walked once, then its size is reused until one of its folders changes
        (`_folder_tree_stamp`). The first walk of a big mailbox takes a while: call this off
        any UI thread."""
        root = str(self._config.mailboxes_dir)
        sizes: dict[str, int | None] = {}
        folders: dict[str, set[str]] = {}  # each domain's mailbox folders, listed once
        for email in emails:
            local, _, domain = email.rpartition("@")
            sizes[email] = None
            if not (_plain_name(local) and _plain_name(domain)):
                continue
            if domain not in folders:
                folders[domain] = self._folders_in(f"{root}/{domain}")
            if local not in folders[domain]:
                continue  # no mail was ever delivered: no folder
            mailbox = f"{root}/{domain}/{local}"
            size = read_box_size(mailbox)
            sizes[email] = size if size is not None else self._folder_size(mailbox)
        return sizes

    @staticmethod
    def _folders_in(path: str) -> set[str]:
        """The real folders (not links) in `path`; none when it is not a folder."""
        try:
            if not stat.S_ISDIR(os.lstat(path).st_mode):
                return set()
            with os.scandir(path) as entries:
                return {e.name for e in entries if e.is_dir(follow_symlinks=False)}
        except OSError:
            return set()

    def _folder_size(self, mailbox: str) -> int | None:
        stamp = _folder_tree_stamp(mailbox)
        if stamp is None:
            with self._folder_sizes_lock:
                self._folder_sizes.pop(mailbox, None)
            return None
        with self._folder_sizes_lock:
            hit = self._folder_sizes.get(mailbox)
        if hit is not None and hit[0] == stamp:
            return hit[1]
        size = folder_size(mailbox)
        if size is None:
            return None
        with self._folder_sizes_lock:
            self._folder_sizes[mailbox] = (stamp, size)
        return size

    @staticmethod
    def _scan_mailboxes(root: str) -> dict[str, set[str]]:
        """{domain: {local part, ...}} for every maildir folder under mail/mailboxes."""
        found: dict[str, set[str]] = {}
        try:
            domains = [d for d in os.scandir(root) if d.is_dir()]
        except OSError:
            return found
        for domain in domains:
            try:
                found[domain.name] = {e.name for e in os.scandir(domain.path) if e.is_dir()}
            except OSError:
                continue
        return found

    def is_last_admin(self, email: str) -> bool:
        """Whether `email` is the box's only administrator: taking that away would leave
        nobody who can use the admin panel or the API."""
        return _is_last_admin(self._db.conn, user_address(email))

    def get_privileges(self, email: str) -> tuple[str, ...]:
        """Raises: NotFound: no such user."""
        email = user_address(email)
        rows = self._db.query("SELECT privileges FROM users WHERE email=?", (email,))
        if not rows:
            raise NotFound(f"That's not a user ({email}).", field="email")
        return parse_privileges(rows[0][0])

    def get_quota(self, email: str) -> str:
        """Raises: NotFound: no such user."""
        email = user_address(email)
        if not self._schema.has_quota:
            if not self.exists(email):
                raise NotFound(f"That's not a user ({email}).", field="email")
            return "0"
        rows = self._db.query("SELECT quota FROM users WHERE email=?", (email,))
        if not rows:
            raise NotFound(f"That's not a user ({email}).", field="email")
        return str(rows[0][0])

    # --- changing -------------------------------------------------------------------------

    def add_user(
        self,
        email: str,
        password: str,
        privileges: str | Iterable[str] = "",
        *,
        quota: str = "0",
        actor: Actor,
    ) -> Change:
        """Create a mail user, then run the housekeeping (required aliases).

        Raises:
            ValidationError: the address, password, a privilege or the quota is refused.
            AlreadyExists: a user with this address exists.
        """
        email = user_address(email)
        with self._audit.recording(actor, "add user", email):
            if email.strip() == "":
                raise ValidationError("No email address provided.", field="email")
            if not validate_email(email):
                raise ValidationError("Invalid email address.", field="email")
            if not validate_email(email, mode="user"):
                raise ValidationError(USER_CHARS_MESSAGE, field="email")
            if not mail_domain_fits(email):
                raise ValidationError(DOMAIN_TOO_LONG, field="email")
            # The first user of a box may be admin@ (setup makes it); later ones may not.
            if is_dcv_address(email) and self._db.query("SELECT 1 FROM users LIMIT 1"):
                raise ValidationError(DCV_USER_MESSAGE, field="email")
            validate_password(password)
            privs = self._privilege_list(privileges)
            if self._schema.has_quota:
                quota = validate_quota(quota)
            hashed = hash_password(password)
            try:
                with self._db.write() as conn:
                    if self._schema.has_quota:
                        conn.execute(
                            "INSERT INTO users (email, password, privileges, quota)"
                            " VALUES (?, ?, ?, ?)",
                            (email, hashed, "\n".join(privs), quota),
                        )
                    else:
                        conn.execute(
                            "INSERT INTO users (email, password, privileges) VALUES (?, ?, ?)",
                            (email, hashed, "\n".join(privs)),
                        )
            except sqlite3.IntegrityError:
                raise AlreadyExists("User already exists.", field="email") from None
        return Change.of(USER_ADDED, *self._hooks.emit(MailChanged()))

    @staticmethod
    def _privilege_list(privileges: str | Iterable[str]) -> list[str]:
        if isinstance(privileges, str):
            if privileges.strip() == "":
                return []
            items = privileges.split("\n")
        else:
            items = list(privileges)
        for privilege in items:
            validate_privilege(privilege)
        return items

    def remove_user(self, email: str, *, actor: Actor, keep_an_admin: bool = False) -> Change:
        """Delete the account (its mailbox stays, archived) and its MFA rows. With
        `keep_an_admin` (the TUI and the CLI; the API keeps the reference's behaviour) the
        only administrator is not removed.

        Raises:
            NotFound: no such user.
            ValidationError: `keep_an_admin`, and this is the only administrator.
        """
        email = user_address(email)
        with self._audit.recording(actor, "remove user", email):
            with self._db.write() as conn:
                row = conn.execute("SELECT id FROM users WHERE email=?", (email,)).fetchone()
                if row is None:
                    raise NotFound(f"That's not a user ({email}).", field="email")
                if keep_an_admin and _is_last_admin(conn, email):
                    raise ValidationError(last_admin_message(email, "removing the user"))
                conn.execute("DELETE FROM users WHERE id=?", (row[0],))
                # The reference leaves orphan MFA rows (foreign keys are off); we don't.
                if self._schema.has_mfa:
                    conn.execute("DELETE FROM mfa WHERE user_id=?", (row[0],))
            self._hooks.emit(UserCredentialsChanged(email))
        return Change.of(USER_REMOVED, *self._hooks.emit(MailChanged()))

    def set_password(self, email: str, password: str, *, actor: Actor) -> None:
        """Raises: ValidationError: password refused. NotFound: no such user."""
        email = user_address(email)
        with self._audit.recording(actor, "set password", email):
            validate_password(password)
            hashed = hash_password(password)
            with self._db.write() as conn:
                cursor = conn.execute("UPDATE users SET password=? WHERE email=?", (hashed, email))
                if cursor.rowcount != 1:
                    raise NotFound(f"That's not a user ({email}).", field="email")
            self._hooks.emit(UserCredentialsChanged(email))

    def add_privilege(self, email: str, privilege: str, *, actor: Actor) -> None:
        """Idempotent. Raises: ValidationError: bad privilege. NotFound: no such user."""
        self._change_privilege(email, privilege, add=True, actor=actor)

    def remove_privilege(
        self, email: str, privilege: str, *, actor: Actor, keep_an_admin: bool = False
    ) -> None:
        """Drops every equal entry; with `keep_an_admin`, not the only administrator's admin.
        Raises: ValidationError, NotFound."""
        self._change_privilege(
            email, privilege, add=False, actor=actor, keep_an_admin=keep_an_admin
        )

    def _change_privilege(
        self, email: str, privilege: str, *, add: bool, actor: Actor, keep_an_admin: bool = False
    ) -> None:
        operation = "add privilege" if add else "remove privilege"
        email = user_address(email)
        with self._audit.recording(actor, operation, f"{email} {privilege}".strip()):
            validate_privilege(privilege)
            with self._db.write() as conn:
                row = conn.execute(
                    "SELECT privileges FROM users WHERE email=?", (email,)
                ).fetchone()
                if row is None:
                    raise NotFound(f"That's not a user ({email}).", field="email")
                privs = list(parse_privileges(row[0]))
                last = keep_an_admin and not add and privilege == "admin"
                if last and _is_last_admin(conn, email):
                    raise ValidationError(last_admin_message(email, "taking the privilege"))
                if add and privilege not in privs:
                    privs.append(privilege)
                if not add:
                    privs = [p for p in privs if p != privilege]
                conn.execute(
                    "UPDATE users SET privileges=? WHERE email=?", ("\n".join(privs), email)
                )

    def set_quota(self, email: str, quota: str, *, actor: Actor) -> None:
        """Raises: ValidationError: bad quota, or a v0.51 database. NotFound: no such user."""
        email = user_address(email)
        with self._audit.recording(actor, "set quota", f"{email} {quota}"):
            quota = validate_quota(quota)
            if not self._schema.has_quota:
                raise ValidationError(
                    "This box's database has no quota column (a v0.51 box): upgrade it first.",
                    field="quota",
                )
            with self._db.write() as conn:
                cursor = conn.execute("UPDATE users SET quota=? WHERE email=?", (quota, email))
                if cursor.rowcount != 1:
                    raise NotFound(f"That's not a user ({email}).", field="email")

    def purge_archived_mailbox(self, email: str, *, actor: Actor) -> Change:
        """Delete an archived mailbox (the folder a removed user's mail stays in) from disk,
        for good. The reference leaves this to the shell.

        Only the folder `mail/mailboxes/DOMAIN/LOCAL` goes: neither it nor its domain folder
        may be a link (nothing is followed), and a user with the address holds the mailbox
        (checked while the users table is locked, so none can be added meanwhile).

        Raises:
            ValidationError: a user has this address, or it names no mailbox folder.
            NotFound: there is no archived mailbox of that address.
            HostError: the folder could not be removed (what was left says why).
        """
        email = user_address(email)
        with self._audit.recording(actor, "purge mailbox", email):
            local, sep, domain = email.rpartition("@")
            if not (sep and _plain_name(local) and _plain_name(domain)):
                raise ValidationError("Invalid email address.", field="email")
            with self._db.write() as conn:
                if conn.execute("SELECT 1 FROM users WHERE email=?", (email,)).fetchone():
                    raise ValidationError(
                        f"{email} is a mail user: only the mailbox of a removed user can be "
                        "purged. Remove the user first.",
                        field="email",
                    )
                # Only a rename under the lock: no user can take the address meanwhile, and
                # the delete (long for a big mailbox) holds up no other write.
                detached = self._detach_mailbox_folder(domain, local, email)
            self._delete_detached_folder(domain, detached, email)
        return Change.of(f"archived mailbox purged: {email}")

    def _detach_mailbox_folder(self, domain: str, local: str, email: str) -> str:
        """Rename the mailbox folder to a name no user can have (a leading dot); its name."""
        missing = NotFound(f"There is no archived mailbox of {email}.", field="email")
        # The mailboxes folder itself may be a link (STORAGE_ROOT on another disk); below
        # it, nothing is followed.
        try:
            root_fd = os.open(self._config.mailboxes_dir, os.O_RDONLY | os.O_DIRECTORY)
        except OSError:
            raise missing from None
        try:
            try:
                domain_fd = os.open(
                    domain, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW, dir_fd=root_fd
                )
            except OSError as exc:
                if exc.errno in (errno.ELOOP, errno.ENOTDIR):
                    raise ValidationError(
                        f"The mail folder of {domain} is not a plain folder (a link?): "
                        "nothing was removed.",
                        field="email",
                    ) from None
                raise missing from None
            try:
                try:
                    mode = os.lstat(local, dir_fd=domain_fd).st_mode
                except OSError:
                    raise missing from None
                if not stat.S_ISDIR(mode):
                    raise ValidationError(
                        f"The mailbox of {email} is not a plain folder (a link?): "
                        "nothing was removed.",
                        field="email",
                    )
                detached = f".purging-{local}-{secrets.token_hex(4)}"
                try:
                    os.rename(local, detached, src_dir_fd=domain_fd, dst_dir_fd=domain_fd)
                except OSError as exc:
                    raise HostError(
                        f"The mailbox of {email} could not be removed: {exc.strerror or exc}."
                    ) from None
                return detached
            finally:
                os.close(domain_fd)
        finally:
            os.close(root_fd)

    def _delete_detached_folder(self, domain: str, detached: str, email: str) -> None:
        try:
            root_fd = os.open(self._config.mailboxes_dir, os.O_RDONLY | os.O_DIRECTORY)
            try:
                domain_fd = os.open(
                    domain, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW, dir_fd=root_fd
                )
                try:
                    # Removes through file descriptors, never following a link inside.
                    shutil.rmtree(detached, dir_fd=domain_fd)
                finally:
                    os.close(domain_fd)
            finally:
                os.close(root_fd)
        except OSError as exc:
            raise HostError(
                f"The mailbox of {email} could not be removed completely: "
                f"{exc.strerror or exc}. What is left is {domain}/{detached}."
            ) from None
