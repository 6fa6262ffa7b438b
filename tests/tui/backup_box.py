"""A fixed backup chain and fixed job outcomes for the Backups pictures: the same on every run
(the demo box's clock is fixed at 2026-11-24 12:00 UTC; these are as core's status would list
two chains there with `min_age` 3)."""

from __future__ import annotations

import datetime
from pathlib import Path
from typing import Final

import pytest

from core import Box
from core.backup import BackupEntry, BackupOutcome, BackupStatus, VerifyOutcome
from core.jobs import Job, JobState
from core.jobs.kinds import BACKUP, BACKUP_VERIFY
from miab_tui.screens.base import TUI_ACTOR

LOG: Final = "/var/lib/mailinabox/backup/logs/backup-20261124T030012Z-4242.log"
NEXT_DAILY: Final = "on next daily backup"


def entry(stamp: str, full: bool, size: int, delta: str, deleted: str | None) -> BackupEntry:
    when = datetime.datetime.strptime(stamp, "%Y%m%dT%H%M%SZ").replace(tzinfo=datetime.UTC)
    return BackupEntry(
        date=when.strftime("%Y-%m-%dT%H:%M:%SZ"),
        duplicity_time=stamp,
        when=when,
        date_str=when.strftime("%Y-%m-%d %H:%M:%S UTC"),
        date_delta=delta,
        full=full,
        size=size,
        volumes=max(1, -(-size // (250 * 1024 * 1024))),
        deleted_in=deleted,
    )


CHAIN: Final = BackupStatus(
    True,
    (
        entry("20261124T030012Z", False, 1_363_148, "8 hours, 59 minutes", "approx. 12 days"),
        entry("20261123T030010Z", False, 2_202_009, "1 day, 8 hours", "approx. 12 days"),
        entry("20261122T030008Z", True, 432_640_819, "2 days, 8 hours", None),
        entry("20261121T030011Z", False, 1_887_436, "3 days, 8 hours", NEXT_DAILY),
        entry("20261120T030009Z", False, 1_153_433, "4 days, 8 hours", NEXT_DAILY),
        entry("20261115T030005Z", True, 417_540_096, "9 days, 8 hours", NEXT_DAILY),
    ),
    unmatched_file_size=48_211,
)

BACKUP_DONE: Final = BackupOutcome(
    True,
    False,
    (
        "incremental backup made to file:///home/user-data/backup/encrypted: 20412 files "
        "(1.2G), 38 new, 12 changed, 3 deleted; 1.3M written in 41.7 s",
    ),
    LOG,
    (
        ("ChangedFiles", "12"),
        ("DeletedFiles", "3"),
        ("ElapsedTime", "41.72"),
        ("Errors", "0"),
        ("NewFiles", "38"),
        ("SourceFileSize", "1288490188"),
        ("SourceFiles", "20412"),
        ("TotalDestinationSizeChange", "1363148"),
    ),
)

VERIFY_DONE: Final = VerifyOutcome(
    "20261124T030012Z",
    20412,
    3,
    (
        "File mail/mailboxes/example.com/alice/cur/1795480000.M1P9.box:2,S has mtime "
        "Tue Nov 24 09:12:40 2026, expected Tue Nov 24 02:58:11 2026",
        "File mail/mailboxes/example.com/bob/cur/1795479000.M2P9.box:2,S is missing",
        "New file mail/mailboxes/example.com/alice/new/1795500000.M3P9.box",
    ),
    "/var/lib/mailinabox/backup/logs/backup-verify-20261124T100400Z-4243.log",
)


def finished(kind: str, result: str) -> Job:
    return Job(1, kind, JobState.DONE, TUI_ACTOR, {}, None, 0.0, 0.0, 1.0, 1.0, result, 0)


def backup_job() -> Job:
    return finished(BACKUP, BACKUP_DONE.to_json())


def verify_job() -> Job:
    return finished(BACKUP_VERIFY, VERIFY_DONE.to_json())


def fixed_chain(box: Box, monkeypatch: pytest.MonkeyPatch) -> None:
    """The box's status is CHAIN and its newest kept log LOG (nothing reads the target)."""
    monkeypatch.setattr(box.backup, "status", lambda: CHAIN)
    monkeypatch.setattr(box.backup, "logs", lambda: (Path(LOG),))
