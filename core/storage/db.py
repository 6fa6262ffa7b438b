"""SQLite access: one connection per thread and per process, a busy timeout, one write path.

Every write runs inside `Database.write()`, which opens `BEGIN IMMEDIATE` (so the write lock
is taken up front and a concurrent writer waits instead of failing mid-transaction) and
commits or rolls back as a whole.

Journal modes. `users.sqlite` keeps SQLite's rollback journal, as the reference does: on a
real box postfix's sqlite maps and dovecot's auth read it as their own users, and a WAL
database cannot be read by a process that may not write its `-shm` file (or create it in the
folder). Our own state database is written often and read only by us, so it uses WAL.

No connection crosses a `fork()`: a child process abandons (never closes, which could remove
the WAL files its parent still uses) the connections it inherited and opens its own.
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
import threading
import time
import weakref
from collections.abc import Callable, Hashable, Iterator
from pathlib import Path
from typing import Any, Final, Literal, TypeVar

T = TypeVar("T")

BUSY_TIMEOUT_MS: Final = 15_000
JournalMode = Literal["delete", "wal"]

_DATABASES: weakref.WeakSet[Database] = weakref.WeakSet()
# Connections inherited across a fork: kept referenced forever so that they are never closed
# (or garbage-collected, which closes) in the child.
_ABANDONED: list[object] = []


def create_database_file(path: Path, mode: int) -> bool:
    """Create an empty database file with permission bits `mode` (not the umask's), before
    SQLite creates it world-readable. False if it existed (its mode is left alone)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, mode)
    except FileExistsError:
        return False
    try:
        os.fchmod(fd, mode)
    finally:
        os.close(fd)
    return True


class Database:
    """A SQLite file shared by the TUI, the API server's workers and postfix/dovecot."""

    def __init__(self, path: Path, *, journal: JournalMode = "delete") -> None:
        self.path = path
        self.journal = journal
        self._local = threading.local()
        self._generation = 0  # bumped by every commit made through this object
        self._epoch = 0  # bumped when any thread's connection sees another's commit
        self._gen_lock = threading.Lock()
        self._cache: dict[str, tuple[Hashable, float, object]] = {}
        self._compute_locks: dict[str, threading.Lock] = {}
        self._header_fd: int | None = None  # see _change_counter; never closed
        _DATABASES.add(self)

    def _connect(self) -> sqlite3.Connection:
        conn = sqlite3.connect(
            self.path, timeout=BUSY_TIMEOUT_MS / 1000, isolation_level=None, check_same_thread=False
        )
        conn.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
        (current,) = conn.execute("PRAGMA journal_mode").fetchone()
        if current != self.journal:
            # Switching needs the database to ourselves; if another process holds it now,
            # a later connection switches it.
            with contextlib.suppress(sqlite3.OperationalError):
                conn.execute(f"PRAGMA journal_mode={self.journal.upper()}")
        # WAL: NORMAL is durable against process crashes and loses nothing but the last
        # commits on power loss; a rollback journal needs FULL for the same promise.
        conn.execute("PRAGMA synchronous=" + ("NORMAL" if self.journal == "wal" else "FULL"))
        return conn

    @property
    def conn(self) -> sqlite3.Connection:
        conn = getattr(self._local, "conn", None)
        if conn is None:
            conn = self._local.conn = self._connect()
        return conn

    def _abandon_after_fork(self) -> None:
        _ABANDONED.append(self._local)
        self._local = threading.local()
        # Locks another thread of the parent may have held at the fork would never be freed.
        self._gen_lock = threading.Lock()
        self._compute_locks = {}

    def query(self, sql: str, params: tuple[object, ...] = ()) -> list[tuple[Any, ...]]:
        return self.conn.execute(sql, params).fetchall()

    @contextlib.contextmanager
    def write(self) -> Iterator[sqlite3.Connection]:
        """A short write transaction: `BEGIN IMMEDIATE`, then commit, or roll back on error."""
        conn = self.conn
        conn.execute("BEGIN IMMEDIATE")
        try:
            yield conn
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        conn.execute("COMMIT")
        with self._gen_lock:
            self._generation += 1

    def version(self) -> tuple[int, int, int]:
        """A value that changes whenever the database may have changed, from any process.

        A rollback-journal database (users.sqlite) says so itself: the file change counter in
        its header moves with every commit, whoever makes it, so every thread of the process
        shares one value. Otherwise (WAL) `PRAGMA data_version` changes on a connection when
        another connection commits, but its values mean nothing across connections; so each
        thread compares its own connection's value with what it saw last and, on a change (or
        on its first look, not knowing what it missed), moves the process-wide epoch on. The
        generation counts this object's own commits.
        """
        counter = self._change_counter() if self.journal == "delete" else None
        if counter is not None:
            return 0, counter, self._generation
        (data_version,) = self.conn.execute("PRAGMA data_version").fetchone()
        if getattr(self._local, "data_version", None) != data_version:
            self._local.data_version = data_version
            with self._gen_lock:
                self._epoch += 1
        return 1, self._epoch, self._generation

    def _change_counter(self) -> int | None:
        """The header's file change counter (bytes 24-27), or None when the file is in WAL
        mode (bytes 18-19 are 2: the counter does not move on each commit then).

        Read with `pread` on a descriptor kept open for the life of the process: closing any
        descriptor of a database file would drop every POSIX lock this process's SQLite
        connections hold on it. A read during a commit may see the new counter early; the
        query that follows waits for the commit, so the value is never older than its key.
        """
        fd = self._header_fd
        if fd is None:
            with self._gen_lock:
                if self._header_fd is None:
                    try:
                        self._header_fd = os.open(self.path, os.O_RDONLY | os.O_CLOEXEC)
                    except OSError:
                        return None
                fd = self._header_fd
        try:
            header = os.pread(fd, 28, 0)
        except OSError:
            return None
        if len(header) < 28 or header[18] == 2 or header[19] == 2:
            return None
        return int.from_bytes(header[24:28], "big")

    def cached(
        self,
        name: str,
        compute: Callable[[], T],
        *,
        extra_key: Hashable = None,
        max_age: float | None = None,
    ) -> T:
        """`compute()`, reused by every thread while the database (and `extra_key`) are
        unchanged.

        One value per process, computed by one thread at a time (the others wait for it
        rather than compute it again). `max_age` bounds how long a value may be reused for
        what the key cannot see (e.g. mailbox sizes).
        """
        key = (self.version(), extra_key)  # taken before computing: a change meanwhile shows
        hit = self._cache.get(name)
        if (
            hit is not None
            and hit[0] == key
            and (max_age is None or time.monotonic() - hit[1] < max_age)
        ):
            return hit[2]  # type: ignore[return-value]
        with self._compute_lock(name):
            hit = self._cache.get(name)
            now = time.monotonic()
            if hit is not None and hit[0] == key and (max_age is None or now - hit[1] < max_age):
                return hit[2]  # type: ignore[return-value]
            value = compute()
            self._cache[name] = (key, now, value)
        return value

    def _compute_lock(self, name: str) -> threading.Lock:
        with self._gen_lock:
            lock = self._compute_locks.get(name)
            if lock is None:
                lock = self._compute_locks[name] = threading.Lock()
        return lock

    def close(self) -> None:
        conn = getattr(self._local, "conn", None)
        if conn is not None:
            conn.close()
            self._local.conn = None


def _after_fork_in_child() -> None:
    for database in list(_DATABASES):
        database._abandon_after_fork()


os.register_at_fork(after_in_child=_after_fork_in_child)
