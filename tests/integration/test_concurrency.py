"""Many writers at once on one box folder, and writers killed midway.

The TUI, the API server's worker threads and the CLI all write the same users.sqlite while
postfix and dovecot read it; these tests check that overlapping writes from threads and
processes all land, and that a writer killed with SIGKILL (no cleanup of any kind) leaves the
database and files as they were before it started.
"""

from __future__ import annotations

import multiprocessing
import os
import signal
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ProcessPoolExecutor, ThreadPoolExecutor
from pathlib import Path
from typing import Final

import pytest

from core import init_box, open_box
from core.mail.passwords import verify_password
from core.storage.files import atomic_write
from tests.conftest import TEST_ACTOR, fixed_clock
from tests.integration import writers

pytestmark = pytest.mark.integration

WRITE_SECONDS: Final = 3.0
# Time for spawned processes to import core before the writers start together.
START_DELAY: Final = 3.0
WRITERS: Final = 8
SPAWN = multiprocessing.get_context("spawn")


@pytest.fixture
def box_dir(tmp_path: Path) -> Iterator[Path]:
    """A box folder with an admin (the API writers authenticate as it)."""
    box = init_box(tmp_path / "box", clock=fixed_clock)
    box.mail.users.add_user(writers.ADMIN, writers.ADMIN_PASSWORD, "admin", actor=TEST_ACTOR)
    box.close()
    yield tmp_path / "box"


def integrity(db_path: Path) -> str:
    conn = sqlite3.connect(db_path)
    try:
        return conn.execute("PRAGMA integrity_check").fetchone()[0]
    finally:
        conn.close()


def table_rows(db_path: Path, table: str) -> list[tuple]:
    conn = sqlite3.connect(db_path)
    try:
        return conn.execute(f"SELECT * FROM {table} ORDER BY id").fetchall()
    finally:
        conn.close()


def writer_plan() -> list[tuple[str, str]]:
    """(where, face) of each writer: half threads, half processes; one of each through the
    API."""
    faces = ["api", "core", "core", "core"]
    return [("thread", face) for face in faces] + [("process", face) for face in faces]


def test_concurrent_writers_all_land(box_dir: Path) -> None:
    plan = writer_plan()
    assert len(plan) == WRITERS
    shared_box = open_box(box_dir)  # the threads share one Box, as the API server's do
    start_at = time.time() + START_DELAY
    futures: list[Future[writers.Written]] = []
    with (
        ThreadPoolExecutor(max_workers=WRITERS) as threads,
        ProcessPoolExecutor(max_workers=WRITERS, mp_context=SPAWN) as processes,
    ):
        for n, (where, face) in enumerate(plan):
            tag = f"w{n}{face}"
            if where == "thread":
                writer = writers.write_through_api if face == "api" else writers.write_through_core
                futures.append(threads.submit(writer, shared_box, tag, start_at, WRITE_SECONDS))
            else:
                futures.append(
                    processes.submit(
                        writers.process_writer, str(box_dir), face, tag, start_at, WRITE_SECONDS
                    )
                )
        results = [future.result(timeout=120) for future in futures]
    shared_box.close()

    box = open_box(box_dir)
    try:
        assert integrity(box.config.users_db) == "ok"
        assert integrity(box.config.state_db) == "ok"
        hashes = dict(box.db.query("SELECT email, password FROM users"))
        alias_rows = {source: destination for source, destination, _ in box.mail.aliases.rows()}
        for result in results:
            assert result.users, f"{result.writer} wrote nothing in {WRITE_SECONDS} s"
            for user in result.users:
                assert user in hashes, f"{result.writer}: {user} is missing"
            # Each user's last write was its new password: that one must be what's stored.
            last = result.users[-1]
            assert verify_password(writers.final_password(last), hashes[last]), last
            for address, destination in result.aliases.items():
                assert alias_rows.get(address) == destination, f"{result.writer}: {address}"
        print("writes per writer:", {r.writer: len(r.users) for r in results})
        expected = 1 + sum(len(r.users) for r in results)  # plus the admin
        assert len(hashes) == expected
    finally:
        box.close()


def start_child(
    target: Callable[..., None], *args: object
) -> tuple[multiprocessing.process.BaseProcess, threading.Event]:
    ready = SPAWN.Event()
    child = SPAWN.Process(target=target, args=(*args, ready), daemon=True)
    child.start()
    return child, ready


def wait_until_ready(child: multiprocessing.process.BaseProcess, ready: threading.Event) -> None:
    """Wait for the child's signal; fail at once if it died first."""
    deadline = time.monotonic() + 60
    while not ready.wait(timeout=0.1):
        assert child.is_alive(), f"the child died before it started writing ({child.exitcode})"
        assert time.monotonic() < deadline, "the child never started writing"


def kill_child(child: multiprocessing.process.BaseProcess) -> None:
    assert child.pid is not None
    os.kill(child.pid, signal.SIGKILL)
    child.join(timeout=30)
    assert child.exitcode == -signal.SIGKILL


@pytest.mark.parametrize("moment", ["after_all_rows", "mid_insert"])
def test_killed_write_transaction_leaves_old_rows_whole(box_dir: Path, moment: str) -> None:
    box = open_box(box_dir)
    box.mail.users.add_user("alice@example.com", "alice-password-1", actor=TEST_ACTOR)
    box.mail.aliases.add_alias("sales@example.com", "alice@example.com", actor=TEST_ACTOR)
    db_path = box.config.users_db
    users_before = table_rows(db_path, "users")
    aliases_before = table_rows(db_path, "aliases")
    size_before = db_path.stat().st_size
    box.close()

    # Enough rows that SQLite spills uncommitted pages to the database file (the originals
    # saved in the rollback journal) before the kill.
    child, ready = start_child(
        writers.hold_uncommitted_insert, str(box_dir), 50_000, moment == "mid_insert"
    )
    wait_until_ready(child, ready)
    if moment == "mid_insert":
        time.sleep(0.3)
    else:
        # The kill must find uncommitted pages on disk, not only in the child's memory: a
        # hot journal the next opener rolls back.
        journal = db_path.with_name(db_path.name + "-journal")
        assert journal.exists()
        assert db_path.stat().st_size > size_before + (1 << 20), db_path.stat().st_size
    kill_child(child)

    assert integrity(db_path) == "ok"
    assert table_rows(db_path, "users") == users_before
    assert table_rows(db_path, "aliases") == aliases_before
    # The dead writer's lock died with it: the box opens and takes writes again.
    box = open_box(box_dir)
    try:
        box.mail.users.add_user("bob@example.com", "bob-password-1", actor=TEST_ACTOR)
        assert box.mail.users.exists("bob@example.com")
        assert integrity(db_path) == "ok"
    finally:
        box.close()


def test_killed_atomic_write_leaves_old_file_whole(tmp_path: Path) -> None:
    target = tmp_path / "custom.yaml"
    old = "example.com:\n  TXT: old\n" * 1000
    atomic_write(target, old)

    child, ready = start_child(writers.slow_atomic_write, str(target), 32 << 20)
    wait_until_ready(child, ready)
    time.sleep(0.2)
    kill_child(child)

    assert target.read_text() == old
    leftovers = [p.name for p in tmp_path.iterdir() if p.name.endswith(".tmp")]
    assert all(name.startswith(".custom.yaml.") for name in leftovers), leftovers
    # The dead writer's flock died with it: the next write goes through.
    atomic_write(target, "example.com:\n  TXT: new\n")
    assert target.read_text() == "example.com:\n  TXT: new\n"
