"""BoxWatcher: notices, within about a second, that another face changed the box.

Every change any face makes commits to the mail database or to our state database (the
audit log records every change, DNS ones included). The watcher polls both databases'
change counters (`Database.version()`, one SQLite pragma each) on a thread of its own, with
`Database` objects of its own: `version()` also moves when a thread of the process first
looks at a database, so sharing the box's objects would see the TUI's own worker threads as
changes. Our own commits are seen too; the screen then reloads once more, which keeps the
cursor and the filter.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Callable
from typing import TYPE_CHECKING, Final

from core.storage.db import Database

if TYPE_CHECKING:
    from core.box import Box

POLL_SECONDS: Final = 1.0


class BoxWatcher:
    """Calls `on_change` (from its own thread) after the box's databases changed."""

    def __init__(
        self, box: Box, on_change: Callable[[], object], *, interval: float = POLL_SECONDS
    ) -> None:
        self._databases = (
            Database(box.db.path, journal=box.db.journal),
            Database(box.state_db.path, journal=box.state_db.journal),
        )
        self._on_change = on_change
        self._interval = interval
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="miab-box-watch", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=2)

    def _version(self) -> tuple[tuple[int, int, int], ...]:
        return tuple(database.version() for database in self._databases)

    def _run(self) -> None:
        try:
            last = self._version()
            while not self._stop.wait(self._interval):
                try:
                    now = self._version()
                except sqlite3.Error:
                    continue  # busy or briefly unreadable: look again next time
                if now != last:
                    last = now
                    self._on_change()
        except sqlite3.Error:
            return  # the box went away under us: nothing left to watch
        finally:
            for database in self._databases:
                database.close()  # this thread's connections
