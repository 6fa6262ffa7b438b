"""The one door to the host: the only code in the product that runs programs or touches
services (DESIGN.md, "the host door").

`Host.run` runs a program (never through a shell) and returns what happened as a value: a
missing program or a timeout is a result, not an exception. `reload`/`restart` go through the
service manager (`service NAME ACTION`, as the reference does). `swap_config` follows certbot's
installer and reverter: write the new config beside the old one, test it, swap it in, reload,
and put the old one back if the reload fails.

On a local or demo box (`BoxConfig.is_local`) nothing that changes the machine runs: files
inside the box folder are still written, services are never reloaded, and every result says
so (`this is a local box: …`). A real box without the program says that instead
(`nsd is not installed here: …`). Nothing here pretends.
"""

from __future__ import annotations

import contextlib
import enum
import os
import shutil
import signal
import subprocess
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Final

from core.storage.files import atomic_write

if TYPE_CHECKING:
    from core.config import BoxConfig

# Where programs are looked for: sbin first, as root's PATH on a Debian/Ubuntu box.
SEARCH_PATH: Final = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
DEFAULT_TIMEOUT: Final = 60.0
# In a config test's argv, this element (or this text inside an element) stands for the
# candidate file.
CANDIDATE: Final = "{candidate}"

# (service, action) -> argv; the default is the reference's `service NAME ACTION`.
ServiceManager = Callable[[str, str], Sequence[str]]


def service_command(service: str, action: str) -> Sequence[str]:
    return ("service", service, action)


def systemctl_command(service: str, action: str) -> Sequence[str]:
    return ("systemctl", action, service)


@dataclass(frozen=True, slots=True)
class RunResult:
    """What running one program did.

    `returncode` is None when the program did not finish by itself: it is not installed
    (`missing`) or it ran out of time (`timed_out`, then it was killed with its children).
    """

    argv: tuple[str, ...]
    returncode: int | None
    stdout: str = ""
    stderr: str = ""
    timed_out: bool = False
    missing: bool = False

    @property
    def ok(self) -> bool:
        return self.returncode == 0

    @property
    def detail(self) -> str:
        """One line saying how it went wrong: the last line of its output, else the status."""
        if self.missing:
            return f"{self.argv[0] if self.argv else 'program'} is not installed"
        lines = (self.stderr or self.stdout).strip().splitlines()
        if self.timed_out:
            return "timed out" + (f": {lines[-1]}" if lines else "")
        if lines:
            return lines[-1]
        return f"exit status {self.returncode}"


class ServiceOutcome(enum.Enum):
    DONE = "done"
    LOCAL = "local"  # a local box: nothing run
    ABSENT = "absent"  # the service's program is not installed here: nothing run
    FAILED = "failed"


@dataclass(frozen=True, slots=True)
class ServiceResult:
    """What a reload or restart of one service did; `note` is a line for the faces ("" when
    it was done)."""

    service: str
    action: str
    outcome: ServiceOutcome
    note: str = ""
    run: RunResult | None = None

    @property
    def ok(self) -> bool:
        return self.outcome is ServiceOutcome.DONE


class SwapOutcome(enum.Enum):
    UNCHANGED = "unchanged"  # the file already holds this text: nothing written or run
    SWAPPED = "swapped"  # tested, swapped in, service reloaded
    REFUSED = "refused"  # the config test failed: the old file stays live, untouched
    ROLLED_BACK = "rolled back"  # the reload failed: the old file was put back and reloaded
    WRITTEN = "written"  # written, service not reloaded (local box, or not installed here)


@dataclass(frozen=True, slots=True)
class SwapResult:
    """What `Host.swap_config` did. `note` says it in a line for the faces; `test` is the
    config test's run (its output is why a swap was refused), `reload` the service's."""

    path: Path
    service: str
    outcome: SwapOutcome
    note: str = ""
    test: RunResult | None = None
    reload: ServiceResult | None = None
    restore: ServiceResult | None = None

    @property
    def live(self) -> bool:
        """True if the new text is the live config."""
        return self.outcome in (SwapOutcome.UNCHANGED, SwapOutcome.SWAPPED, SwapOutcome.WRITTEN)


