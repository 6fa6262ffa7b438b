"""Backups with the real duplicity (Debian's) to the box's local target: a full backup and an
incremental one as jobs, each restored into a new folder byte for byte, the status of both,
verify finding a change, one mailbox restored, a full restore in place, failed and stalled
runs that do not block the next, one operation at a time, and `miab backup now` from cron."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from core import Box
from core.backup import BackupOutcome, RestoreOutcome, RestoreRequest, VerifyOutcome
from core.backup.restore import CONFIRM_MESSAGE
from core.backup.settings import MIN_AGE_MESSAGE, write_config
from core.errors import ValidationError
from core.jobs import ENDED_MESSAGE, JobState
from core.jobs.kinds import BACKUP
from tests.conftest import TEST_ACTOR
from tests.integration.backup_helpers import done, follow, next_second, snapshot
from tests.integration.conftest import require_program

pytestmark = pytest.mark.integration
ROOT = Path(__file__).resolve().parents[2]


def target_sizes(box: Box) -> dict[str, int]:
    """Bytes per backup date as the files on the target name them (each backup's volumes,
    manifest and signatures), computed here from the folder itself."""
    sizes: dict[str, int] = {}
    folder = box.config.storage_root / "backup" / "encrypted"
    for path in folder.iterdir():
        parts = path.name.split(".")
        date = next((p for p in reversed(parts) if p.endswith("Z") and "T" in p), None)
        if date is not None:
            sizes[date] = sizes.get(date, 0) + path.stat().st_size
    return sizes


def test_backup_change_backup_and_restore_each(live_box: Box, tmp_path: Path) -> None:
    box = live_box
    root = box.config.storage_root
    first_state = snapshot(root)
    job = done(box, box.backup.start_backup(actor=TEST_ACTOR))
    first = BackupOutcome.from_json(job.result)
    assert first.made and first.full
    lines = [line.text for line in box.jobs.lines(job.id)]
    assert "this is a local box: no service is stopped for the backup" in lines
    assert any(line.startswith("volume 1 written") for line in lines)
    assert job.progress == 1.0
    assert Path(first.log).is_file() and "Backup Statistics" in Path(first.log).read_text()
    assert (root / "backup" / "secret_key.txt").stat().st_mode & 0o777 == 0o600

    next_second()
    # Change files: a message edited, one added, one deleted, a setting changed.
    alice = root / "mail" / "mailboxes" / "example.com" / "alice" / "cur"
    edited = sorted(alice.iterdir())[0]
    edited.write_bytes(b"edited after the first backup\n")
    (alice / "1800000000.new:2,S").write_bytes(b"a new message\n")
    sorted((root / "mail" / "mailboxes" / "example.com" / "bob" / "cur").iterdir())[0].unlink()
    (root / "settings.yaml").write_text("privacy: false\n")
    second_state = snapshot(root)
    job = done(box, box.backup.start_backup(actor=TEST_ACTOR))
    second = BackupOutcome.from_json(job.result)
    assert second.made and second.full is False

    status = box.backup.status()
    assert status.error is None
    assert [b.full for b in status.backups] == [False, True]
    sizes = target_sizes(box)
    assert [b.size for b in status.backups] == [sizes[b.duplicity_time] for b in status.backups]
    assert all(b.size > 0 for b in status.backups)
    assert status.unmatched_file_size == sum(sizes.values()) - sum(b.size for b in status.backups)
    assert all(b.date_delta.endswith("minutes") for b in status.backups)
    body = status.as_json()
    assert set(body) == {"backups", "unmatched_file_size"}

    # Each backup restored into a new folder: byte for byte the state at that backup.
    for entry, state in zip(reversed(status.backups), (first_state, second_state), strict=True):
        destination = tmp_path / f"restore-{entry.duplicity_time}"
        request = RestoreRequest(time=entry.date, to=str(destination))
        job = done(box, box.backup.start_restore(request, actor=TEST_ACTOR))
        outcome = RestoreOutcome.from_json(job.result)
        assert outcome.time == entry.duplicity_time and outcome.destination == str(destination)
        assert snapshot(destination) == state

    # One mailbox of the first backup, into an empty folder that exists.
    one = tmp_path / "alice-then"
    one.mkdir()
    request = RestoreRequest(
        time=status.backups[1].duplicity_time,
        path="mail/mailboxes/example.com/alice",
        to=str(one),
    )
    done(box, box.backup.start_restore(request, actor=TEST_ACTOR))
    then = {
        k: v for k, v in first_state.items() if k.startswith("mail/mailboxes/example.com/alice/")
    }
    assert {f"mail/mailboxes/example.com/alice/{k}": v for k, v in snapshot(one).items()} == then

    # Verify: the newest backup matches; after a change it names the file.
    job = done(box, box.backup.start_verify(actor=TEST_ACTOR))
    assert VerifyOutcome.from_json(job.result).compared > 0
    (alice / "1800000000.new:2,S").write_bytes(b"changed after the second backup\n")
    job = done(box, box.backup.start_verify(actor=TEST_ACTOR))
    verified = VerifyOutcome.from_json(job.result)
    assert not verified.identical
    assert any(
        "mail/mailboxes/example.com/alice/cur/1800000000.new:2,S" in d for d in verified.differences
    )

    # The status is kept while the target's listing is the same: duplicity is not asked again.
    cache = box.config.state_db.parent / "backup" / "status.json"
    stamp = cache.stat().st_mtime_ns
    again = box.backup.status()
    assert cache.stat().st_mtime_ns == stamp
    assert [(b.date, b.size) for b in again.backups] == [(b.date, b.size) for b in status.backups]

    audit = [(r.operation, r.outcome) for r in box.audit.recent(20)]
    assert ("back up", "ok") in audit and ("restore backup", "ok") in audit


def test_a_restore_that_could_not_write_is_a_failure(live_box: Box) -> None:
    """duplicity exits 0 when it cannot write what it restores (it warns and skips): the
    restore must say it failed, not that it restored everything."""
    box = live_box
    done(box, box.backup.start_backup(actor=TEST_ACTOR))
    nowhere = Path("/proc/miab-restore-test")  # no one may make a folder there
    job = follow(box, box.backup.start_restore(RestoreRequest(to=str(nowhere)), actor=TEST_ACTOR))
    assert job.state is JobState.FAILED
    assert job.result.startswith(f"The restore into {nowhere} failed for ")
    assert "Error creating directory" in job.result


def test_a_full_restore_in_place(live_box: Box) -> None:
    box = live_box
    root = box.config.storage_root
    before = snapshot(root)
    done(box, box.backup.start_backup(actor=TEST_ACTOR))
    with pytest.raises(ValidationError) as err:
        box.backup.start_restore(RestoreRequest(in_place=True), actor=TEST_ACTOR)
    assert err.value.message == CONFIRM_MESSAGE
    (root / "settings.yaml").write_text("privacy: false\n")
    (root / "www" / "default" / "new.html").write_text("made after the backup")
    secret = (root / "backup" / "secret_key.txt").read_bytes()
    job = done(
        box,
        box.backup.start_restore(RestoreRequest(in_place=True, confirmed=True), actor=TEST_ACTOR),
    )
    outcome = RestoreOutcome.from_json(job.result)
    assert outcome.in_place and outcome.destination == str(root)
    assert snapshot(root) == before
    assert (root / "backup" / "secret_key.txt").read_bytes() == secret  # backup/ untouched
    previous = Path(outcome.previous)
    assert previous.parent == root / "backup"
    assert (previous / "www" / "default" / "new.html").read_text() == "made after the backup"
    lines = [line.text for line in box.jobs.lines(job.id)]
    assert "this is a local box: no service is stopped for the restore" in lines


@pytest.fixture
def silent_server() -> Iterator[int]:
    """A TCP port that accepts connections and never says a word (a stalled target)."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(16)
    held: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        server.settimeout(0.2)
        while not stop.is_set():
            try:
                held.append(server.accept()[0])
            except TimeoutError:
                continue
            except OSError:
                return

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    yield server.getsockname()[1]
    stop.set()
    thread.join()
    for conn in held:
        conn.close()
    server.close()


