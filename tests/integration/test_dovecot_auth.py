"""Dovecot authenticates IMAP logins against the users.sqlite that core writes.

A private dovecot (its own config, sockets, state and log in a temp folder, IMAP on a free
loopback port, started in the foreground) reads the test box's users.sqlite through the
exact queries of STORAGE.md §2.3, so these tests prove that the hashes and rows core writes
are what a real box's dovecot accepts. The system-wide dovecot is never touched.
"""

from __future__ import annotations

import contextlib
import imaplib
import itertools
import os
import pwd
import re
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Final

import pytest

from core import Box, init_box
from tests.conftest import TEST_ACTOR, fixed_clock
from tests.integration.conftest import (
    basic_auth,
    free_tcp_port,
    missing_requirement,
    require_program,
)

pytestmark = pytest.mark.integration

# STORAGE.md §2.3, verbatim (v0.51 user_query); STORAGE_ROOT is substituted as setup does.
PASSWORD_QUERY: Final = "SELECT email as user, password FROM users WHERE email='%u';"
USER_QUERY: Final = (
    'SELECT email AS user, "mail" as uid, "mail" as gid, "STORAGE_ROOT/mail/mailboxes/%d/%n" '
    "as home FROM users WHERE email='%u';"
)
ITERATE_QUERY: Final = "SELECT email AS user FROM users;"
MAIL_LOCATION: Final = "maildir:STORAGE_ROOT/mail/mailboxes/%d/%n"

START_TIMEOUT: Final = 15.0
ADMIN: Final = "admin@example.com"
ADMIN_PASSWORD: Final = "admin-password-1"


def dovecot_version(binary: str) -> tuple[int, ...]:
    out = subprocess.run(
        [binary, "--version"], capture_output=True, text=True, check=True, timeout=30
    ).stdout
    match = re.match(r"(\d+)\.(\d+)", out.strip())
    if not match:
        raise RuntimeError(f"Unrecognised `dovecot --version` output: {out!r}")
    return int(match.group(1)), int(match.group(2))


@dataclass(frozen=True)
class ProcessIdentities:
    """Who dovecot's processes and the mail files run as."""

    internal_user: str
    login_user: str
    mail_uid: int
    mail_gid: int


def process_identities() -> ProcessIdentities:
    """As root: dovecot's own unprivileged users, and mail owned by `mail` as on a real box
    (dovecot refuses mail access as UID 0). Otherwise everything runs as the current user."""
    if os.geteuid() != 0:
        me = pwd.getpwuid(os.geteuid()).pw_name
        return ProcessIdentities(me, me, os.geteuid(), os.getegid())
    try:
        pwd.getpwnam("dovecot")
        pwd.getpwnam("dovenull")
        mail = pwd.getpwnam("mail")
    except KeyError as exc:
        missing_requirement(f"the dovecot package's users are missing ({exc})")
    return ProcessIdentities("dovecot", "dovenull", mail.pw_uid, mail.pw_gid)


def render_sql_conf(box: Box) -> str:
    root = str(box.config.storage_root)
    return "\n".join(
        [
            "driver = sqlite",
            f"connect = {box.config.users_db}",
            "default_pass_scheme = SHA512-CRYPT",
            f"password_query = {PASSWORD_QUERY}",
            f"user_query = {USER_QUERY.replace('STORAGE_ROOT', root)}",
            f"iterate_query = {ITERATE_QUERY}",
            "",
        ]
    )


def render_dovecot_conf(box: Box, work: Path, port: int, who: ProcessIdentities) -> str:
    root = str(box.config.storage_root)
    return f"""\
protocols = imap
listen = 127.0.0.1
base_dir = {work}/run
state_dir = {work}/state
log_path = {work}/dovecot.log
instance_name = miab-integration
default_internal_user = {who.internal_user}
default_login_user = {who.login_user}
ssl = no
disable_plaintext_auth = no
auth_mechanisms = plain login
# The reference's 2-second delay would only slow the wrong-password tests down.
auth_failure_delay = 0
first_valid_uid = {who.mail_uid}
mail_location = {MAIL_LOCATION.replace("STORAGE_ROOT", root)}
passdb {{
  driver = sql
  args = {work}/dovecot-sql.conf.ext
}}
userdb {{
  driver = sql
  args = {work}/dovecot-sql.conf.ext
  # The query's "mail" uid is right for root; a non-root run can only use its own ids.
  override_fields = uid={who.mail_uid} gid={who.mail_gid}
}}
service imap-login {{
  inet_listener imap {{
    address = 127.0.0.1
    port = {port}
  }}
  inet_listener imaps {{
    port = 0
  }}
}}
"""