_PAST: Final = {"reload": "reloaded", "restart": "restarted"}


class Host:
    """The machine a box runs on, as seen by the product.

    `path` is where programs are searched for and `service_manager` builds the service
    command; both exist so a test can point them at real programs of its own.
    """

    def __init__(
        self,
        config: BoxConfig,
        *,
        path: str = SEARCH_PATH,
        service_manager: ServiceManager = service_command,
    ) -> None:
        self.config = config
        self._path = path
        self._service_manager = service_manager

    @property
    def is_local(self) -> bool:
        return self.config.is_local

    # --- programs ---------------------------------------------------------------------------

    def spawn(
        self,
        argv: Sequence[str],
        *,
        output_fd: int,
        pass_fds: Sequence[int] = (),
        env: Mapping[str, str] | None = None,
    ) -> subprocess.Popen[bytes]:
        """Start `argv` (no shell) detached from the caller and return it without waiting:
        for work that must outlive the face that asked for it (core.jobs). It gets its own
        session, an empty stdin, `output_fd` for stdout and stderr, the folder `/`, and of
        the caller's descriptors only `pass_fds`. `env` replaces the environment.

        Raises:
            OSError: the program could not be started (its message is the reason).
        """
        args = tuple(argv)
        program = self.which(args[0]) if args else None
        if program is None:
            raise FileNotFoundError(2, "No such program", args[0] if args else "")
        return subprocess.Popen(
            [program, *args[1:]],
            stdin=subprocess.DEVNULL,
            stdout=output_fd,
            stderr=output_fd,
            pass_fds=tuple(pass_fds),
            start_new_session=True,
            cwd="/",
            env=None if env is None else dict(env),
        )

    def which(self, name: str) -> str | None:
        """The full path of program `name` (sbin folders included), or None."""
        if os.sep in name:
            return name if os.access(name, os.X_OK) and os.path.isfile(name) else None
        return shutil.which(name, path=self._path)

    def run(
        self,
        argv: Sequence[str],
        *,
        timeout: float = DEFAULT_TIMEOUT,
        env: Mapping[str, str] | None = None,
    ) -> RunResult:
        """Run `argv` (no shell), its output captured as text, stdin empty.

        `env` adds to (or overrides in) the inherited environment. A program that does not
        finish within `timeout` seconds is killed with everything it started. `run` does
        not judge what a program changes: a caller about to change the machine checks
        `is_local` first, or uses `reload`/`restart`/`swap_config`, which do.
        """
        args = tuple(argv)
        program = self.which(args[0]) if args else None
        if program is None:
            return RunResult(args, None, missing=True)
        environment = None if env is None else {**os.environ, **env}
        try:
            process = subprocess.Popen(
                [program, *args[1:]],
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
                errors="replace",
                env=environment,
                start_new_session=True,
            )
        except FileNotFoundError:
            return RunResult(args, None, missing=True)
        except OSError as exc:
            return RunResult(args, None, stderr=f"{args[0]}: {exc.strerror}", missing=True)
        try:
            stdout, stderr = process.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(process.pid, signal.SIGKILL)
            stdout, stderr = process.communicate()
            return RunResult(args, None, stdout, stderr, timed_out=True)
        except BaseException:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(process.pid, signal.SIGKILL)
            process.wait()
            raise
        return RunResult(args, process.returncode, stdout, stderr)

    # --- services ---------------------------------------------------------------------------

    def reload(
        self, service: str, *, program: str | None = None, timeout: float = DEFAULT_TIMEOUT
    ) -> ServiceResult:
        """Make `service` re-read its configuration (`service NAME reload`)."""
        return self._service(service, "reload", program, timeout)

    def restart(
        self, service: str, *, program: str | None = None, timeout: float = DEFAULT_TIMEOUT
    ) -> ServiceResult:
        """Restart `service` (`service NAME restart`)."""
        return self._service(service, "restart", program, timeout)

    def installed(self, program: str) -> bool:
        return self.which(program) is not None

    def _service(
        self, service: str, action: str, program: str | None, timeout: float
    ) -> ServiceResult:
        past = _PAST.get(action, action)
        # A local box never touches the machine's services, installed or not (so its
        # results are the same on every machine).
        if self.is_local:
            return ServiceResult(
                service, action, ServiceOutcome.LOCAL, f"this is a local box: {service} not {past}"
            )
        if not self.installed(program or service):
            return ServiceResult(
                service,
                action,
                ServiceOutcome.ABSENT,
                f"{service} is not installed here: not {past}",
            )
        done = self.run(self._service_manager(service, action), timeout=timeout)
        if not done.ok:
            return ServiceResult(
                service,
                action,
                ServiceOutcome.FAILED,
                f"{service} could not be {past}: {done.detail}",
                done,
            )
        return ServiceResult(service, action, ServiceOutcome.DONE, "", done)

    # --- configuration swaps ----------------------------------------------------------------

    def swap_config(
        self,
        path: Path | str,
        new_text: str,
        *,
        test_argv: Sequence[str] | None,
        service: str,
        mode: int = 0o644,
        program: str | None = None,
        timeout: float = DEFAULT_TIMEOUT,
    ) -> SwapResult:
        """Test `new_text` as the config at `path`, swap it in, reload `service`; if the
        reload fails, put the previous file back and reload again.

        `test_argv` is the config test, with `CANDIDATE` where the candidate file goes (for
        example `("nsd-checkconf", CANDIDATE)`); the candidate is written beside `path` so
        relative includes resolve as they will. A test that fails (or is not installed on a
        real box where the service is) leaves the old file live and byte-identical.

        On a local box the test still runs when its program is here (it changes nothing),
        the file is written, and no service is reloaded; the result says so.
        """
        path = Path(path)
        old, old_mode = _read(path)
        new = new_text.encode("utf-8")
        if old == new:
            return SwapResult(path, service, SwapOutcome.UNCHANGED)
        service_here = not self.is_local and self.installed(program or service)
        test: RunResult | None = None
        if test_argv is not None:
            candidate = candidate_path(path)
            atomic_write(candidate, new, mode=mode)
            try:
                argv = [a.replace(CANDIDATE, str(candidate)) for a in test_argv]
                test = self.run(argv, timeout=timeout)
            finally:
                with contextlib.suppress(FileNotFoundError):
                    candidate.unlink()
            if not test.ok and (service_here or not test.missing):
                return SwapResult(
                    path,
                    service,
                    SwapOutcome.REFUSED,
                    f"{path.name} was not changed: its test failed: {test.detail}",
                    test=test,
                )
        atomic_write(path, new, mode=mode)
        if self.is_local:
            return SwapResult(
                path,
                service,
                SwapOutcome.WRITTEN,
                f"this is a local box: {path.name} written, {service} not reloaded",
                test=test,
            )
        if not service_here:
            return SwapResult(
                path,
                service,
                SwapOutcome.WRITTEN,
                f"{service} is not installed here: {path.name} written, not loaded",
                test=test,
            )
        reload = self.reload(service, program=program, timeout=timeout)
        if reload.ok:
            return SwapResult(path, service, SwapOutcome.SWAPPED, test=test, reload=reload)
        if old is None:
            with contextlib.suppress(FileNotFoundError):
                path.unlink()
        else:
            atomic_write(path, old, mode=old_mode)
        restore = self.reload(service, program=program, timeout=timeout)
        again = (
            "and reloaded"
            if restore.ok
            else f"but {service} could not be reloaded with it either: "
            f"{restore.run.detail if restore.run else restore.note}"
        )
        return SwapResult(
            path,
            service,
            SwapOutcome.ROLLED_BACK,
            f"{reload.note}; the previous {path.name} was put back {again}",
            test=test,
            reload=reload,
            restore=restore,
        )


def candidate_path(path: Path | str) -> Path:
    """Where `Host.swap_config` writes the new text it tests, beside the live file (a config
    that includes the live file's name can include this one instead, to test it in place)."""
    path = Path(path)
    return path.with_name(f".{path.name}.miab-new")


def _read(path: Path) -> tuple[bytes | None, int]:
    """The file's bytes (None if there is none) and its permission bits."""
    try:
        with path.open("rb") as f:
            return f.read(), os.fstat(f.fileno()).st_mode & 0o7777
    except FileNotFoundError:
        return None, 0o644
