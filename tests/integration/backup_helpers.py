"""Shared by the backup tests: a box with mail and settings on the real clock, snapshots of
STORAGE_ROOT to compare restores with, and following a backup job to its end."""

from __future__ import annotations

import os
import stat
import time
from pathlib import Path

from core import Box, init_box, seed_demo
from core.jobs import Job, JobStart, JobState
from tests.conftest import copy_keys

Entry = tuple[str, object, int]  # kind, content (bytes, link target or None), mode


def make_live_box(directory: Path, key_material: Path) -> Box:
    """A demo box on the real clock (duplicity stamps backups with the real time), with a
    few messages in two mailboxes and a settings file."""
    box = init_box(directory, clock=time.time)
    copy_keys(key_material, box)
    seed_demo(box, admin_password="demo-admin-pass")
    for user, count in (("alice", 3), ("bob", 2)):
        cur = box.config.mailboxes_dir / "example.com" / user / "cur"
        cur.mkdir(parents=True, exist_ok=True)
        for i in range(count):
            (cur / f"{1700000000 + i}.M{i}P1.box:2,S").write_bytes(
                f"From: someone@example.org\nSubject: {user} {i}\n\nbody {i}\n".encode() * 50
            )
    (box.config.storage_root / "settings.yaml").write_text("privacy: true\n")
    return box


def snapshot(root: Path) -> dict[str, Entry]:
    """Every entry under `root` but `backup/`: its kind, bytes or link target, and mode."""
    found: dict[str, Entry] = {}
    for folder, dirs, files in os.walk(root):
        rel_folder = os.path.relpath(folder, root)
        if rel_folder == "." and "backup" in dirs:
            dirs.remove("backup")
        for name in dirs + files:
            path = Path(folder) / name
            rel = os.path.normpath(os.path.join(rel_folder, name))
            info = path.lstat()
            mode = stat.S_IMODE(info.st_mode)
            if stat.S_ISLNK(info.st_mode):
                found[rel] = ("link", os.readlink(path), mode)
            elif stat.S_ISDIR(info.st_mode):
                found[rel] = ("dir", None, mode)
            else:
                found[rel] = ("file", path.read_bytes(), mode)
    return found


def follow(box: Box, start: JobStart, timeout: float = 180) -> Job:
    job = box.jobs.wait(start.job.id, timeout)
    assert job.finished, f"job #{job.id} still {job.state.value} after {timeout} s"
    return job


def done(box: Box, start: JobStart, timeout: float = 180) -> Job:
    job = follow(box, start, timeout)
    lines = "\n".join(line.text for line in box.jobs.lines(job.id))
    assert job.state is JobState.DONE, f"{job.state.value}: {job.result}\n{lines}"
    return job


def next_second() -> None:
    """Let the clock pass into the next second before changing files a backup has read:
    duplicity tells a changed file by its time to the second, so a file made and changed
    within one second (as a test does, not mail) looks unchanged to the next backup."""
    time.sleep(1.05 - time.time() % 1)
