"""The upkeep after a backup with the real duplicity: `remove-older-than` and `cleanup` run
when they have something to do (an old chain, a stray file), and are skipped when they have
not, with the status duplicity would give kept ready (checked against duplicity itself)."""

from __future__ import annotations

import subprocess
import time
from pathlib import Path

import pytest

from core import Box
from core.backup import BackupOutcome
from core.backup.settings import ensure_passphrase, read_passphrase
from tests.conftest import TEST_ACTOR
from tests.integration.backup_helpers import done, next_second

pytestmark = pytest.mark.integration

DAY = 86400
SKIPPED_PRUNE = "duplicity remove-older-than not run"
SKIPPED_CLEANUP = "duplicity cleanup not run"


def target(box: Box) -> Path:
    return box.config.storage_root / "backup" / "encrypted"


def backup(box: Box) -> tuple[BackupOutcome, list[str]]:
    job = done(box, box.backup.start_backup(actor=TEST_ACTOR))
    return BackupOutcome.from_json(job.result), [line.text for line in box.jobs.lines(job.id)]


def full_backup_made_days_ago(box: Box, days: float) -> None:
    """A full backup as duplicity would have made it `days` ago, with the box's key, archive
    and target (duplicity's own `--current-time`)."""
    key = box.config.storage_root / "backup" / "secret_key.txt"
    ensure_passphrase(key)
    target(box).mkdir(parents=True, exist_ok=True)
    subprocess.run(
        [
            "duplicity",
            "full",
            "--current-time",
            str(int(time.time() - days * DAY)),
            "--archive-dir",
            str(box.backup.cache_dir),
            "--exclude",
            str(box.config.storage_root / "backup"),
            str(box.config.storage_root),
            f"file://{target(box)}",
        ],
        env={"PASSPHRASE": read_passphrase(key), "PATH": "/usr/bin:/bin"},
        check=True,
        capture_output=True,
    )


def test_nightly_backups_skip_the_upkeep_and_keep_the_status_duplicity_gives(
    live_box: Box,
) -> None:
    box = live_box
    first, lines = backup(box)
    assert first.full
    assert any(line.startswith(SKIPPED_PRUNE) for line in lines)
    assert any(line.startswith(SKIPPED_CLEANUP) for line in lines)
    next_second()
    (box.config.storage_root / "settings.yaml").write_text("privacy: false\n")
    # A killed duplicity leaves a temporary folder in the archive; cleanup never removes it.
    (archive,) = box.backup.cache_dir.iterdir()
    (archive / "duplicity-k1ll3d-tempdir").mkdir()
    next_second()  # duplicity names backups and tells changes by the second
    second, lines = backup(box)
    assert second.full is False
    assert any(line.startswith(SKIPPED_PRUNE) for line in lines)
    assert any(line.startswith(SKIPPED_CLEANUP) for line in lines)

    kept = box.backup.status()
    cache = box.config.state_db.parent / "backup" / "status.json"
    cache.unlink()  # now duplicity is asked
    asked = box.backup.status()
    assert kept.error is None and asked.error is None
    assert [(b.duplicity_time, b.full, b.volumes, b.size) for b in kept.backups] == [
        (b.duplicity_time, b.full, b.volumes, b.size) for b in asked.backups
    ]
    assert [b.full for b in asked.backups] == [False, True]


def test_an_old_chain_is_removed_and_a_stray_file_cleaned_up(live_box: Box) -> None:
    box = live_box
    full_backup_made_days_ago(box, 10)
    full_backup_made_days_ago(box, 9)
    names = sorted(p.name for p in target(box).iterdir())
    old, newer = sorted({n.split(".")[1] for n in names if n.startswith("duplicity-full.")})
    # A volume without a manifest, as an interrupted run leaves one.
    stray = target(box) / f"duplicity-inc.{newer}.to.20261201T000000Z.vol1.difftar.gpg"
    stray.write_bytes(b"part of a backup that never finished")

    outcome, lines = backup(box)  # the box's min_age is 3 days: the 10-day-old chain goes
    assert outcome.full is False
    assert "duplicity remove-older-than done" in lines
    assert "duplicity cleanup done" in lines
    left = sorted(p.name for p in target(box).iterdir())
    assert not [n for n in left if old in n]
    assert any(n.startswith(f"duplicity-full.{newer}.") for n in left)
    assert not stray.exists()
    status = box.backup.status()
    assert [b.full for b in status.backups] == [False, True]
    assert status.unmatched_file_size == 0