def _zombie(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().split(") ", 1)[1].startswith("Z")
    except OSError:
        return True


def test_failed_and_stalled_runs_are_reported_and_do_not_block_the_next(
    live_box: Box, silent_server: int
) -> None:
    require_program("rsync", "rsync")
    require_program("ssh", "openssh-client")
    box = live_box
    backup_dir = box.config.storage_root / "backup"
    box.backup.ensure_ssh_key(actor=TEST_ACTOR)
    # A target that never answers (written directly: saving it would test-list it first).
    write_config(
        backup_dir,
        target=f"rsync://nobody@127.0.0.1:{silent_server}//backups",
        target_user="",
        target_pass="",
        min_age=3,
    )
    # A runner killed outright leaves its duplicity behind (its own session): the next
    # operation ends it, so it cannot hold duplicity's lock on the cache.
    pid_file = box.config.state_db.parent / "backup" / "duplicity.pid"
    start = box.jobs.start(BACKUP, actor=TEST_ACTOR, params={"full": True, "stall_timeout": 600})
    for _ in range(300):
        if pid_file.exists() and box.jobs.get(start.job.id).pid:
            break
        time.sleep(0.1)
    orphan = int(pid_file.read_text())
    runner = box.jobs.get(start.job.id).pid
    assert runner is not None
    os.kill(runner, signal.SIGKILL)
    job = follow(box, start, 30)
    assert job.state is JobState.FAILED and job.result == ENDED_MESSAGE
    assert Path(f"/proc/{orphan}").exists()
    # A run that stalls is stopped and reported.
    start = box.jobs.start(BACKUP, actor=TEST_ACTOR, params={"full": True, "stall_timeout": 3})
    job = follow(box, start, 120)
    assert job.state is JobState.FAILED
    assert "duplicity said nothing for too long (stalled)" in job.result
    assert not Path(f"/proc/{orphan}").exists() or _zombie(orphan)
    # A run duplicity refuses: a backup made with another key (and no local cache).
    box.backup.set_config("local", "", "", "3", actor=TEST_ACTOR)
    done(box, box.backup.start_backup(actor=TEST_ACTOR))
    key = backup_dir / "secret_key.txt"
    right_key = key.read_bytes()
    key.write_text("another-key-" * 8 + "\n")
    shutil.rmtree(backup_dir / "cache")
    job = follow(box, box.backup.start_backup(actor=TEST_ACTOR))
    assert job.state is JobState.FAILED
    assert job.result.startswith("The incremental backup failed (exit status 31): GPGError")
    assert "gpg: decryption failed: Bad session key" in job.result
    key.write_bytes(right_key)
    # The next run with a good target is not blocked by either.
    job = done(box, box.backup.start_backup(actor=TEST_ACTOR))
    assert BackupOutcome.from_json(job.result).made


def test_one_backup_operation_at_a_time(live_box: Box) -> None:
    box = live_box
    first = box.backup.start_backup(actor=TEST_ACTOR)
    second = box.backup.start_backup(actor=TEST_ACTOR)
    assert second.already_running and second.job.id == first.job.id
    done(box, first)
    assert box.backup.status().backups  # duplicity asked once; kept from here on
    # While the box's backup lock is held (here: by this process), a verification waits.
    with box.backup._operation(wait=0) as mine:
        assert mine
        start = box.backup.start_verify(actor=TEST_ACTOR)
        deadline = 60
        while deadline and not any(
            "waiting for another backup operation" in line.text
            for line in box.jobs.lines(start.job.id)
        ):
            threading.Event().wait(0.2)
            deadline -= 1
        assert deadline, "the verification did not wait"
        assert not box.jobs.get(start.job.id).finished
        # The status meanwhile answers from what it knew.
        assert box.backup.status().backups
    done(box, start)


def miab(box: Box, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "miab_tui", "backup", *args, "--box", str(box.config.system_root)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )


def test_backup_now_from_cron_is_quiet_unless_it_fails(live_box: Box, tmp_path: Path) -> None:
    box = live_box
    ran = miab(box, "now")  # stdout is a pipe, as under cron
    assert (ran.returncode, ran.stdout, ran.stderr) == (0, "", "")
    status = miab(box, "status")
    assert status.returncode == 0 and "\tfull\t" in status.stdout
    verify = miab(box, "verify", "--quiet")
    assert verify.returncode == 0 and " 0 differences found." in verify.stdout
    mailbox = "mail/mailboxes/example.com/bob"
    restored = tmp_path / "bob"
    restore = miab(box, "restore", "--path", mailbox, "--to", str(restored), "--quiet")
    assert restore.returncode == 0, restore.stderr
    assert f"restored {mailbox} of the backup made" in restore.stdout
    assert snapshot(restored) == snapshot(box.config.storage_root / mailbox)
    again = miab(box, "restore", "--path", mailbox, "--to", str(restored))
    assert again.returncode == 1 and "is not an empty folder" in again.stderr
    shown = miab(box, "config")
    assert shown.returncode == 0 and '"ssh_pub_key": "ssh-rsa ' in shown.stdout
    assert miab(box, "config", "--min-age", "0").stderr == f"miab: {MIN_AGE_MESSAGE}\n"
    write_config(
        box.config.storage_root / "backup",
        target=f"file://{tmp_path / 'nowhere' / 'x'}",
        target_user="",
        target_pass="",
        min_age=3,
    )
    (tmp_path / "nowhere").write_text("not a folder")
    failed = miab(box, "now")
    assert failed.returncode == 1 and failed.stdout == ""
    assert failed.stderr.startswith("miab: The backup job #") and "failed" in failed.stderr
    restore = miab(box, "restore", "--full")
    assert restore.returncode == 1 and "confirm it explicitly" in restore.stderr
