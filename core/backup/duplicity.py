"""Running duplicity and reading what it says on its machine-readable log (`--log-fd`).

duplicity writes one stanza per message on the log descriptor: a header line
`LEVEL CODE [EXTRA]` (EXTRA may run on over more lines, as in the collection status), then the
message with every line prefixed `. `, then an empty line (duplicity's `log.MachineFormatter`).
The codes are duplicity's documented, stable `InfoCode`/`ErrorCode` numbers; nothing here
reads the text meant for a screen, which goes to the run's log file as it is.

`run` starts duplicity through the host door (`Host.spawn`), hands each stanza to a callback
as it arrives, and stops duplicity (with everything it started) when it says nothing for
`stall_timeout` seconds, or when the caller is interrupted (a cancelled job).
"""

from __future__ import annotations

import contextlib
import os
import re
import select
import signal
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Final, Protocol

from core.errors import HostError
from core.host import Host
from core.storage.files import atomic_write

# duplicity's log.InfoCode and log.ErrorCode values that we act on.
INFO_GENERIC: Final = 1
INFO_PROGRESS: Final = 2  # "Processed volume N [of M]": EXTRA is bytes so far, or N M
INFO_COLLECTION_STATUS: Final = 3
INFO_FILE_NEW: Final = 4
INFO_FILE_CHANGED: Final = 5
INFO_FILE_DELETED: Final = 6
INFO_UPLOAD_DONE: Final = (13, 14)
ERROR_USER: Final = 23
ERROR_LOCKED_ARCHIVE_DIR: Final = 2  # duplicity exits 2 when another one holds the cache

STALL_TIMEOUT: Final = 3600.0  # an hour without a word from duplicity: it is stuck
TERM_GRACE: Final = 5.0

_HEADER: Final = re.compile(r"(ERROR|WARNING|NOTICE|INFO|DEBUG) (\d+)(?: (.*))?")
_READ_BYTES: Final = 65536


@dataclass(frozen=True, slots=True)
class Stanza:
    """One message of duplicity's machine log."""

    level: str  # ERROR, WARNING, NOTICE, INFO, DEBUG
    code: int
    extra: tuple[str, ...]  # the rest of the header line and the lines that continue it
    message: tuple[str, ...]

    @property
    def text(self) -> str:
        return "\n".join(self.message)

    @property
    def first_line(self) -> str:
        return next((line for line in self.message if line.strip()), "")


class StanzaReader:
    """Turns the bytes of a `--log-fd` stream into stanzas, however they are split."""

    def __init__(self) -> None:
        self._buffer = b""
        self._header: tuple[str, int] | None = None
        self._extra: list[str] = []
        self._message: list[str] = []

    def feed(self, data: bytes) -> list[Stanza]:
        self._buffer += data
        *lines, self._buffer = self._buffer.split(b"\n")
        out: list[Stanza] = []
        for raw in lines:
            stanza = self._line(raw.decode("utf-8", "replace").rstrip("\r"))
            if stanza is not None:
                out.append(stanza)
        return out

    def close(self) -> list[Stanza]:
        """The stanza left open at the end of the stream, if any."""
        out = self.feed(b"\n") if self._buffer else []
        if self._header is not None:
            out.append(self._finish())
        return out

    def _line(self, line: str) -> Stanza | None:
        if self._header is None:
            match = _HEADER.fullmatch(line)
            if match:
                self._header = (match.group(1), int(match.group(2)))
                self._extra = [match.group(3)] if match.group(3) else []
            return None
        if line == "":
            return self._finish()
        if line.startswith(". ") or line == ".":
            self._message.append(line[2:])
        elif self._message:
            self._message.append(line)  # a message line that held a carriage return
        else:
            self._extra.append(line)
        return None

    def _finish(self) -> Stanza:
        assert self._header is not None
        stanza = Stanza(self._header[0], self._header[1], tuple(self._extra), tuple(self._message))
        self._header, self._extra, self._message = None, [], []
        return stanza


@dataclass(frozen=True, slots=True)
class DuplicityRun:
    """How one duplicity run ended. `returncode` is None when we stopped it (`stalled`)."""

    argv: tuple[str, ...]
    returncode: int | None
    stalled: bool = False
    errors: tuple[str, ...] = ()
    warnings: tuple[str, ...] = ()
    elapsed: float = 0.0
    stanzas: tuple[Stanza, ...] = field(default=(), repr=False)  # only if `keep` asked

    @property
    def ok(self) -> bool:
        return self.returncode == 0

    def failure(self, what: str) -> str:
        """A line saying how `what` went wrong, in duplicity's words when it said any."""
        if self.stalled:
            return f"{what} was stopped: duplicity said nothing for too long (stalled)."
        lines = [
            line.strip()
            for line in (self.errors[-1] if self.errors else "").splitlines()
            if line.strip() and not line.strip().startswith("=====")
        ]
        reason = lines[0] if lines else ""
        if reason.endswith(":") and len(lines) > 1:  # "GPG Failed, see log below:" and so on
            reason += " " + lines[-1]
        status = f"exit status {self.returncode}"
        return f"{what} failed ({status})" + (f": {reason}" if reason else ".")


