"""Mailbox sizes (dovecot's maildirsize, else the folder's size, cached) and purging an
archived mailbox: only that folder, never through a link, never a user's, audited."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from core import Box
from core.errors import NotFound, ValidationError
from core.mail.users import folder_size
from tests.conftest import TEST_ACTOR


def add(box: Box, email: str) -> None:
    box.mail.users.add_user(email, "secret-password", actor=TEST_ACTOR)


def mailbox(box: Box, email: str) -> Path:
    local, _, domain = email.partition("@")
    path = box.config.mailboxes_dir / domain / local
    for sub in ("cur", "new", "tmp", ".Sent/cur", ".Sent/new"):
        (path / sub).mkdir(parents=True, exist_ok=True)
    return path


def test_folder_size_counts_regular_files_and_follows_no_link(tmp_path: Path) -> None:
    box_dir = tmp_path / "a"
    (box_dir / "cur").mkdir(parents=True)
    (box_dir / "cur" / "1").write_bytes(b"x" * 100)
    (box_dir / ".Sent" / "cur").mkdir(parents=True)
    (box_dir / ".Sent" / "cur" / "2").write_bytes(b"y" * 20)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (elsewhere / "big").write_bytes(b"z" * 5000)
    (box_dir / "link").symlink_to(elsewhere)
    (box_dir / "cur" / "filelink").symlink_to(elsewhere / "big")
    assert folder_size(box_dir) == 120
    assert folder_size(tmp_path / "missing") is None
    assert folder_size(box_dir / "link") is None  # a link is not a mailbox folder


def test_mailbox_sizes_prefer_maildirsize_else_the_folder(box: Box) -> None:
    add(box, "a@example.com")
    add(box, "b@example.com")
    add(box, "c@example.com")
    a = mailbox(box, "a@example.com")
    (a / "maildirsize").write_text("0S\n1000 2\n24 1\n")
    b = mailbox(box, "b@example.com")
    (b / "cur" / "1").write_bytes(b"x" * 300)
    (b / ".Sent" / "cur" / "2").write_bytes(b"x" * 45)
    sizes = box.mail.users.mailbox_sizes(
        ["a@example.com", "b@example.com", "c@example.com", "../x@example.com"]
    )
    assert sizes == {
        "a@example.com": 1024,
        "b@example.com": 345,
        "c@example.com": None,  # no mailbox folder yet: no mail delivered
        "../x@example.com": None,
    }
    # The reference's figure (the listing's box_size) stays maildirsize's alone.
    users = {u.email: u.box_size for g in box.mail.users.list_users() for u in g.users}
    assert users["a@example.com"] == 1024 and users["b@example.com"] is None


def test_folder_sizes_are_reused_until_a_folder_changes(
    box: Box, monkeypatch: pytest.MonkeyPatch
) -> None:
    add(box, "b@example.com")
    b = mailbox(box, "b@example.com")
    (b / "cur" / "1").write_bytes(b"x" * 300)
    users = box.mail.users
    assert users.mailbox_sizes(["b@example.com"]) == {"b@example.com": 300}
    walks: list[str] = []
    import core.mail.users as module

    real = module.folder_size
    monkeypatch.setattr(module, "folder_size", lambda p: walks.append(str(p)) or real(p))
    assert users.mailbox_sizes(["b@example.com"]) == {"b@example.com": 300}
    assert walks == []  # cached
    # A message delivered to new/: the folder's time changes, the size is walked again.
    (b / "new" / "2").write_bytes(b"x" * 50)
    stamp = (b / "new").stat().st_mtime_ns + 1_000_000
    os.utime(b / "new", ns=(stamp, stamp))
    assert users.mailbox_sizes(["b@example.com"]) == {"b@example.com": 350}
    assert walks == [str(b)]


def test_purge_archived_mailbox(box: Box) -> None:
    add(box, "a@example.com")
    path = mailbox(box, "a@example.com")
    (path / "cur" / "1").write_bytes(b"x" * 10)
    box.mail.users.remove_user("a@example.com", actor=TEST_ACTOR)
    change = box.mail.users.purge_archived_mailbox("a@EXAMPLE.com", actor=TEST_ACTOR)
    assert change.lines == ("archived mailbox purged: a@example.com",)
    assert not path.exists() and path.parent.is_dir()
    assert list(path.parent.iterdir()) == []  # nothing left under another name either
    assert [u.email for g in box.mail.users.list_users() for u in g.users] == []
    record = box.audit.recent(1)[0]
    assert (record.operation, record.target, record.outcome) == (
        "purge mailbox",
        "a@example.com",
        "ok",
    )
    with pytest.raises(NotFound) as exc:
        box.mail.users.purge_archived_mailbox("a@example.com", actor=TEST_ACTOR)
    assert exc.value.message == "There is no archived mailbox of a@example.com."


def test_purge_refuses_a_users_mailbox(box: Box) -> None:
    add(box, "a@example.com")
    path = mailbox(box, "a@example.com")
    with pytest.raises(ValidationError) as exc:
        box.mail.users.purge_archived_mailbox("a@example.com", actor=TEST_ACTOR)
    assert exc.value.message == (
        "a@example.com is a mail user: only the mailbox of a removed user can be purged. "
        "Remove the user first."
    )
    assert path.is_dir()
    assert box.audit.recent(1)[0].outcome.startswith("refused: a@example.com is a mail user")


def test_purge_follows_no_link(box: Box, tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    (outside / "victim" / "cur").mkdir(parents=True)
    (outside / "victim" / "cur" / "keep").write_text("keep")
    root = box.config.mailboxes_dir
    root.mkdir(parents=True, exist_ok=True)
    # The domain folder a link elsewhere:
    (root / "evil.example").symlink_to(outside)
    with pytest.raises(ValidationError):
        box.mail.users.purge_archived_mailbox("victim@evil.example", actor=TEST_ACTOR)
    # The mailbox itself a link elsewhere:
    (root / "example.com").mkdir()
    (root / "example.com" / "victim").symlink_to(outside / "victim")
    with pytest.raises(ValidationError):
        box.mail.users.purge_archived_mailbox("victim@example.com", actor=TEST_ACTOR)
    # A link inside the mailbox is removed, not what it points at.
    inside = mailbox(box, "z@example.com")
    (inside / "cur" / "link").symlink_to(outside / "victim")
    box.mail.users.purge_archived_mailbox("z@example.com", actor=TEST_ACTOR)
    assert not inside.exists()
    assert (outside / "victim" / "cur" / "keep").read_text() == "keep"
    for bad in ("../x@example.com", "x@..", "@example.com"):
        with pytest.raises((ValidationError, NotFound)):
            box.mail.users.purge_archived_mailbox(bad, actor=TEST_ACTOR)
    assert (outside / "victim" / "cur" / "keep").exists()


def test_the_delete_runs_after_the_write_lock_is_released(
    box: Box, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A big mailbox takes long to delete: meanwhile other writes to users.sqlite go on.
    import shutil

    from core import open_box

    add(box, "a@example.com")
    mailbox(box, "a@example.com")
    box.mail.users.remove_user("a@example.com", actor=TEST_ACTOR)
    other = open_box(box.config.conf_path)
    rmtree = shutil.rmtree

    def slow_rmtree(*args: object, **kwargs: object) -> None:
        # Another process's write while the folder is deleted: not blocked by a lock.
        other.mail.users.add_user("b@example.com", "secret-password", actor=TEST_ACTOR)
        rmtree(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(shutil, "rmtree", slow_rmtree)
    try:
        box.mail.users.purge_archived_mailbox("a@example.com", actor=TEST_ACTOR)
    finally:
        other.close()
    assert box.mail.users.emails() == ("b@example.com",)
