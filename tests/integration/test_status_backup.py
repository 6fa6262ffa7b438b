"""The backup status check (HEAD's, SYSTEM.md §5.1) reading the box's real backups: duplicity
backs the box up to its local target, and the check reads `box.backup.status()`."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from core import init_box, open_box
from core.system import StatusReport
from tests.conftest import TEST_ACTOR
from tests.integration.conftest import require_program

pytestmark = pytest.mark.integration

WEEK = 7 * 86400


def found(report: StatusReport) -> list[tuple[str, str]]:
    return [(i.status.value, i.message) for i in report.items()]


def test_the_backup_check_reads_the_backups_made(tmp_path: Path) -> None:
    require_program("duplicity", "duplicity")
    box = init_box(tmp_path / "box")  # the real clock: duplicity dates backups with it
    plan = box.status.plan(checks=["system/backup"])
    before = found(box.status.run(plan))
    assert before[0] == ("ok", "Backups are enabled")
    assert before[1][1].startswith("Could not obtain backup status or no backup has been made")
    box.backup.back_up(actor=TEST_ACTOR)
    assert found(box.status.run(box.status.plan(checks=["system/backup"]))) == [
        ("ok", "Backups are enabled")
    ]
    box.close()
    # Eight days on, the same backup is too old.
    later = open_box(tmp_path / "box", clock=lambda: time.time() + WEEK + 86400)
    try:
        assert found(later.status.run(later.status.plan(checks=["system/backup"]))) == [
            ("ok", "Backups are enabled"),
            ("error", "Backup is more than a week old"),
        ]
    finally:
        later.close()
