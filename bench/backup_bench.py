"""Backup benchmark (issue 11): a box with SIZE of mail in FILES files, backed up with the real
duplicity to its local target.

    python3 -m bench.backup_bench [--size-mb 200] [--files 2000] [--chain 30] [--dir DIR]

The issue's size is `--size-mb 2048 --files 20000`; the default is a tenth of it so that a run
takes a few minutes. Measured:

* full and incremental backup wall time as the box runs them (a `backup` job: its own process,
  the full-or-incremental check, duplicity, `remove-older-than` and `cleanup` when needed, the
  status kept ready), side by side with the reference's duplicity command run by hand on the
  same data (to a target of its own), in alternating order; incrementals on two nights, the
  first after the full backup, then the next;
* restoring one mailbox (a `backup-restore` job) into a new folder;
* showing the status of a chain of CHAIN backups (a small box, built here): the first status
  (duplicity asked), the following ones (kept), and the reference's approach (duplicity's
  collection status and a listing of the target on every request).
"""

from __future__ import annotations

import argparse
import base64
import os
import random
import shutil
import statistics
import subprocess
import tempfile
import time
from pathlib import Path

from core import Box, init_box
from core.audit import Actor
from core.backup import RestoreRequest, mailbox_path
from core.backup.settings import read_passphrase
from core.jobs import JobState

ACTOR = Actor("bench", "cli")
USERS = 100


