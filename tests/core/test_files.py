"""`atomic_write` and `file_lock`: nothing is ever written through a symbolic link planted at
a name a write could use, no lock file is created beside the files, and read-modify-write
under `file_lock` loses no update across processes."""

from __future__ import annotations

import multiprocessing
import os
import stat
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from core import Box
from core.storage.files import atomic_write, file_lock
from tests.conftest import TEST_ACTOR
from tests.core.dns.conftest import ADMIN, PASSWORD, make_box

SECRET = b"root:$6$outside-the-box-secret:19000:0:99999:7:::\n"
SPAWN = multiprocessing.get_context("spawn")


@pytest.fixture
def outside(tmp_path: Path) -> Path:
    """A 0600 file outside the box: what a planted link points at."""
    victim = tmp_path / "outside" / "shadow"
    victim.parent.mkdir()
    victim.write_bytes(SECRET)
    victim.chmod(0o600)
    return victim


def assert_untouched(victim: Path) -> None:
    assert victim.read_bytes() == SECRET
    assert stat.S_IMODE(victim.stat().st_mode) == 0o600
    assert [p.name for p in victim.parent.iterdir()] == [victim.name]


def plant_links(target: Path, victim: Path) -> list[Path]:
    """Links at every name a write of `target` could predictably use: the old temp name
    (`.NAME.PID.tmp`, for this process and its neighbours) and the old lock file."""
    names = [f".{target.name}.{pid}.tmp" for pid in range(os.getpid() - 2, os.getpid() + 3)]
    names.append(f"{target.name}.lock")
    links = []
    target.parent.mkdir(parents=True, exist_ok=True)
    for name in names:
        link = target.with_name(name)
        if not link.exists() and not link.is_symlink():
            link.symlink_to(victim)
            links.append(link)
    return links


def test_atomic_write_never_writes_through_a_link(tmp_path: Path, outside: Path) -> None:
    target = tmp_path / "box" / "custom.yaml"
    links = plant_links(target, outside)
    # The target itself a link: the write replaces the link, never what it points at.
    target.symlink_to(outside)

    atomic_write(target, "example.com:\n  TXT: hello\n", mode=0o644)

    assert_untouched(outside)
    assert not target.is_symlink()
    assert target.read_text() == "example.com:\n  TXT: hello\n"
    assert stat.S_IMODE(target.stat().st_mode) == 0o644
    assert all(link.is_symlink() and link.resolve() == outside for link in links)
    # Nothing else appeared in the folder: no lock file, no temp file left behind.
    assert {p.name for p in target.parent.iterdir()} == {target.name} | {p.name for p in links}

    atomic_write(target, b"second", mode=0o600)
    assert target.read_bytes() == b"second"
    assert stat.S_IMODE(target.stat().st_mode) == 0o600
    assert_untouched(outside)


def test_file_lock_creates_nothing_and_follows_no_link(tmp_path: Path, outside: Path) -> None:
    target = tmp_path / "box" / "dns-update"
    links = plant_links(target, outside)
    with file_lock(target):
        pass
    assert_untouched(outside)
    assert sorted(target.parent.iterdir()) == sorted(links)


def test_a_folder_that_is_a_link_is_followed_but_no_file_link_is(
    tmp_path: Path, outside: Path
) -> None:
    """STORAGE_ROOT may live on another disk through a link: writes go into the real
    folder; a link at a file's own name there is still replaced, never written through."""
    real = tmp_path / "elsewhere"
    real.mkdir()
    (tmp_path / "box").mkdir()
    (tmp_path / "box" / "dns").symlink_to(real)
    (real / "custom.yaml").symlink_to(outside)
    atomic_write(tmp_path / "box" / "dns" / "custom.yaml", "records")
    with file_lock(tmp_path / "box" / "dns" / "custom.yaml"):
        pass
    assert not (real / "custom.yaml").is_symlink()
    assert (real / "custom.yaml").read_text() == "records"
    assert_untouched(outside)


def test_failed_write_leaves_no_temp_file(tmp_path: Path) -> None:
    target = tmp_path / "box" / "file"
    atomic_write(target, "old")
    target.unlink()
    target.mkdir()  # os.replace of a file onto a folder fails
    with pytest.raises(OSError):
        atomic_write(target, "new")
    assert [p.name for p in target.parent.iterdir()] == ["file"]


def lock_and_set(target: Path, event: threading.Event) -> None:
    with file_lock(target):
        event.set()


def test_file_lock_is_reentrant_in_a_thread_and_excludes_other_threads(tmp_path: Path) -> None:
    target = tmp_path / "box" / "counter"
    atomic_write(target, "0")
    entered = threading.Event()
    with file_lock(target):
        # The same thread may write in the locked folder (DNS writes under its own lock)...
        atomic_write(target.with_name("other"), "x")
        with file_lock(target.with_name("other")):
            atomic_write(target, "1")
        # ...while another thread waits for the lock.
        thread = threading.Thread(target=lock_and_set, args=(target, entered))
        thread.start()
        assert not entered.wait(0.3)
    assert entered.wait(10)
    thread.join()


@pytest.fixture
def mbox(tmp_path: Path, key_material: Path) -> Iterator[Box]:
    box = make_box(tmp_path / "box", key_material)
    box.mail.users.add_user(ADMIN, PASSWORD, "admin", actor=TEST_ACTOR)
    yield box
    box.close()


def test_custom_record_write_never_follows_a_planted_link(mbox: Box, outside: Path) -> None:
    """A real core operation (custom record → custom.yaml, zone files, zones.conf, the DNS
    lock) with links planted at every predictable name of every file it writes."""
    mbox.dns.add_custom_record("www.example.com", "A", "192.0.2.1", actor=TEST_ACTOR)
    root = mbox.config.system_root
    written = [
        p for p in root.rglob("*") if p.is_file() and not p.is_symlink() and ".sqlite" not in p.name
    ]
    written.append(mbox.config.system_path("/var/lib/mailinabox/dns-update"))
    assert mbox.dns.custom_yaml in written
    before = {p: p.read_bytes() for p in written if p.exists()}
    for path in written:
        plant_links(path, outside)

    mbox.dns.add_custom_record(
        "txt.example.com", "TXT", "planted links are ignored", actor=TEST_ACTOR
    )

    assert_untouched(outside)
    assert "planted links are ignored" in mbox.dns.custom_yaml.read_text()
    changed = {p for p, data in before.items() if p.read_bytes() != data}
    assert mbox.dns.custom_yaml in changed and len(changed) > 1  # zone files were written too
    for path in written:
        if path.exists():
            assert not path.is_symlink()


def _increment(path: str, times: int, start: object) -> None:
    """Read-modify-write of a counter under `file_lock`, `times` times (a spawned child)."""
    start.wait()  # type: ignore[attr-defined]
    target = Path(path)
    for _ in range(times):
        with file_lock(target):
            value = int(target.read_text())
            atomic_write(target, str(value + 1))


def test_two_processes_lose_no_update(tmp_path: Path) -> None:
    target = tmp_path / "box" / "counter"
    atomic_write(target, "0")
    start = SPAWN.Event()
    times = 150
    children = [
        SPAWN.Process(target=_increment, args=(str(target), times, start)) for _ in range(2)
    ]
    for child in children:
        child.start()
    start.set()
    # This process's threads join in too (each thread its own lock holder).
    threads = [
        threading.Thread(target=_increment, args=(str(target), times, start)) for _ in range(2)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)
    for child in children:
        child.join(120)
        assert child.exitcode == 0
    assert int(target.read_text()) == 4 * times
    assert sorted(p.name for p in target.parent.iterdir()) == ["counter"]
