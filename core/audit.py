"""The audit log: every change appends who did what, from which face, and how it ended."""

from __future__ import annotations

import contextlib
import getpass
import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Final

from core.errors import MiabError
from core.mail.addresses import (
    prettify_domain,
    prettify_idn_email_address,
    sanitize_idn_email_address,
)
from core.storage.db import Database

STATE_SCHEMA: Final = (
    "CREATE TABLE IF NOT EXISTS audit (id INTEGER PRIMARY KEY AUTOINCREMENT, time REAL NOT NULL,"
    " actor TEXT NOT NULL, face TEXT NOT NULL, operation TEXT NOT NULL, target TEXT NOT NULL,"
    " outcome TEXT NOT NULL)",
    "CREATE TABLE IF NOT EXISTS login_keys (key_hash TEXT PRIMARY KEY, email TEXT NOT NULL,"
    " kind TEXT NOT NULL, state_token TEXT NOT NULL, created REAL NOT NULL,"
    " last_used REAL NOT NULL)",
    "CREATE TABLE IF NOT EXISTS failed_logins (address TEXT NOT NULL, time REAL NOT NULL)",
    "CREATE INDEX IF NOT EXISTS failed_logins_by_address ON failed_logins (address, time)",
    "CREATE INDEX IF NOT EXISTS login_keys_by_email ON login_keys (email, last_used)",
    # TOTP codes used within their validity window (core.mfa.used_codes): never accepted twice.
    "CREATE TABLE IF NOT EXISTS used_totp_codes (mfa_id INTEGER NOT NULL, code TEXT NOT NULL,"
    " time REAL NOT NULL, PRIMARY KEY (mfa_id, code))",
    # Long jobs (core.jobs): state, result and progress lines, followed from any process.
    "CREATE TABLE IF NOT EXISTS jobs (id INTEGER PRIMARY KEY AUTOINCREMENT, kind TEXT NOT NULL,"
    " state TEXT NOT NULL, actor TEXT NOT NULL, face TEXT NOT NULL,"
    " params TEXT NOT NULL DEFAULT '{}', pid INTEGER, created REAL NOT NULL, started REAL,"
    " ended REAL, progress REAL, result TEXT)",
    "CREATE INDEX IF NOT EXISTS jobs_by_kind_state ON jobs (kind, state)",
    "CREATE TABLE IF NOT EXISTS job_lines (job_id INTEGER NOT NULL, line_no INTEGER NOT NULL,"
    " time REAL NOT NULL, text TEXT NOT NULL, PRIMARY KEY (job_id, line_no))",
)


@dataclass(frozen=True, slots=True)
class Actor:
    """Who makes a change: a login (the API caller, the user at the console) and the face
    used. Every changing core operation requires one: there is no default actor."""

    name: str
    face: str  # "tui", "api", "cli", "setup"


# The box itself, making a box or seeding the demo (`miab init`, `miab demo`).
SETUP: Final = Actor("miab", "setup")


def login_actor(face: str) -> Actor:
    """The person at the console: the login that ran `sudo miab ...` (SUDO_USER), else the
    user the program runs as; `face` says which face they used (`cli`, `tui`)."""
    name = os.environ.get("SUDO_USER", "").strip()
    if not name:
        try:
            name = getpass.getuser()
        except (OSError, KeyError):
            name = f"uid {os.getuid()}"
    return Actor(name, face)


def stored_target(target: str) -> str:
    """A target in the one form the log keeps: addresses and domains in IDNA (ASCII)."""
    words = []
    for word in target.split(" "):
        if word.isascii():
            words.append(word)
        elif "@" in word:
            words.append(sanitize_idn_email_address(word))
        else:
            try:
                words.append(word.encode("idna").decode("ascii"))
            except (UnicodeError, ValueError):
                words.append(word)
    return " ".join(words)


def display_target(target: str) -> str:
    """A stored target as the faces show it: IDNA addresses and domains in Unicode."""
    words = []
    for word in target.split(" "):
        if "xn--" not in word.lower():
            words.append(word)
        elif "@" in word:
            words.append(prettify_idn_email_address(word))
        else:
            words.append(prettify_domain(word))
    return " ".join(words)


@dataclass(frozen=True, slots=True)
class AuditRecord:
    time: float
    actor: str
    face: str
    operation: str
    target: str
    outcome: str


class AuditLog:
    """Append-only record of changes, kept in the box's own state database."""

    def __init__(self, db: Database, clock: Callable[[], float]) -> None:
        self._db = db
        self._clock = clock

    def append(self, actor: Actor, operation: str, target: str, outcome: str) -> None:
        with self._db.write() as conn:
            conn.execute(
                "INSERT INTO audit (time, actor, face, operation, target, outcome)"
                " VALUES (?, ?, ?, ?, ?, ?)",
                (self._clock(), actor.name, actor.face, operation, stored_target(target), outcome),
            )

    @contextlib.contextmanager
    def recording(self, actor: Actor, operation: str, target: str) -> Iterator[None]:
        """Record `ok`, or the error's message, for the change made inside the block."""
        try:
            yield
        except MiabError as exc:
            self.append(actor, operation, target, "refused: " + exc.message)
            raise
        self.append(actor, operation, target, "ok")

    def recent(self, limit: int = 200) -> tuple[AuditRecord, ...]:
        rows = self._db.query(
            "SELECT time, actor, face, operation, target, outcome FROM audit"
            " ORDER BY id DESC LIMIT ?",
            (limit,),
        )
        return tuple(AuditRecord(*row) for row in rows)
