"""The Box: one context object opened on a box's configuration, handing out the services."""

from __future__ import annotations

import os
import secrets
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Final, Generic, TypeVar, overload

from core.audit import SETUP, STATE_SCHEMA, Actor, AuditLog
from core.config import SYSTEM_CONF, BoxConfig, load_config, write_config
from core.errors import ConfigError, ValidationError
from core.events import CertificatesChanged, Hooks, MailChanged, UserCredentialsChanged
from core.hostnames import check_address, check_hostname, check_resolver_setting
from core.mail.schema import FRESH_MIGRATION, FRESH_SCHEMA, create_schema, detect_features
from core.storage.db import Database, create_database_file
from core.storage.files import atomic_write

if TYPE_CHECKING:
    from core.auth import AuthService
    from core.backup import BackupService
    from core.dns import DnsService
    from core.jobs import JobService
    from core.mail.aliases import AliasService
    from core.mail.housekeeping import Housekeeping
    from core.mail.users import UserService
    from core.mfa import MfaService
    from core.system import StatusService, SystemService
    from core.tls.service import TlsService
    from core.web import WebService

Clock = Callable[[], float]

# A new box's users.sqlite holds password hashes and TOTP secrets: not world-readable. On a
# real box postfix reads it as its own user: give the file group `postfix` (README).
USERS_DB_MODE = 0o640
STATE_DB_MODE = 0o600


T = TypeVar("T")


class Service(Generic[T]):
    """A Box attribute built on first use, once per Box even with threads racing for it.

    A process imports and builds only the services it touches: a job runner or a CLI command
    starts in a fraction of the time that building every service (and importing dnspython,
    cryptography, acme, boto3 ...) takes. Assigning replaces the service (tests do)."""

    def __init__(self, make: Callable[[Box], T]) -> None:
        self._make = make
        self._name = make.__name__

    def __set_name__(self, owner: type, name: str) -> None:
        self._name = name

    @overload
    def __get__(self, box: None, owner: type) -> Service[T]: ...
    @overload
    def __get__(self, box: Box, owner: type) -> T: ...
    def __get__(self, box: Box | None, owner: type) -> Service[T] | T:
        if box is None:
            return self
        built = box.__dict__
        try:
            return built[self._name]  # type: ignore[no-any-return]
        except KeyError:
            pass
        # Re-entrant: building one service may use another.
        with box._building:
            if self._name not in built:
                built[self._name] = self._make(box)
            return built[self._name]  # type: ignore[no-any-return]

    def __set__(self, box: Box, value: T) -> None:
        box.__dict__[self._name] = value


class MailServices:
    def __init__(self, box: Box) -> None:
        from core.mail.aliases import AliasService
        from core.mail.housekeeping import Housekeeping
        from core.mail.users import UserService

        self.housekeeping: Housekeeping = Housekeeping(box.db, box.config, box.hooks)
        self.users: UserService = UserService(box.db, box.schema, box.config, box.audit, box.hooks)
        self.aliases: AliasService = AliasService(
            box.db, box.schema, box.config, box.audit, box.hooks, self.housekeeping.required_aliases
        )


def _auth(box: Box) -> AuthService:
    from core.auth import AuthService

    return AuthService(box)


def _dns(box: Box) -> DnsService:
    from core.dns import DnsService

    return DnsService(box)


def _mfa(box: Box) -> MfaService:
    from core.mfa import MfaService

    return MfaService(
        box.db,
        box.state_db,
        box.schema,
        box.config.primary_hostname,
        box.clock,
        box.audit,
        box.hooks,
    )


def _tls(box: Box) -> TlsService:
    from core.tls.service import TlsService

    return TlsService(box)


def _web(box: Box) -> WebService:
    from core.web import WebService

    return WebService(box)


def _jobs(box: Box) -> JobService:
    from core.jobs import JobService

    return JobService(box)


def _backup(box: Box) -> BackupService:
    from core.backup import BackupService

    return BackupService(box)


def _system(box: Box) -> SystemService:
    from core.system import SystemService

    return SystemService(box)


def _status(box: Box) -> StatusService:
    from core.system import StatusService

    return StatusService(box)


