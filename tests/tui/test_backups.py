"""Backups screen flows: a real local backup with duplicity started from the screen (its
progress followed, then the chain with one full backup), verify finding a change, a mailbox
restored into a new folder; the settings form refusing beside the field and saving nothing;
the in-place restore behind its strong confirmation.

The duplicity tests skip with a reason where duplicity is not installed (they fail in CI,
as tests/integration/conftest.py's `require_program` does).
"""

from __future__ import annotations

import asyncio
import datetime
from collections.abc import Iterator
from pathlib import Path

import pytest
from textual.pilot import Pilot
from textual.screen import Screen
from textual.widgets import Button, Input, Log, ProgressBar, Select

from core import Box
from core.backup import BackupEntry, BackupStatus
from core.backup.settings import MIN_AGE_MESSAGE
from core.errors import ValidationError
from core.jobs.kinds import BACKUP_RESTORE
from miab_tui.app import MiabApp
from miab_tui.modals.backup_config import BackupConfigForm
from miab_tui.modals.backup_outcome import BackupOutcomeDialog
from miab_tui.modals.backup_restore import BackupRestoreForm, InPlaceConfirmDialog
from miab_tui.modals.confirm import ConfirmDialog
from miab_tui.modals.job_follow import JobFollowDialog
from miab_tui.screens.backups import BackupsScreen, made_text
from miab_tui.widgets.level_table import LevelRow
from tests.conftest import TEST_ACTOR
from tests.integration.backup_helpers import done, make_live_box
from tests.integration.conftest import require_program
from tests.tui.conftest import SIZE, record_pushed, settle
from tests.tui.helpers import fill, save

JOB_SECONDS = 120.0


# --- boxes -----------------------------------------------------------------------------------


@pytest.fixture
def live_box(tmp_path: Path, key_material: Path) -> Iterator[Box]:
    """A demo box on the real clock (duplicity stamps backups with it) with mail in alice's
    and bob's mailboxes; the test skips without duplicity (fails in CI)."""
    require_program("duplicity", "duplicity")
    box = make_live_box(tmp_path / "box", key_material)
    yield box
    box.close()


@pytest.fixture
def live_app(live_box: Box) -> MiabApp:
    return MiabApp(live_box, cursor_blink=False, area="backups")


@pytest.fixture
def app(demo_box: Box) -> MiabApp:
    return MiabApp(demo_box, cursor_blink=False, area="backups")


def fixed_status() -> BackupStatus:
    """Two backups (a full one and an increment on it), as core's status would list them."""

    def entry(stamp: str, full: bool, size: int) -> BackupEntry:
        when = datetime.datetime.strptime(stamp, "%Y%m%dT%H%M%SZ").replace(tzinfo=datetime.UTC)
        return BackupEntry(
            date=when.strftime("%Y-%m-%dT%H:%M:%SZ"),
            duplicity_time=stamp,
            when=when,
            date_str=when.strftime("%Y-%m-%d %H:%M:%S UTC"),
            date_delta="1 day, 2 hours",
            full=full,
            size=size,
            volumes=1,
            deleted_in=None,
        )

    return BackupStatus(
        True,
        (entry("20261123T100000Z", False, 2_000), entry("20261122T100000Z", True, 90_000)),
    )


# --- helpers ---------------------------------------------------------------------------------


def screen(pilot: Pilot) -> BackupsScreen:
    assert isinstance(pilot.app.screen, BackupsScreen)
    return pilot.app.screen


def rows(pilot: Pilot) -> list[LevelRow]:
    found = []
    for row in screen(pilot).table.ordered_rows:
        assert isinstance(row, LevelRow)
        found.append(row)
    return found


async def wait_for(
    pilot: Pilot,
    kind: type[Screen[object]],
    seconds: float = JOB_SECONDS,
    pushed: list[object] | None = None,
) -> None:
    """Let the job (a process of its own) run until a screen of `kind` shows (or, given the
    screens `pushed`, has been pushed: a quick job's dialog may be gone already)."""
    for _ in range(int(seconds * 10)):
        if isinstance(pilot.app.screen, kind):
            return
        if pushed is not None and any(isinstance(screen, kind) for screen in pushed):
            return
        await asyncio.sleep(0.1)
        await pilot.pause()
    raise AssertionError(f"no {kind.__name__} after {seconds} s: {pilot.app.screen!r}")


def outcome(pilot: Pilot) -> BackupOutcomeDialog:
    dialog = pilot.app.screen
    assert isinstance(dialog, BackupOutcomeDialog)
    return dialog


def record_finished_jobs(monkeypatch: pytest.MonkeyPatch) -> list[tuple[list[str], float]]:
    """The log lines and the progress each job dialog showed when its job ended."""
    seen: list[tuple[list[str], float]] = []
    original = JobFollowDialog.on_job_panel_finished

    def recording(self: JobFollowDialog, message: object) -> None:
        lines = [str(line) for line in self.query_one("#job-log", Log).lines]
        seen.append((lines, self.query_one("#job-progress", ProgressBar).percentage or 0.0))
        original(self, message)  # type: ignore[arg-type]

    monkeypatch.setattr(JobFollowDialog, "on_job_panel_finished", recording)
    return seen