_client_addresses = itertools.count(1)


class IMAPFromOwnAddress(imaplib.IMAP4):
    """An IMAP client whose connection comes from a loopback address of its own.

    Dovecot's auth penalty delays every later login from an IP after a failure (2 s, 4 s, ...
    up to 15 s); a fresh 127.x.y.z per connection keeps the refusal tests from waiting it out.
    """

    def _create_socket(self, timeout: float | None) -> socket.socket:
        n = next(_client_addresses)
        source = f"127.{(n >> 16) & 0xFF or 1}.{(n >> 8) & 0xFF}.{n & 0xFF or 1}"
        return socket.create_connection((self.host, self.port), timeout, source_address=(source, 0))


@dataclass
class Dovecot:
    port: int
    log_path: Path

    def connect(self) -> imaplib.IMAP4:
        return IMAPFromOwnAddress("127.0.0.1", self.port, timeout=10)

    def can_log_in(self, email: str, password: str) -> bool:
        """True if IMAP LOGIN succeeds and the INBOX opens (so the userdb lookup worked too)."""
        imap = self.connect()
        try:
            try:
                imap.login(email, password)
            except imaplib.IMAP4.error as exc:
                # A refusal is this code; anything else (UNAVAILABLE...) is a broken setup.
                if "AUTHENTICATIONFAILED" in str(exc):
                    return False
                raise
            status, _ = imap.select("INBOX")
            assert status == "OK", self.log_tail()
            return True
        finally:
            with contextlib.suppress(imaplib.IMAP4.error, OSError):
                imap.logout()

    def log_tail(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")[-4000:]
        except OSError:
            return "(no dovecot log)"


def wait_for_greeting(proc: subprocess.Popen[bytes], port: int, log_path: Path) -> None:
    deadline = time.monotonic() + START_TIMEOUT
    while True:
        if proc.poll() is not None:
            output = proc.stdout.read().decode(errors="replace") if proc.stdout else ""
            log = log_path.read_text(errors="replace") if log_path.exists() else ""
            pytest.fail(f"dovecot exited with {proc.returncode}:\n{output}\n{log}", pytrace=False)
        try:
            imap = imaplib.IMAP4("127.0.0.1", port, timeout=2)
        except OSError:
            if time.monotonic() > deadline:
                pytest.fail(
                    f"dovecot did not answer on port {port} in {START_TIMEOUT} s", pytrace=False
                )
            time.sleep(0.05)
            continue
        imap.shutdown()
        return


@pytest.fixture
def shared_dir() -> Iterator[Path]:
    """A temp folder every dovecot process can walk into: pytest's own tmp_path sits under a
    0700 folder that the `mail` and `dovecot` users could not traverse (and so may $TMPDIR)."""
    path = Path(tempfile.mkdtemp(prefix="miab-it-", dir="/tmp"))
    path.chmod(0o755)
    yield path
    shutil.rmtree(path, ignore_errors=True)


@pytest.fixture
def imap_box(shared_dir: Path) -> Iterator[Box]:
    who = process_identities()
    box = init_box(shared_dir / "box", clock=fixed_clock)
    # Dovecot creates each maildir as the mail user, as on a real box (mail:mail owns it).
    for parent in (box.config.storage_root, box.config.storage_root / "mail"):
        parent.chmod(0o755)
    if os.geteuid() == 0:
        os.chown(box.config.mailboxes_dir, who.mail_uid, who.mail_gid)
    yield box
    box.close()


@pytest.fixture
def dovecot(imap_box: Box, shared_dir: Path) -> Iterator[Dovecot]:
    binary = require_program("dovecot", "dovecot-core")
    # Every part the config below uses, each named with the Debian package that brings it
    # (dovecot-core alone has no IMAP service and no SQL driver).
    libexec = Path(binary).resolve().parent.parent / "lib" / "dovecot"
    for part, package in (
        (libexec / "imap", "dovecot-imapd"),
        (libexec / "imap-login", "dovecot-imapd"),
        (libexec / "modules" / "auth" / "libdriver_sqlite.so", "dovecot-sqlite"),
    ):
        if not part.exists():
            missing_requirement(f"{part} is missing (Debian package {package})")
    version = dovecot_version(binary)
    if version >= (2, 4):
        # 2.4 renamed most settings (sql_driver, mail_path, %{user} variables); the config
        # below is 2.3's, as on Debian 12 and on the boxes MIAB installs.
        missing_requirement(
            f"dovecot {'.'.join(map(str, version))} is installed; this test writes a 2.3 config"
        )
    who = process_identities()
    work = shared_dir / "dovecot"
    for sub in ("run", "state"):
        (work / sub).mkdir(parents=True)
    work.chmod(0o755)
    port = free_tcp_port()
    (work / "dovecot-sql.conf.ext").write_text(render_sql_conf(imap_box))
    (work / "dovecot-sql.conf.ext").chmod(0o600)
    conf = work / "dovecot.conf"
    conf.write_text(render_dovecot_conf(imap_box, work, port, who))
    log_path = work / "dovecot.log"
    proc = subprocess.Popen(
        [binary, "-F", "-c", str(conf)],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    try:
        wait_for_greeting(proc, port, log_path)
        yield Dovecot(port, log_path)
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)


def test_user_added_through_core_logs_in(imap_box: Box, dovecot: Dovecot) -> None:
    imap_box.mail.users.add_user("alice@example.com", "correct horse 1", actor=TEST_ACTOR)

    assert dovecot.can_log_in("alice@example.com", "correct horse 1"), dovecot.log_tail()
    assert (imap_box.config.mailboxes_dir / "example.com" / "alice" / "cur").is_dir()


def test_wrong_password_is_refused(imap_box: Box, dovecot: Dovecot) -> None:
    imap_box.mail.users.add_user("alice@example.com", "correct horse 1", actor=TEST_ACTOR)

    assert not dovecot.can_log_in("alice@example.com", "correct horse 2")
    assert not dovecot.can_log_in("nobody@example.com", "correct horse 1")


def test_removed_user_is_refused(imap_box: Box, dovecot: Dovecot) -> None:
    users = imap_box.mail.users
    users.add_user("alice@example.com", "correct horse 1", actor=TEST_ACTOR)
    assert dovecot.can_log_in("alice@example.com", "correct horse 1"), dovecot.log_tail()

    users.remove_user("alice@example.com", actor=TEST_ACTOR)

    assert not dovecot.can_log_in("alice@example.com", "correct horse 1")


def test_changed_password_takes_over(imap_box: Box, dovecot: Dovecot) -> None:
    users = imap_box.mail.users
    users.add_user("alice@example.com", "correct horse 1", actor=TEST_ACTOR)

    users.set_password("alice@example.com", "battery staple 2", actor=TEST_ACTOR)

    assert dovecot.can_log_in("alice@example.com", "battery staple 2"), dovecot.log_tail()
    assert not dovecot.can_log_in("alice@example.com", "correct horse 1")


def test_idn_domain_user_logs_in(imap_box: Box, dovecot: Dovecot) -> None:
    # Users of an internationalised domain are stored (and log in) in IDNA form.
    imap_box.mail.users.add_user("erin@xn--bcher-kva.example", "correct horse 1", actor=TEST_ACTOR)

    assert dovecot.can_log_in("erin@xn--bcher-kva.example", "correct horse 1"), dovecot.log_tail()


def test_user_added_through_api_logs_in(imap_box: Box, dovecot: Dovecot) -> None:
    from webtest import TestApp

    from api_server import make_app

    imap_box.mail.users.add_user(ADMIN, ADMIN_PASSWORD, "admin", actor=TEST_ACTOR)
    app = TestApp(make_app(imap_box))

    response = app.post(
        "/mail/users/add",
        {"email": "bob@example.com", "password": "api password 1"},
        headers=basic_auth(ADMIN, ADMIN_PASSWORD),
    )

    assert response.status_int == 200, response.text
    assert dovecot.can_log_in("bob@example.com", "api password 1"), dovecot.log_tail()
    assert not dovecot.can_log_in("bob@example.com", "api password 2")
