"""Writer functions for the concurrency and crash tests.

They live in a plain module (not a test file) because child processes are started with
multiprocessing's `spawn` method, which re-imports the function by its module name.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass, field
from typing import Final

from core import Box, open_box
from core.storage.files import atomic_write
from tests.conftest import TEST_ACTOR

ADMIN: Final = "admin@example.com"
ADMIN_PASSWORD: Final = "admin-password-1"
FIRST_PASSWORD: Final = "first-password-1"


def final_password(email: str) -> str:
    return f"{email} second"


@dataclass
class Written:
    """What one writer reports as done; the test then checks every item is in the box."""

    writer: str
    users: list[str] = field(default_factory=list)
    aliases: dict[str, str] = field(default_factory=dict)  # address -> destination


def _wait_until(moment: float) -> None:
    # Writers in threads and freshly spawned processes all start at the same wall time, so
    # they really overlap however long each took to start.
    delay = moment - time.time()
    if delay > 0:
        time.sleep(delay)


def write_through_core(box: Box, tag: str, start_at: float, seconds: float) -> Written:
    """Add a user, an alias to it and a new password for it, on distinct addresses, until
    the time is up."""
    done = Written(writer=f"core {tag}")
    _wait_until(start_at)
    i = 0
    while time.time() < start_at + seconds:
        user = f"{tag}-u{i}@example.com"
        alias = f"{tag}-a{i}@example.com"
        box.mail.users.add_user(user, FIRST_PASSWORD, actor=TEST_ACTOR)
        done.users.append(user)
        box.mail.aliases.add_alias(alias, user, actor=TEST_ACTOR)
        done.aliases[alias] = user
        box.mail.users.set_password(user, final_password(user), actor=TEST_ACTOR)
        i += 1
    return done


def write_through_api(box: Box, tag: str, start_at: float, seconds: float) -> Written:
    """The same writes as `write_through_core`, as HTTP requests to the API face."""
    from webtest import TestApp

    import api_server
    from tests.integration.conftest import basic_auth

    app = TestApp(api_server.make_app(box))
    auth = basic_auth(ADMIN, ADMIN_PASSWORD)
    done = Written(writer=f"api {tag}")
    _wait_until(start_at)
    i = 0
    while time.time() < start_at + seconds:
        user = f"{tag}-u{i}@example.com"
        alias = f"{tag}-a{i}@example.com"
        app.post(
            "/mail/users/add", {"email": user, "password": FIRST_PASSWORD}, headers=auth, status=200
        )
        done.users.append(user)
        app.post(
            "/mail/aliases/add", {"address": alias, "forwards_to": user}, headers=auth, status=200
        )
        done.aliases[alias] = user
        app.post(
            "/mail/users/password",
            {"email": user, "password": final_password(user)},
            headers=auth,
            status=200,
        )
        i += 1
    return done


def process_writer(box_dir: str, face: str, tag: str, start_at: float, seconds: float) -> Written:
    """A writer in a process of its own, with its own Box on the shared folder."""
    box = open_box(box_dir)
    try:
        writer = write_through_api if face == "api" else write_through_core
        return writer(box, tag, start_at, seconds)
    finally:
        box.close()


# --- killed midway ------------------------------------------------------------------------


def hold_uncommitted_insert(box_dir: str, rows: int, keep_inserting: bool, ready: object) -> None:
    """Insert `rows` alias rows inside one write transaction, say so, and never commit.

    With `keep_inserting`, the readiness signal comes after the first batch and inserting
    goes on until the process is killed (so the kill lands mid-statement).
    """
    box = open_box(box_dir)
    with box.db.write() as conn:
        i = 0
        while True:
            batch = [
                (f"doomed-{i + n}@example.com", "x" * 200 + "@example.com") for n in range(1000)
            ]
            conn.executemany(
                "INSERT INTO aliases (source, destination, permitted_senders) VALUES (?, ?, NULL)",
                batch,
            )
            i += len(batch)
            if keep_inserting and i == len(batch):
                ready.set()  # type: ignore[attr-defined]
            if not keep_inserting and i >= rows:
                ready.set()  # type: ignore[attr-defined]
                time.sleep(600)


def slow_atomic_write(path: str, size: int, ready: object) -> None:
    """`atomic_write` of `size` bytes whose write loop crawls in 64 KiB steps, so the kill
    lands while the temp file is half written."""
    real_write = os.write

    def crawling_write(fd: int, data: bytes | memoryview) -> int:
        if len(data) < 1 << 20:  # only the big payload crawls, not multiprocessing's pipes
            return real_write(fd, data)
        written = real_write(fd, data[: 1 << 16])
        ready.set()  # type: ignore[attr-defined]
        time.sleep(0.01)
        return written

    os.write = crawling_write  # type: ignore[assignment]
    atomic_write(path, b"N" * size)