# --- back up, verify, restore with duplicity ---------------------------------------------------


async def test_back_up_now_shows_progress_then_the_chain(
    live_app: MiabApp, monkeypatch: pytest.MonkeyPatch
) -> None:
    seen = record_finished_jobs(monkeypatch)
    pushed = record_pushed(live_app, monkeypatch)
    async with live_app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        assert rows(pilot) == []
        assert screen(pilot).table.empty_text == "No backups yet: b makes the first one."
        await pilot.press("b")
        await pilot.pause()
        question = pilot.app.screen
        assert isinstance(question, ConfirmDialog)
        body = str(question.query_one(".dialog-body").render())
        assert "This is a local box: no service is stopped." in body
        await pilot.press("y")
        await wait_for(pilot, JobFollowDialog, 10, pushed)
        await wait_for(pilot, BackupOutcomeDialog)
        dialog = outcome(pilot)
        assert str(dialog.query_one(".tls-dialog-title").render()) == "Full backup made"
        assert "full backup made to file://" in dialog.text
        assert "SourceFiles" in dialog.text
        await pilot.press("escape")
        await settle(pilot)
        shown = rows(pilot)
        assert [row.cells[1] for row in shown] == ["full"]
        backups = live_app.box.backup.status().backups
        assert [b.full for b in backups] == [True]
        assert shown[0].key == backups[0].duplicity_time
        assert shown[0].cells[0] == made_text(backups[0])
        details = screen(pilot).details_view.text
        assert "starts a chain; no increment builds on it yet" in details
        assert "1 backup (1 full)" in screen(pilot).browser.summary
    # The job dialog showed duplicity's progress, to the end.
    [(lines, progress)] = seen
    assert "this is a local box: no service is stopped for the backup" in lines
    assert any(line.startswith("full backup of ") for line in lines)
    assert progress == 1.0


async def test_verify_shows_what_differs(live_box: Box, live_app: MiabApp) -> None:
    done(live_box, live_box.backup.start_backup(actor=TEST_ACTOR))
    cur = live_box.config.mailboxes_dir / "example.com" / "alice" / "cur"
    changed = sorted(cur.iterdir())[0]
    changed.write_bytes(b"changed after the backup\n")
    async with live_app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        assert len(rows(pilot)) == 1
        await pilot.press("v")
        await wait_for(pilot, BackupOutcomeDialog)
        dialog = outcome(pilot)
        title = str(dialog.query_one(".tls-dialog-title").render())
        assert title.endswith("between the backup and the live files"), title
        assert changed.name in dialog.text