def seed_mail(box: Box, size: int, files: int, rng: random.Random) -> list[Path]:
    """`files` messages of `size` bytes in all, over USERS mailboxes of one domain: a text part
    and a base64 attachment, as mail is."""
    per_file = max(200, size // files)
    text = " ".join(
        rng.choice(("hello", "meeting", "invoice", "the", "report", "thanks")) for _ in range(2000)
    )
    paths = []
    domain = box.config.mailboxes_dir / "example.com"
    for i in range(files):
        user = f"user{i % USERS:03d}"
        cur = domain / user / "cur"
        cur.mkdir(parents=True, exist_ok=True)
        body_text = text[: per_file // 5]
        raw = rng.randbytes(max(0, (per_file - len(body_text)) * 3 // 4))
        message = (
            f"From: a@example.org\nTo: {user}@example.com\nSubject: message {i}\n\n{body_text}\n"
        ).encode() + base64.encodebytes(raw)
        path = cur / f"{1700000000 + i}.M{i}P1.box:2,S"
        path.write_bytes(message)
        paths.append(path)
    return paths


def run_job(box: Box, start: object) -> float:
    began = time.perf_counter()
    job = box.jobs.wait(start.job.id)  # type: ignore[attr-defined]
    elapsed = time.perf_counter() - began
    if job.state is not JobState.DONE:
        raise SystemExit(f"job {job.kind} #{job.id} {job.state.value}: {job.result}")
    return elapsed


def by_hand(box: Box, kind: str, target: Path, cache: Path) -> tuple[float, float]:
    """The reference's nightly commands (SYSTEM.md §3.1), run as an admin would: the backup
    command's time alone, and the whole nightly run's (the collection status that decides
    full or incremental, the backup, `remove-older-than` and `cleanup`)."""
    root = box.config.storage_root
    env = {**os.environ, "PASSPHRASE": read_passphrase(root / "backup" / "secret_key.txt")}
    common = ["--archive-dir", str(cache)]
    url = f"file://{target}"
    backup = [
        "duplicity",
        kind,
        "--verbosity",
        "warning",
        "--no-print-statistics",
        *common,
        "--exclude",
        str(root / "backup"),
        "--volsize",
        "250",
        "--gpg-options",
        "--cipher-algo=AES256",
        str(root),
        url,
        "--allow-source-mismatch",
    ]
    quiet = {"env": env, "check": True, "stdout": subprocess.DEVNULL}
    began = time.perf_counter()
    status = ["duplicity", "collection-status", *common, "--log-fd", "1", url]
    subprocess.run(status, **quiet)  # type: ignore[call-overload]
    before = time.perf_counter()
    subprocess.run(backup, **quiet)  # type: ignore[call-overload]
    alone = time.perf_counter() - before
    for step in (["remove-older-than", "3D"], ["cleanup"]):
        argv = ["duplicity", *step, "--verbosity", "error", *common, "--force", url]
        subprocess.run(argv, **quiet)  # type: ignore[call-overload]
    return alone, time.perf_counter() - began


def backup_figures(work: Path, size_mb: int, files: int) -> list[tuple[str, str]]:
    rng = random.Random(11)
    box = init_box(work / "box", clock=time.time)
    print(f"seeding {size_mb} MB of mail in {files} files ...", flush=True)
    paths = seed_mail(box, size_mb * 1024 * 1024, files, rng)
    hand_target, hand_cache = work / "by-hand", work / "by-hand-cache"
    hand_target.mkdir()
    rows: list[tuple[str, str]] = []

    # The box makes its key on the first backup; the hand run uses the same key.
    print("full backup: ours (job) ...", flush=True)
    ours_full = run_job(box, box.backup.start_backup(actor=ACTOR, full=True))
    print("full backup: by hand ...", flush=True)
    hand_full, hand_full_all = by_hand(box, "full", hand_target, hand_cache)
    rows.append(("full backup", _compare(ours_full, hand_full, hand_full_all)))

    # Two nights of changes: the first incremental after the full one (its status asked of
    # duplicity), then the next night's (the status the last backup left).
    for night in ("the first", "the next"):
        changed = rng.sample(paths, max(1, len(paths) // 100))
        for path in changed:
            path.write_bytes(path.read_bytes()[:-100] + b"changed\n")
        time.sleep(1)
        print(f"incremental backup ({len(changed)} files changed): by hand ...", flush=True)
        hand_inc, hand_inc_all = by_hand(box, "incr", hand_target, hand_cache)
        print("incremental backup: ours (job) ...", flush=True)
        ours_inc = run_job(box, box.backup.start_backup(actor=ACTOR))
        rows.append(
            (
                f"incremental backup, {night} night ({len(changed)} files changed)",
                _compare(ours_inc, hand_inc, hand_inc_all),
            )
        )

    mailbox = mailbox_path("user007@example.com")
    mailbox_bytes = sum(
        p.stat().st_size for p in (box.config.storage_root / mailbox).rglob("*") if p.is_file()
    )
    print("restore of one mailbox ...", flush=True)
    destination = work / "restored-mailbox"
    restore = run_job(
        box,
        box.backup.start_restore(RestoreRequest(path=mailbox, to=str(destination)), actor=ACTOR),
    )
    rows.append(
        (
            f"restore one mailbox ({files // USERS} messages, {mailbox_bytes / 1e6:.1f} MB)",
            f"{restore:.1f} s | | | ",
        )
    )
    box.close()
    return rows


def _compare(ours: float, alone: float, everything: float) -> str:
    return (
        f"{ours:.1f} s | {alone:.1f} s | {everything:.1f} s | "
        f"{ours / alone:.2f}× / {ours / everything:.2f}×"
    )


def chain_figures(work: Path, chain: int) -> list[tuple[str, str]]:
    box = init_box(work / "chain-box", clock=time.time)
    note = box.config.storage_root / "settings.yaml"
    print(f"making a chain of {chain} backups ...", flush=True)
    for i in range(chain):
        note.write_text(f"privacy: true\nbench: {i}\n")
        box.backup.back_up(actor=ACTOR)
        time.sleep(1.0)  # duplicity names backups by the second
    status = box.backup.status()
    assert len(status.backups) == chain, [b.date for b in status.backups]
    (box.config.state_db.parent / "backup" / "status.json").unlink()  # as a new box would
    began = time.perf_counter()
    box.backup.status()
    first = time.perf_counter() - began
    kept = []
    for _ in range(20):
        began = time.perf_counter()
        box.backup.status()
        kept.append(time.perf_counter() - began)
    reference = []
    config = box.backup.get_config()
    target = box.backup.parse_target(config.target)
    for _ in range(3):
        began = time.perf_counter()
        box.backup._collection_status(target, config, 300)
        box.backup._list(target, "", "")
        reference.append(time.perf_counter() - began)
    box.close()
    return [
        (f"status, chain of {chain}: first (duplicity asked)", f"{first * 1000:.0f} ms | | | "),
        (
            f"status, chain of {chain}: next ones (median of 20)",
            f"{statistics.median(kept) * 1000:.1f} ms | | | ",
        ),
        (
            f"status, chain of {chain}: the reference's way (median of 3)",
            f"{statistics.median(reference) * 1000:.0f} ms | | | ",
        ),
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size-mb", type=int, default=200, help="mail to back up (issue: 2048)")
    parser.add_argument("--files", type=int, default=2000, help="in this many files (issue: 20000)")
    parser.add_argument("--chain", type=int, default=30, help="backups in the status chain")
    parser.add_argument("--dir", help="work folder (default: a temporary one, removed after)")
    args = parser.parse_args()
    if shutil.which("duplicity") is None:
        raise SystemExit("duplicity is not installed (Debian package duplicity)")
    work = Path(args.dir) if args.dir else Path(tempfile.mkdtemp(prefix="backup-bench-"))
    work.mkdir(parents=True, exist_ok=True)
    try:
        rows = backup_figures(work, args.size_mb, args.files) + chain_figures(work, args.chain)
    finally:
        if not args.dir:
            shutil.rmtree(work, ignore_errors=True)
    print(f"\n{args.size_mb} MB in {args.files} files, {os.cpu_count()} cores\n")
    print(
        "| case | ours (the job) | by hand: the backup command | by hand: the reference's nightly commands | ratio to each |"
    )
    print("|---|---:|---:|---:|---:|")
    for name, figures in rows:
        print(f"| {name} | {figures} |")


if __name__ == "__main__":
    main()
