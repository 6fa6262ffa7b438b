"""What a restore may do, checked before anything runs, and the in-place swap.

A restore writes into a folder of the admin's choosing that holds nothing yet and lies outside
STORAGE_ROOT, so live data is never overwritten. Only a full restore in place, confirmed
explicitly, replaces STORAGE_ROOT: the backup is restored beside the live data first (under
`backup/`, on the same disk and outside what is backed up), then, with the mail services
stopped, every top-level entry of STORAGE_ROOT but `backup/` is swapped for the restored one.
The entries it replaced are kept in `backup/before-restore-<time>/`.
"""

from __future__ import annotations

import contextlib
import os
import posixpath
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from core.errors import ValidationError
from core.mail.addresses import sanitize_idn_email_address

MAX_PATH_CHARS: Final = 4096
KEEP_IN_PLACE: Final = "backup"  # never part of a backup, never replaced by a restore
CONFIRM_MESSAGE: Final = (
    "A full restore in place replaces the live data in STORAGE_ROOT (the mail services are "
    "stopped meanwhile): confirm it explicitly."
)


@dataclass(frozen=True, slots=True)
class RestoreRequest:
    """A restore as the admin asks for it.

    Attributes:
        time: the backup, by its `date` or `duplicity_time` from the status; None: the newest.
        path: what to restore, relative to STORAGE_ROOT (a mailbox
            `mail/mailboxes/example.com/alice`, a folder of user data); "" for everything.
        to: the absolute folder to restore into: it must not exist or be empty, and lie
            outside STORAGE_ROOT. None only for an in-place restore.
        in_place: restore the whole backup over STORAGE_ROOT (with `confirmed`).
        confirmed: the admin confirmed the in-place restore.
    """

    time: str | None = None
    path: str = ""
    to: str | None = None
    in_place: bool = False
    confirmed: bool = False

    def as_params(self) -> dict[str, object]:
        return {
            "time": self.time,
            "path": self.path,
            "to": self.to,
            "in_place": self.in_place,
            "confirmed": self.confirmed,
        }

    @classmethod
    def from_params(cls, params: Mapping[str, object]) -> RestoreRequest:
        """Raises: ValidationError: a parameter of the wrong type."""
        time, path, to = params.get("time"), params.get("path", ""), params.get("to")
        in_place, confirmed = params.get("in_place", False), params.get("confirmed", False)
        if time is not None and not isinstance(time, str):
            raise ValidationError("time must be a backup's date.", field="time")
        if not isinstance(path, str):
            raise ValidationError("path must be a path inside STORAGE_ROOT.", field="path")
        if to is not None and not isinstance(to, str):
            raise ValidationError("to must be a folder.", field="to")
        if not isinstance(in_place, bool) or not isinstance(confirmed, bool):
            raise ValidationError("in_place and confirmed must be true or false.")
        return cls(time, path, to, in_place, confirmed)


def mailbox_path(email: str) -> str:
    """The path (relative to STORAGE_ROOT) of a user's mailbox, to restore one mailbox.

    Raises:
        ValidationError: not an email address.
    """
    address = sanitize_idn_email_address(email.strip()) if isinstance(email, str) else ""
    local, at, domain = address.rpartition("@")
    if not at or not local or not domain or "/" in address or address.startswith("."):
        raise ValidationError("Invalid email address.", field="email")
    return f"mail/mailboxes/{domain.lower()}/{local}"


def clean_path(path: str) -> str:
    """A path inside STORAGE_ROOT as duplicity's `--file-to-restore` takes it.

    Raises:
        ValidationError: absolute, leaving STORAGE_ROOT, under `backup/`, or not one line.
    """
    text = path.strip()
    if len(text) > MAX_PATH_CHARS or not text.isprintable():
        raise ValidationError("That is not a path inside STORAGE_ROOT.", field="path")
    if text in ("", "."):
        return ""
    normal = posixpath.normpath(text)
    if text.startswith("/") or normal == ".." or normal.startswith("../"):
        raise ValidationError(
            "The path must be relative to STORAGE_ROOT, e.g. mail/mailboxes/example.com/alice.",
            field="path",
        )
    if normal == KEEP_IN_PLACE or normal.startswith(KEEP_IN_PLACE + "/"):
        raise ValidationError("backup/ is never part of a backup.", field="path")
    return normal


def _overlaps(a: Path, b: Path) -> bool:
    return a == b or a.is_relative_to(b) or b.is_relative_to(a)


def check_destination(to: str | None, storage_root: Path) -> Path:
    """The folder to restore into: absolute, outside STORAGE_ROOT, absent or empty, its
    parent present.

    Raises:
        ValidationError: what is wrong with it.
    """
    if not to or not isinstance(to, str) or len(to) > MAX_PATH_CHARS or not to.isprintable():
        raise ValidationError(
            "Choose a folder to restore into (an absolute path that does not exist yet).",
            field="to",
        )
    if not to.startswith("/"):
        raise ValidationError("The folder to restore into must be an absolute path.", field="to")
    destination = Path(os.path.realpath(to))
    root = Path(os.path.realpath(storage_root))
    if _overlaps(destination, root):
        raise ValidationError(
            f"The folder to restore into must be outside STORAGE_ROOT ({storage_root}), so that "
            "no live data is overwritten; a full restore in place has its own option.",
            field="to",
        )
    if destination.exists():
        if not destination.is_dir() or any(destination.iterdir()):
            raise ValidationError(
                f"{destination} exists and is not an empty folder: restore into a new one.",
                field="to",
            )
    elif not destination.parent.is_dir():
        raise ValidationError(f"The folder {destination.parent} does not exist.", field="to")
    return destination


def check_request(request: RestoreRequest, storage_root: Path) -> RestoreRequest:
    """The request with its path cleaned and its folder resolved.

    Raises:
        ValidationError: anything a restore would refuse (nothing has run).
    """
    path = clean_path(request.path)
    if request.in_place:
        if path:
            raise ValidationError(
                "A restore in place is of the whole backup; restore a path into a folder instead.",
                field="path",
            )
        if request.to:
            raise ValidationError(
                "A restore in place goes to STORAGE_ROOT, not to another folder.", field="to"
            )
        if not request.confirmed:
            raise ValidationError(CONFIRM_MESSAGE, field="confirmed")
        return RestoreRequest(request.time, "", None, True, True)
    destination = check_destination(request.to, storage_root)
    return RestoreRequest(request.time, path, str(destination), False, False)


def swap_in(storage_root: Path, restored: Path, previous: Path) -> None:
    """Move STORAGE_ROOT's entries (but `backup/`) into `previous`, then the restored ones into
    STORAGE_ROOT. Renames only (one disk): if one fails, every move made is undone.

    Raises:
        OSError: a move failed (everything is as it was).
    """
    previous.mkdir(mode=0o700)
    done: list[tuple[Path, Path]] = []
    try:
        for entry in sorted(storage_root.iterdir()):
            if entry.name == KEEP_IN_PLACE:
                continue
            os.rename(entry, previous / entry.name)
            done.append((entry, previous / entry.name))
        for entry in sorted(restored.iterdir()):
            if entry.name == KEEP_IN_PLACE:
                continue
            os.rename(entry, storage_root / entry.name)
            done.append((entry, storage_root / entry.name))
    except OSError:
        for source, moved in reversed(done):
            with contextlib.suppress(OSError):
                os.rename(moved, source)
        raise
