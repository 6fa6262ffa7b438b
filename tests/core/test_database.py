"""The database files under several processes: journal modes, modes on disk, and forks."""

from __future__ import annotations

import os
import sqlite3
import stat
from pathlib import Path

from core import init_box, open_box
from core.storage.db import Database
from tests.conftest import TEST_ACTOR


def mode_of(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_a_new_box_keeps_secrets_from_other_users(tmp_path: Path) -> None:
    old_umask = os.umask(0)  # the modes must not depend on the caller's umask
    try:
        box = init_box(tmp_path / "b")
    finally:
        os.umask(old_umask)
    # Password hashes and TOTP secrets: owner and group (postfix's, on a real box) only.
    assert mode_of(box.config.users_db) == 0o640
    # Login sessions, throttling and the audit log: ours alone.
    assert mode_of(box.config.state_db) == 0o600


def test_an_existing_box_keeps_its_modes(tmp_path: Path) -> None:
    init_box(tmp_path / "b").close()
    users_db = tmp_path / "b/user-data/mail/users.sqlite"
    users_db.chmod(0o644)  # as the reference's setup leaves it
    box = open_box(tmp_path / "b")
    box.mail.users.add_user("alice@example.com", "a-good-password", actor=TEST_ACTOR)
    assert mode_of(users_db) == 0o644


def test_users_db_keeps_the_rollback_journal_and_state_db_uses_wal(tmp_path: Path) -> None:
    box = init_box(tmp_path / "b")
    box.mail.users.add_user("alice@example.com", "a-good-password", actor=TEST_ACTOR)
    assert box.db.query("PRAGMA journal_mode") == [("delete",)]
    assert box.state_db.query("PRAGMA journal_mode") == [("wal",)]
    # Nothing beside users.sqlite that a read-only reader would need to create or write.
    assert sorted(p.name for p in box.config.users_db.parent.glob("users.sqlite*")) == [
        "users.sqlite"
    ]


def test_a_users_db_left_in_wal_mode_goes_back_to_the_rollback_journal(tmp_path: Path) -> None:
    init_box(tmp_path / "b").close()
    users_db = tmp_path / "b/user-data/mail/users.sqlite"
    conn = sqlite3.connect(users_db)
    assert conn.execute("PRAGMA journal_mode=WAL").fetchone() == ("wal",)
    conn.close()
    box = open_box(tmp_path / "b")
    assert box.db.query("PRAGMA journal_mode") == [("delete",)]
    box.close()
    conn = sqlite3.connect(users_db)
    assert conn.execute("PRAGMA journal_mode").fetchone() == ("delete",)
    conn.close()


def test_a_forked_child_opens_its_own_connections(tmp_path: Path) -> None:
    """A child never uses (or closes) the parent's connection: closing a WAL database's last
    connection in the child would delete the -wal file the parent still writes to."""
    db = Database(tmp_path / "state.sqlite", journal="wal")
    with db.write() as conn:
        conn.execute("CREATE TABLE t (x)")
        conn.execute("INSERT INTO t VALUES (1)")
    parent_conn = db.conn
    wal = tmp_path / "state.sqlite-wal"
    assert wal.exists()
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: report whether it got a connection of its own, then write
        try:
            fresh = db.conn is not parent_conn
            with db.write() as conn:
                conn.execute("INSERT INTO t VALUES (2)")
            db.close()
            os.write(write, b"fresh" if fresh else b"shared")
        finally:
            os._exit(0)
    os.close(write)
    _, status = os.waitpid(pid, 0)
    assert os.read(read, 16) == b"fresh"
    os.close(read)
    assert os.waitstatus_to_exitcode(status) == 0
    assert db.conn is parent_conn
    with db.write() as conn:
        conn.execute("INSERT INTO t VALUES (3)")
    assert wal.exists()
    assert [r[0] for r in db.query("SELECT x FROM t ORDER BY x")] == [1, 2, 3]
    other = sqlite3.connect(tmp_path / "state.sqlite")
    assert [r[0] for r in other.execute("SELECT x FROM t ORDER BY x")] == [1, 2, 3]
    assert other.execute("PRAGMA integrity_check").fetchone() == ("ok",)
    other.close()


def test_the_listing_cache_is_shared_by_threads_and_sees_every_writer(tmp_path: Path) -> None:
    import threading

    db = Database(tmp_path / "t.sqlite")
    with db.write() as conn:
        conn.execute("CREATE TABLE t (x)")
    computed: list[int] = []

    def listing() -> list[int]:
        rows = [r[0] for r in db.query("SELECT x FROM t ORDER BY x")]
        computed.append(len(rows))
        return rows

    def in_thread(fn):  # type: ignore[no-untyped-def]
        out: list[object] = []
        thread = threading.Thread(target=lambda: out.append(fn()))
        thread.start()
        thread.join()
        return out[0]

    threads_seen = [in_thread(lambda: db.cached("t", listing)) for _ in range(4)]
    assert threads_seen == [[], [], [], []]
    first_looks = len(computed)  # a thread's first look cannot know what it missed
    assert db.cached("t", listing) == [] and db.cached("t", listing) == []
    assert len(computed) <= first_looks + 1  # then one value serves every call

    other = sqlite3.connect(tmp_path / "t.sqlite", isolation_level=None)
    other.execute("INSERT INTO t VALUES (1)")  # another process's commit
    other.close()
    assert db.cached("t", listing) == [1]
    assert in_thread(lambda: db.cached("t", listing)) == [1]
    with db.write() as conn:  # a commit through this object, from a worker thread
        conn.execute("INSERT INTO t VALUES (2)")
    assert in_thread(lambda: db.cached("t", listing)) == [1, 2]
    assert db.cached("t", listing) == [1, 2]
