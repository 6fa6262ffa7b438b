"""Box creation, opening, atomic files, the write path and the audit log."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from core import Box, init_box, open_box
from core.errors import ConfigError, ValidationError
from core.mail.schema import FRESH_MIGRATION
from core.storage.files import atomic_write
from tests.conftest import TEST_ACTOR


def test_init_makes_a_complete_box(tmp_path: Path) -> None:
    box = init_box(tmp_path / "b", primary_hostname="mail.example.net")
    root = tmp_path / "b"
    conf = (root / "mailinabox.conf").read_text()
    for key in (
        "STORAGE_USER=",
        "STORAGE_ROOT=",
        "PRIMARY_HOSTNAME=mail.example.net",
        "PUBLIC_IP=",
        "PUBLIC_IPV6=",
        "PRIVATE_IP=",
        "PRIVATE_IPV6=",
        "MTA_STS_MODE=",
    ):
        assert key in conf
    assert (root / "user-data/mailinabox.version").read_text().strip() == str(FRESH_MIGRATION)
    assert box.schema.has_quota and box.schema.has_auto_aliases and box.schema.has_mfa
    key_mode = stat.S_IMODE(os.stat(root / "var/lib/mailinabox/api.key").st_mode)
    assert key_mode == 0o640
    assert box.db.query("PRAGMA journal_mode") == [("delete",)]  # tests/core/test_database.py
    assert box.config.is_local and box.config.api_key_path.is_relative_to(root)
    with pytest.raises(ConfigError) as exc:
        init_box(root)
    assert "already" in exc.value.message


def test_open_box_by_folder_and_conf(tmp_path: Path) -> None:
    init_box(tmp_path / "b")
    assert open_box(tmp_path / "b").hostname == "box.example.com"
    assert open_box(tmp_path / "b" / "mailinabox.conf").hostname == "box.example.com"
    with pytest.raises(ConfigError) as exc:
        open_box(tmp_path / "nothing")
    assert "miab init" in exc.value.message


def test_atomic_write_modes_and_replace(tmp_path: Path) -> None:
    target = tmp_path / "d" / "secret"
    atomic_write(target, "one", mode=0o600)
    assert stat.S_IMODE(target.stat().st_mode) == 0o600
    atomic_write(target, b"two", mode=0o600)
    assert target.read_bytes() == b"two"
    assert [p.name for p in target.parent.iterdir()] == ["secret"]  # no lock, no temp file


def test_failed_transaction_rolls_back(box: Box) -> None:
    box.mail.users.add_user("a@example.com", "secret-password", actor=TEST_ACTOR)
    with pytest.raises(RuntimeError), box.db.write() as conn:
        conn.execute("DELETE FROM users")
        raise RuntimeError("midway")
    assert list(box.mail.users.emails()) == ["a@example.com"]


def test_audit_records_changes_and_refusals(box: Box) -> None:
    from core.audit import Actor

    box.mail.users.add_user("a@example.com", "secret-password", actor=Actor("me", "tui"))
    with pytest.raises(ValidationError):
        box.mail.users.add_user("b@example.com", "short", actor=Actor("me", "api"))
    refused, ok = box.audit.recent(2)
    assert (ok.actor, ok.face, ok.operation, ok.target, ok.outcome) == (
        "me",
        "tui",
        "add user",
        "a@example.com",
        "ok",
    )
    assert (refused.face, refused.outcome) == (
        "api",
        "refused: Passwords must be at least eight characters.",
    )
    assert ok.time == box.clock()


def test_cached_listings_see_writes_from_other_connections(box: Box) -> None:
    box.mail.users.add_user("a@example.com", "secret-password", actor=TEST_ACTOR)
    assert len(box.mail.users.list_users()[0].users) == 1
    other = open_box(box.config.system_root)  # a second connection, as another process has
    other.mail.users.add_user("b@example.com", "secret-password", actor=TEST_ACTOR)
    other.mail.aliases.add_alias("x@example.com", "b@example.com", actor=TEST_ACTOR)
    assert [u.email for u in box.mail.users.list_users()[0].users] == [
        "a@example.com",
        "b@example.com",
    ]
    assert "x@example.com" in {
        a.address for g in box.mail.aliases.list_aliases() for a in g.aliases
    }
    # A mailbox folder appearing (dovecot's first delivery) shows without a database change.
    (box.config.mailboxes_dir / "example.com" / "old").mkdir(parents=True)
    assert "old@example.com" in {u.email for u in box.mail.users.list_users()[0].users}
