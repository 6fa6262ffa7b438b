"""Atomic file writes under a lock, never through a symbolic link.

Every file the product writes goes through `atomic_write`: a temp file in the same folder,
fsync, `os.replace`, fsync of the folder. A crash midway leaves the old file whole.
Secrets are created with their final mode (never chmod-ed after being written).

Links: the temp file has an unpredictable name and is created with `O_EXCL|O_NOFOLLOW`, so
a link planted at any name we could use is refused, never written through; the rename
replaces the directory entry (a link at the target's own name is replaced, its target is
untouched). Everything happens relative to one descriptor of the folder, so the folder
cannot be swapped between the lock, the write and the rename. A folder that is itself a link
is followed (an admin may keep STORAGE_ROOT on another disk through one; replacing a box
folder by a link takes write access to its root-owned parent anyway).

Locks: `file_lock(path)` is an exclusive `flock` on the folder that holds `path` (one lock
per folder, no lock file is created). It is shared by every process and thread, and
re-entrant within a thread (a writer holding it may `atomic_write` in the same folder).
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import os
import secrets
import threading
from collections.abc import Iterator
from pathlib import Path

_DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC
_TMP_FLAGS = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC


class _Held(threading.local):
    """The folder locks this thread holds: (st_dev, st_ino) -> [descriptor, depth]."""

    def __init__(self) -> None:
        self.folders: dict[tuple[int, int], list[int]] = {}


_held = _Held()


def _open_folder(folder: Path) -> int:
    return os.open(folder, _DIR_FLAGS)


@contextlib.contextmanager
def _folder_lock(folder: Path) -> Iterator[int]:
    """Hold the exclusive lock on `folder`; yields a descriptor of the folder."""
    fd = _open_folder(folder)
    st = os.fstat(fd)
    key = (st.st_dev, st.st_ino)
    held = _held.folders.get(key)
    if held is not None:  # this thread holds it already (same folder, maybe by another path)
        os.close(fd)
        held[1] += 1
        try:
            yield held[0]
        finally:
            held[1] -= 1
        return
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
    except BaseException:
        os.close(fd)
        raise
    _held.folders[key] = [fd, 1]
    try:
        yield fd
    finally:
        del _held.folders[key]
        # Closing the descriptor drops the flock (no other descriptor shares it).
        os.close(fd)


@contextlib.contextmanager
def file_lock(path: Path) -> Iterator[None]:
    """Hold an exclusive advisory lock that serialises changes to `path` across processes
    and threads: a `flock` on its folder (created if missing; nothing else is created)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with _folder_lock(path.parent):
        yield


def _create_temp(dir_fd: int, name: str) -> tuple[str, int]:
    """A new, private (0600) temp file beside `name`, with a name nobody can predict."""
    for _ in range(100):
        tmp = f".{name}.{secrets.token_hex(8)}.tmp"
        try:
            return tmp, os.open(tmp, _TMP_FLAGS, 0o600, dir_fd=dir_fd)
        except FileExistsError:
            continue
    raise FileExistsError(errno.EEXIST, "No usable temporary file name", name)


def atomic_write(path: Path | str, data: str | bytes, *, mode: int = 0o644) -> None:
    """Replace `path` with `data` atomically; the new file has permission bits `mode`."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    payload = data.encode("utf-8") if isinstance(data, str) else data
    with _folder_lock(path.parent) as dir_fd:
        tmp, fd = _create_temp(dir_fd, path.name)
        try:
            try:
                # Created 0600 whatever the umask; the final mode is set on the private fd.
                os.fchmod(fd, mode)
                view = memoryview(payload)
                while view:
                    written = os.write(fd, view)
                    view = view[written:]
                os.fsync(fd)
            finally:
                os.close(fd)
            os.replace(tmp, path.name, src_dir_fd=dir_fd, dst_dir_fd=dir_fd)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(tmp, dir_fd=dir_fd)
            raise
        os.fsync(dir_fd)