class Box:
    """A Mail-in-a-Box style box: its config, its databases and every admin service (each
    built on first use)."""

    mail = Service(MailServices)  # users, aliases and the housekeeping after their changes
    auth = Service(_auth)
    dns = Service(_dns)
    mfa = Service(_mfa)
    tls = Service(_tls)  # certificates, CSR, ACME (core.tls)
    web = Service(_web)  # the web domains and nginx's config (core.web)
    jobs = Service(_jobs)  # long work in detached processes (core.jobs)
    backup = Service(_backup)  # backups with duplicity (core.backup)
    # Version, privacy, updates and reboots; the status checks, streamed (core.system).
    system = Service(_system)
    status = Service(_status)

    def __init__(self, config: BoxConfig, *, clock: Clock = time.time) -> None:
        check_box(config)
        check_resolver_setting(config.extra)
        self.config = config
        self.clock = clock
        self._building = threading.RLock()
        self.db = Database(config.users_db)
        self.schema = detect_features(self.db)
        # Login sessions and the audit log: root's alone.
        create_database_file(config.state_db, STATE_DB_MODE)
        self.state_db = Database(config.state_db, journal="wal")
        with self.state_db.write() as conn:
            for statement in STATE_SCHEMA:
                conn.execute(statement)
        self.audit = AuditLog(self.state_db, clock)
        # After-change follow-ups: the services emit events, the Box wires who follows up
        # (a service an event needs is built when the event comes).
        self.hooks = Hooks()
        # The post-change housekeeping (BEHAVIOUR.md §3.12): required aliases, then the DNS
        # update as its step 4, the web update as step 5.
        self.hooks.subscribe(
            MailChanged, lambda event: self.mail.housekeeping.on_mail_changed(event)
        )
        self.hooks.subscribe(MailChanged, lambda _event: self.dns.housekeeping_hook())
        # Step 5: the web update (new mail domains get their web names served).
        self.hooks.subscribe(MailChanged, lambda _event: self.web.hook_lines())
        # A new certificate: nginx serves it after the web update (SYSTEM.md §1.6 step 3).
        self.hooks.subscribe(CertificatesChanged, lambda _event: self.web.hook_lines())
        # A changed password or second factor, or a removed user: their sessions end.
        self.hooks.subscribe(
            UserCredentialsChanged, lambda event: self.auth.forget_login_keys(event.email)
        )

    @property
    def hostname(self) -> str:
        return self.config.primary_hostname

    def close(self) -> None:
        self.db.close()
        self.state_db.close()


def check_box(config: BoxConfig) -> None:
    """Raises: ConfigError: the config names no mail database."""
    if not config.users_db.exists():
        raise ConfigError(f"There is no mail database at {config.users_db}.")


def locate_box(path: Path | str | None = None) -> BoxConfig:
    """The config of the box in a folder made by `miab init`, or at a conf file; with no
    path, the real box's `/etc/mailinabox.conf`. Opens no database (a process about to fork
    workers calls this, and each worker opens the box itself).

    Raises:
        ConfigError: no box there (the message says how to name one).
    """
    if path is None:
        if not SYSTEM_CONF.exists():
            raise ConfigError(
                "No box named and this machine has no /etc/mailinabox.conf: "
                "pass --box DIR (a folder made by `miab init DIR`)."
            )
        path = SYSTEM_CONF
    config = load_config(path)
    check_box(config)
    return config


def open_box(path: Path | str | None = None, *, clock: Clock = time.time) -> Box:
    """Open the box `locate_box(path)` finds.

    Raises:
        ConfigError: no box there (the message says how to name one).
    """
    return Box(locate_box(path), clock=clock)


@dataclass(frozen=True, slots=True)
class Credentials:
    email: str
    password: str


# Characters that would run a command or change quoting if mailinabox.conf were `source`d by
# a shell, as the reference's scripts do on a real box (`STORAGE_ROOT=...`, unquoted). A space
# is allowed: a folder like `My Boxes` is common, and a local box's conf is read by us alone.
_SHELL_SPECIAL: Final = frozenset("\"'`$\\;&|<>()")


def check_box_folder(directory: Path | str) -> Path:
    """The absolute folder for a new box.

    Raises:
        ValidationError: its path has a character that would change mailinabox.conf (a new
            line, a shell's special character), or a part longer than a file name may be.
    """
    folder = Path(directory).absolute()
    text = str(folder)
    bad = next((c for c in text if not c.isprintable() or c in _SHELL_SPECIAL), None)
    if bad is not None:
        raise ValidationError(
            f"A box cannot be made at {text!r}: its path goes into mailinabox.conf, which shell "
            f"scripts read, and {bad!r} would change what they read. Choose a folder whose "
            "path has none of \" ' ` $ \\ ; & | < > ( ) and no control characters.",
            field="directory",
        )
    if any(len(os.fsencode(part)) > 255 for part in folder.parts):
        raise ValidationError(
            f"A box cannot be made at {text[:80]!r}…: a part of its path is longer than a "
            "file name may be (255 bytes).",
            field="directory",
        )
    return folder.resolve()


