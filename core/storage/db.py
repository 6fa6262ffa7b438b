"""SQLite access: one connection per thread, WAL, a busy timeout, and one write path.

Every write runs inside `Database.write()`, which opens `BEGIN IMMEDIATE` (so the write lock
is taken up front and a concurrent writer waits instead of failing mid-transaction) and
commits or rolls back as a whole.
"""

from __future__ import annotations

import contextlib
import sqlite3
import threading
import time
from collections.abc import Callable, Hashable, Iterator
from pathlib import Path
from typing import Any, Final, TypeVar

T = TypeVar("T")

BUSY_TIMEOUT_MS: Final = 15_000


class Database:
    """A SQLite file shared by the TUI, the API server's workers and postfix/dovecot."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._local = threading.local()
        self._generation = 0  # bumped by every commit made through this object
        self._gen_lock = threading.Lock()

    def _connect(self) -> sqlite3.Connection:
        conn = sqlite3.connect(self.path, timeout=BUSY_TIMEOUT_MS / 1000,
                               isolation_level=None, check_same_thread=False)
        conn.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
        # WAL lets readers (postfix, dovecot, the other face) go on while we write.
        with contextlib.suppress(sqlite3.OperationalError):
            conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=NORMAL")
        return conn

    @property
    def conn(self) -> sqlite3.Connection:
        conn = getattr(self._local, "conn", None)
        if conn is None:
            conn = self._local.conn = self._connect()
        return conn

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

    def version(self) -> tuple[int, int]:
        """A value that changes whenever the database may have changed, from any process.

        `PRAGMA data_version` changes on this thread's connection when another connection
        commits; the generation counts this object's own commits.
        """
        (data_version,) = self.conn.execute("PRAGMA data_version").fetchone()
        return data_version, self._generation

    def cached(self, name: str, compute: Callable[[], T], *, extra_key: Hashable = None,
               max_age: float | None = None) -> T:
        """`compute()`, reused while the database (and `extra_key`) are unchanged.

        The cache is per thread because `data_version` is per connection. `max_age` bounds
        how long a value may be reused for what the key cannot see (e.g. mailbox sizes).
        """
        cache: dict[str, tuple[Hashable, float, object]] | None = getattr(
            self._local, "cache", None)
        if cache is None:
            cache = self._local.cache = {}
        key = (self.version(), extra_key)
        now = time.monotonic()
        hit = cache.get(name)
        if hit is not None and hit[0] == key and (max_age is None or now - hit[1] < max_age):
            return hit[2]  # type: ignore[return-value]
        value = compute()
        cache[name] = (key, now, value)
        return value

    def close(self) -> None:
        conn = getattr(self._local, "conn", None)
        if conn is not None:
            conn.close()
            self._local.conn = None