async def test_restore_a_mailbox_into_a_new_folder(
    live_box: Box, live_app: MiabApp, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    pushed = record_pushed(live_app, monkeypatch)
    done(live_box, live_box.backup.start_backup(actor=TEST_ACTOR))
    alice = live_box.config.mailboxes_dir / "example.com" / "alice"
    expected = {p.name: p.read_bytes() for p in (alice / "cur").iterdir()}
    assert expected
    # Mail deleted after the backup is what a restore brings back.
    for message in (alice / "cur").iterdir():
        message.unlink()
    restored = tmp_path / "restored-alice"
    async with live_app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("r")
        await pilot.pause()
        assert isinstance(pilot.app.screen, BackupRestoreForm)
        await fill(pilot, "email", "alice@example.com")
        await fill(pilot, "to", str(restored))
        await pilot.press("ctrl+s")
        await wait_for(pilot, JobFollowDialog, 10, pushed)
        await wait_for(pilot, BackupOutcomeDialog)
        dialog = outcome(pilot)
        title = str(dialog.query_one(".tls-dialog-title").render())
        assert title == "Restored mail/mailboxes/example.com/alice"
        assert str(restored) in dialog.text
    assert {p.name: p.read_bytes() for p in (restored / "cur").iterdir()} == expected
    assert list((alice / "cur").iterdir()) == []  # the live mailbox is untouched


async def test_restore_refusal_shows_beside_the_folder(live_box: Box, live_app: MiabApp) -> None:
    done(live_box, live_box.backup.start_backup(actor=TEST_ACTOR))
    inside = live_box.config.storage_root / "restored"
    async with live_app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("r")
        await pilot.pause()
        await fill(pilot, "email", "alice@example.com")
        await fill(pilot, "to", str(inside))
        await save(pilot)
        form = pilot.app.screen
        assert isinstance(form, BackupRestoreForm)
        error = form.query_one("#field-to").error  # type: ignore[attr-defined]
        assert error.startswith("The folder to restore into must be outside STORAGE_ROOT")
    assert not inside.exists()
    assert not [job for job in live_box.jobs.recent() if job.kind == BACKUP_RESTORE]


# --- the settings form -----------------------------------------------------------------------


async def open_settings(pilot: Pilot) -> BackupConfigForm:
    await settle(pilot)
    await pilot.press("c")
    await pilot.pause()
    form = pilot.app.screen
    assert isinstance(form, BackupConfigForm)
    return form


def stored(box: Box) -> tuple[str, int, bool]:
    config = box.backup.get_config()
    return config.target, config.min_age_in_days, (box.backup.backup_dir / "custom.yaml").exists()


async def test_settings_refuse_min_age_zero_beside_the_field(app: MiabApp) -> None:
    before = stored(app.box)
    async with app.run_test(size=SIZE) as pilot:
        form = await open_settings(pilot)
        assert form.query_one("#kind", Select).value == "local"
        await fill(pilot, "min_age", "0")
        await save(pilot)
        assert pilot.app.screen is form
        field = form.query_one("#field-min-age")
        assert field.error == MIN_AGE_MESSAGE  # type: ignore[attr-defined]
        assert field.has_class("-invalid")
        assert not form.query_one("#form-save", Button).disabled
    assert stored(app.box) == before


async def test_settings_refuse_a_missing_folder(app: MiabApp, tmp_path: Path) -> None:
    missing = tmp_path / "no-such-disk" / "backups"
    with pytest.raises(ValidationError) as refused:
        app.box.backup.test_target(f"file://{missing}")
    before = stored(app.box)
    async with app.run_test(size=SIZE) as pilot:
        form = await open_settings(pilot)
        form.query_one("#kind", Select).value = "file"
        await pilot.pause()
        assert form.query_one("#field-target").display
        assert not form.query_one("#field-rsync-path").display
        await fill(pilot, "target", str(missing))
        # Test lists it without saving: refused beside the field.
        await pilot.press("ctrl+t")
        await settle(pilot)
        assert form.query_one("#field-target").error == refused.value.message  # type: ignore[attr-defined]
        # Save refuses it the same way, and saves nothing.
        await save(pilot)
        assert pilot.app.screen is form
        assert form.query_one("#field-target").error == refused.value.message  # type: ignore[attr-defined]
    assert stored(app.box) == before


async def test_settings_test_then_save_a_folder(app: MiabApp, tmp_path: Path) -> None:
    folder = tmp_path / "backup-disk"
    folder.mkdir()
    async with app.run_test(size=SIZE) as pilot:
        form = await open_settings(pilot)
        form.query_one("#kind", Select).value = "file"
        await pilot.pause()
        await fill(pilot, "target", str(folder))
        await fill(pilot, "min_age", "7")
        await pilot.press("ctrl+t")
        await settle(pilot)
        result = str(form.query_one("#backup-test-result").render())
        assert (
            result == f"✓ Listed file://{folder}: nothing there yet, ready for a first full backup."
        )
        assert stored(app.box)[0] == "local"  # a test saves nothing
        await save(pilot)
        assert isinstance(pilot.app.screen, BackupsScreen)
        await settle(pilot)
        assert f"the folder {folder}" in screen(pilot).details_view.text
    config = app.box.backup.get_config()
    assert (config.target, config.min_age_in_days) == (f"file://{folder}", 7)


async def test_settings_show_the_ssh_key_for_rsync(app: MiabApp) -> None:
    async with app.run_test(size=SIZE) as pilot:
        form = await open_settings(pilot)
        assert not form.query_one("#backup-ssh").display
        form.query_one("#kind", Select).value = "rsync"
        await settle(pilot)
        assert form.query_one("#backup-ssh").display
        assert form.query_one("#field-rsync-path").display
        key = str(form.query_one("#backup-ssh-key").render())
        public = app.box.backup.get_config().ssh_pub_key
        assert public is not None and key.replace("\n", "") == public.strip()
        await pilot.press("ctrl+y")
        await pilot.pause()
        assert pilot.app.clipboard == public.strip() + "\n"


# --- the in-place restore's confirmation --------------------------------------------------------


async def test_in_place_restore_asks_for_the_box_name(
    app: MiabApp, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(app.box.backup, "status", fixed_status)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        assert [row.cells[1] for row in rows(pilot)] == ["increment", "full"]
        await pilot.press("r")
        await pilot.pause()
        form = pilot.app.screen
        assert isinstance(form, BackupRestoreForm)
        form.query_one("#what", Select).value = "in_place"
        await pilot.pause()
        assert not form.query_one("#field-to").display
        await pilot.press("ctrl+s")
        await pilot.pause()
        confirm = pilot.app.screen
        assert isinstance(confirm, InPlaceConfirmDialog)
        text = str(confirm.query_one(".dialog-body").render())
        assert "This is a local box: no service is stopped." in text
        assert "backup/before-restore-TIME/" in text
        yes = confirm.query_one("#in-place-yes", Button)
        assert yes.disabled
        await pilot.press("y")  # no single key answers yes
        await pilot.pause()
        assert pilot.app.screen is confirm
        confirm.query_one("#confirm-name", Input).value = "box.example.co"
        await pilot.pause()
        assert yes.disabled
        confirm.query_one("#confirm-name", Input).value = "box.example.com"
        await pilot.pause()
        assert not yes.disabled
        await pilot.press("escape")
        await pilot.pause()
        assert pilot.app.screen is form
    assert not [job for job in app.box.jobs.recent() if job.kind == BACKUP_RESTORE]