def init_box(
    directory: Path | str,
    *,
    primary_hostname: str = "box.example.com",
    public_ip: str = "192.0.2.10",
    public_ipv6: str = "2001:db8::10",
    clock: Clock = time.time,
) -> Box:
    """Create a working local box in `directory`: conf, STORAGE_ROOT tree, users.sqlite with
    upstream's current schema, the migration counter and a master API key.

    Raises:
        ConfigError: the folder holds a box already.
        ValidationError: the hostname or an address cannot be a mail server's (the message
            says why).
    """
    primary_hostname = check_hostname(primary_hostname)
    public_ip = check_address(public_ip, 4, "ip")
    public_ipv6 = check_address(public_ipv6, 6, "ipv6")
    directory = check_box_folder(directory)
    conf_path = directory / "mailinabox.conf"
    if conf_path.exists():
        raise ConfigError(f"There is a box at {directory} already.")
    try:
        if directory.exists() and any(directory.iterdir()):
            raise ConfigError(
                f"{directory} is not empty: a new box goes in an empty folder or a new one."
            )
    except OSError as exc:  # not a folder, or not readable
        raise ConfigError(f"A box cannot be made at {directory}: {exc.strerror}.") from None
    storage_root = directory / "user-data"
    config = BoxConfig(
        storage_root=storage_root,
        primary_hostname=primary_hostname,
        public_ip=public_ip,
        public_ipv6=public_ipv6,
        private_ip=public_ip,
        private_ipv6=public_ipv6,
        system_root=directory,
        conf_path=conf_path,
    )
    for sub in (
        "mail/mailboxes",
        "mail/dkim",
        "mail/sieve",
        "dns/dnssec",
        "ssl",
        "backup",
        "www/default",
    ):
        (storage_root / sub).mkdir(parents=True, exist_ok=True)
    for sub in (
        "etc/nsd/zones",
        "etc/nginx/conf.d",
        "etc/opendkim",
        "var/lib/mailinabox",
        "var/run",
    ):
        (directory / sub).mkdir(parents=True, exist_ok=True)
    atomic_write(storage_root / "mailinabox.version", f"{FRESH_MIGRATION}\n")
    create_database_file(config.users_db, USERS_DB_MODE)
    db = Database(config.users_db)
    create_schema(db, FRESH_SCHEMA)
    db.close()
    atomic_write(config.api_key_path, secrets.token_hex(16) + "\n", mode=0o640)
    # A self-signed certificate for the primary hostname, so a new box serves TLS at once.
    from core.tls.certificates import ensure_system_certificate

    ensure_system_certificate(config.ssl_dir, primary_hostname, clock())
    # The conf goes last: its presence is what marks the folder as a finished box.
    write_config(config, conf_path)
    return Box(load_config(directory), clock=clock)


DEMO_DOMAINS = ("example.com", "example.org", "bücher.example")


def seed_demo(box: Box, *, admin_password: str | None = None, actor: Actor = SETUP) -> Credentials:
    """Fill a box with a few domains, users and aliases, and return the admin's login. The
    changes are the setup's (`SETUP`), unless another actor is named."""
    password = admin_password or secrets.token_urlsafe(12)
    primary_domain = box.hostname.partition(".")[2] or box.hostname
    admin = f"me@{primary_domain}"
    users = box.mail.users
    aliases = box.mail.aliases
    users.add_user(admin, password, "admin", actor=actor)
    aliases.add_alias("administrator@" + box.hostname, admin, actor=actor)
    demo_password = secrets.token_urlsafe(12)
    for email in (
        "alice@example.com",
        "bob@example.com",
        "carol@example.org",
        "dave@example.org",
        "erin@xn--bcher-kva.example",
    ):
        users.add_user(
            email, demo_password, quota="2G" if email.startswith("c") else "0", actor=actor
        )
    aliases.add_alias("sales@example.com", "alice@example.com, bob@example.com", actor=actor)
    aliases.add_alias("@example.org", "carol@example.org", actor=actor)
    aliases.add_alias("@example.net", "@example.com", actor=actor)
    aliases.add_alias("noreply@example.com", "", "alice@example.com", actor=actor)
    aliases.add_alias("info@bücher.example", "erin@bücher.example", actor=actor)
    (box.config.mailboxes_dir / "example.com" / "frank").mkdir(parents=True, exist_ok=True)
    return Credentials(admin, password)