def run(
    host: Host,
    argv: Sequence[str],
    *,
    env: Mapping[str, str],
    output: Path | None,
    on_stanza: Callable[[Stanza], None] = lambda stanza: None,
    stall_timeout: float = STALL_TIMEOUT,
    keep: Callable[[Stanza], bool] = lambda stanza: False,
    pid_file: Path | None = None,
) -> DuplicityRun:
    """Run duplicity (`argv` without `--log-fd`), its screen output appended to `output`
    (discarded if None), each log stanza handed to `on_stanza`. `pid_file` records its
    process while it runs (see `stop_orphan`).

    Raises:
        HostError: duplicity is not installed or could not be started.
    """
    read_fd, write_fd = os.pipe()
    os.set_inheritable(read_fd, False)
    args = [argv[0], *argv[1:], "--log-fd", str(write_fd)]
    out_fd = (
        os.open(
            output,
            os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC,
            0o600,
        )
        if output is not None
        else os.open(os.devnull, os.O_WRONLY | os.O_CLOEXEC)
    )
    started = time.monotonic()
    try:
        try:
            process = host.spawn(args, output_fd=out_fd, pass_fds=(write_fd,), env=env)
        except FileNotFoundError:
            raise HostError("duplicity is not installed here (Debian package duplicity).") from None
        except OSError as exc:
            raise HostError(f"duplicity could not be started: {exc.strerror}.") from None
    finally:
        os.close(write_fd)
        os.close(out_fd)
    if pid_file is not None:
        atomic_write(pid_file, f"{process.pid}\n", mode=0o600)
    reader = StanzaReader()
    errors: list[str] = []
    warnings: list[str] = []
    kept: list[Stanza] = []
    stalled = False

    def handle(stanzas: list[Stanza]) -> None:
        for stanza in stanzas:
            if stanza.level == "ERROR":
                errors.append(stanza.text)
            elif stanza.level == "WARNING":
                warnings.append(stanza.text)
            if keep(stanza):
                kept.append(stanza)
            on_stanza(stanza)

    try:
        last = time.monotonic()
        while True:
            wait = max(0.0, stall_timeout - (time.monotonic() - last))
            ready, _, _ = select.select([read_fd], [], [], min(wait, 1.0))
            if not ready:
                if time.monotonic() - last >= stall_timeout:
                    stalled = True
                    _stop(process)
                    break
                continue
            data = os.read(read_fd, _READ_BYTES)
            if not data:
                break
            last = time.monotonic()
            handle(reader.feed(data))
        handle(reader.close())
        returncode = process.wait()
    except BaseException:
        _stop(process)
        with contextlib.suppress(Exception):
            process.wait(timeout=TERM_GRACE)
        raise
    finally:
        os.close(read_fd)
        if pid_file is not None:
            pid_file.unlink(missing_ok=True)
    return DuplicityRun(
        tuple(args),
        None if stalled else returncode,
        stalled=stalled,
        errors=tuple(errors),
        warnings=tuple(warnings),
        elapsed=time.monotonic() - started,
        stanzas=tuple(kept),
    )


class _Process(Protocol):
    pid: int

    def poll(self) -> int | None: ...


def _stop(process: _Process) -> None:
    """End duplicity and what it started (its own session): TERM, then KILL."""
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(process.pid, signal.SIGTERM)
    deadline = time.monotonic() + TERM_GRACE
    while time.monotonic() < deadline and process.poll() is None:
        time.sleep(0.05)
    # Whatever it started is in its process group, also once duplicity itself has ended.
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(process.pid, signal.SIGKILL)


def stop_orphan(pid_file: Path, marker: str) -> bool:
    """End a duplicity left running by a process that was killed (its own session outlives
    it, holding duplicity's lock on the cache): the one `pid_file` names, if its command line
    holds `marker` (the cache folder). The caller holds the box's backup lock, so no run of
    ours is going. True if one was ended."""
    try:
        pid = int(pid_file.read_text().strip())
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            cmdline = f.read().replace(b"\0", b" ").decode("utf-8", "replace")
    except (OSError, ValueError):
        pid_file.unlink(missing_ok=True)
        return False
    pid_file.unlink(missing_ok=True)
    if "duplicity" not in cmdline or marker not in cmdline:
        return False
    for sig in (signal.SIGTERM, signal.SIGKILL):
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(pid, sig)
        deadline = time.monotonic() + TERM_GRACE
        while time.monotonic() < deadline and Path(f"/proc/{pid}").exists():
            time.sleep(0.05)
    return True


def backup_statistics(stanza: Stanza) -> dict[str, str]:
    """duplicity's `Backup Statistics` notice as a mapping (`SourceFiles` → `4`, …): the
    key/value lines it prints after a backup."""
    values: dict[str, str] = {}
    for line in stanza.message:
        key, _, rest = line.partition(" ")
        if key.isalpha() and rest:
            values[key] = rest.split(" ", 1)[0]
    return values


def is_statistics(stanza: Stanza) -> bool:
    return (
        stanza.level == "NOTICE"
        and stanza.code == INFO_GENERIC
        and "Backup Statistics" in stanza.first_line
    )
