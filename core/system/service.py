"""`box.system`: version, the privacy setting, package updates and reboots (SYSTEM.md §6,
BEHAVIOUR.md §9).

Everything that touches the machine goes through the host door. A local box (`miab init`)
lists this machine's available updates (a simulation changes nothing) but never upgrades or
reboots it, and says so; a machine without apt says that instead.
"""

from __future__ import annotations

import contextlib
import importlib.metadata
import os
import select
import signal
import time
import tomllib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Final

from core.audit import Actor
from core.config import parse_conf
from core.errors import HostError, MiabError, ValidationError
from core.host import Host
from core.results import Change
from core.system.apt import PackageUpdate, forget_cache, parse_simulation, read_cache, write_cache
from core.system.settings import PRIVACY_KEY, privacy_of, read_settings, write_setting
from core.system.upstream import (
    UPSTREAM_URL,
    UPSTREAM_URL_KEY,
    UpstreamError,
    fetch_latest_version,
)

if TYPE_CHECKING:
    from core.box import Box
    from core.jobs import JobStart

PACKAGE: Final = "miab-tui"
NO_REBOOT: Final = "No reboot is required, so it is not allowed."
LOCAL_REBOOT: Final = "This is a local box: it will not reboot this machine."
LOCAL_UPGRADE: Final = "This is a local box: it does not upgrade this machine's packages."
NO_APT: Final = "apt-get is not installed here, so there are no package updates to list."
NO_APT_UPGRADE: Final = "apt-get is not installed here, so packages cannot be upgraded this way."
PRIVACY_ON: Final = (
    "Mail-in-a-Box version check disabled by privacy setting. "
    "(Set the privacy setting to off to allow it.)"
)
# Where Mail-in-a-Box's setup leaves the script that starts its daemon from the checkout.
MIAB_START_SCRIPT: Final = "/usr/local/lib/mailinabox/start"
UPDATE_TIMEOUT: Final = 600.0  # apt-get update
SIMULATE_TIMEOUT: Final = 120.0  # apt-get -s upgrade
UPGRADE_TIMEOUT: Final = 3 * 3600.0  # apt-get upgrade
SHUTDOWN_TIMEOUT: Final = 30.0
MAX_OUTPUT: Final = 1 << 20  # characters of an upgrade's output kept as its result
MAX_LINE: Final = 2000  # characters of one output line passed on as progress
STOP_WAIT: Final = 60.0  # seconds given to apt after SIGTERM when its job is cancelled

Progress = Callable[[str, float | None], None]


class NotAvailable(MiabError):
    """What was asked cannot be done here (no apt, a local box, the privacy setting); nothing
    was changed or contacted."""


class UpstreamUnreachable(MiabError):
    """The latest version could not be had from mailinabox.email (the message says why)."""


@dataclass(frozen=True, slots=True)
class VersionInfo:
    """Our version (`v`-prefixed, as the reference's tags) and, when this machine has a
    Mail-in-a-Box checkout (a box set up by Mail-in-a-Box), that checkout's version."""

    ours: str
    box_miab: str | None


@dataclass(frozen=True, slots=True)
class RebootOutcome:
    """What `reboot` did: `text` is the answer (the reference's refusal, or the output of
    `shutdown`); `started` is true when the machine is going down."""

    started: bool
    text: str


def our_version() -> str:
    """This package's version, `v`-prefixed (`v0.1.0`); from pyproject.toml when the package
    is not installed (a source checkout); `Unknown` if neither says."""
    try:
        return "v" + importlib.metadata.version(PACKAGE)
    except importlib.metadata.PackageNotFoundError:
        pass
    try:
        with (Path(__file__).resolve().parents[2] / "pyproject.toml").open("rb") as f:
            return "v" + str(tomllib.load(f)["project"]["version"])
    except (OSError, KeyError, ValueError, tomllib.TOMLDecodeError):
        return "Unknown"


class SystemService:
    """The System area of a box."""

    def __init__(self, box: Box) -> None:
        self._box = box
        self.config = box.config
        self.host = Host(box.config)
        self.apt_cache = box.config.state_db.parent / "system" / "apt-updates.json"
        self._miab_version: tuple[str | None] | None = None

    # --- version ---------------------------------------------------------------------------

    def version(self) -> str:
        """`GET /system/version`: our version, `v`-prefixed."""
        return our_version()

    def version_info(self) -> VersionInfo:
        return VersionInfo(our_version(), self.box_miab_version())

    def box_miab_version(self) -> str | None:
        """The Mail-in-a-Box checkout's version (`git describe --always --abbrev=0`, as the
        reference), when this machine runs Mail-in-a-Box's own setup; None otherwise."""
        if self._miab_version is None:
            self._miab_version = (self._find_miab_version(),)
        return self._miab_version[0]

    def _find_miab_version(self) -> str | None:
        try:
            script = self.config.system_path(MIAB_START_SCRIPT).read_text("utf-8", "replace")
        except OSError:
            return None
        daemons = [w for w in script[:4096].split() if w.endswith("/management/daemon.py")]
        if not daemons:
            return None
        git_dir = Path(daemons[0]).parent.parent / ".git"
        if not git_dir.is_dir():
            return None
        run = self.host.run(
            ["git", "describe", "--always", "--abbrev=0"], env={"GIT_DIR": str(git_dir)}, timeout=5
        )
        tag = run.stdout.strip()
        return tag[:64] if run.ok and tag and tag.isprintable() else None

    # --- privacy and the upstream version ----------------------------------------------------

    def privacy(self) -> bool:
        """`GET /system/privacy`: true = never contact mailinabox.email (the default)."""
        return privacy_of(read_settings(self.config.settings_yaml))

    def set_privacy(self, value: str | bool, *, actor: Actor) -> Change:
        """`POST /system/privacy`: `private` (or True) turns the version check off, `off` (or
        False) allows it. Answers the reference's `OK`.

        Raises:
            ValidationError: any other value; nothing is written.
        """
        shown = value if isinstance(value, bool) else str(value)[:40]
        with self._box.audit.recording(actor, "set privacy", str(shown)):
            if isinstance(value, bool):
                private = value
            elif value == "private":
                private = True
            elif value == "off":
                private = False
            else:
                raise ValidationError(
                    f"Invalid privacy value {shown!r}: use private (no version checks) or off.",
                    field="value",
                )
            changed = write_setting(self.config.settings_yaml, PRIVACY_KEY, private)
        return Change(("OK",), changed=changed, bare=True)

    def upstream_url(self) -> str:
        return self._setting(UPSTREAM_URL_KEY) or UPSTREAM_URL

    def latest_version(self) -> str:
        """`POST /system/latest-upstream-version`: the latest Mail-in-a-Box version, asked of
        mailinabox.email only when the privacy setting is off.

        Raises:
            NotAvailable: the privacy setting is on (nothing contacted).
            UpstreamUnreachable: it could not be had (why, in the message).
        """
        if self.privacy():
            raise NotAvailable(PRIVACY_ON)
        return self.fetch_latest_version()

    def fetch_latest_version(self) -> str:
        """Ask regardless of the privacy setting (the caller has checked it).

        Raises:
            UpstreamUnreachable: it could not be had.
        """
        try:
            return fetch_latest_version(self.upstream_url())
        except UpstreamError as exc:
            raise UpstreamUnreachable(
                f"The latest Mail-in-a-Box version could not be determined: {exc}."
            ) from None

    def _setting(self, key: str) -> str:
        """A conf setting as the conf file says it now (read again each time), else as the box
        was opened with."""
        path = self.config.conf_path
        if path is not None:
            try:
                values = parse_conf(path.read_text(encoding="utf-8", errors="replace"))
            except OSError:
                values = {}
            if key in values:
                return values[key]
        return self.config.extra.get(key, "")

    # --- updates ---------------------------------------------------------------------------

    @property
    def apt_installed(self) -> bool:
        return self.host.installed("apt-get")

    def cached_updates(self) -> tuple[PackageUpdate, ...] | None:
        """The list as last read (within 8 hours, nothing installed since), or None."""
        return read_cache(self.apt_cache)

    def updates(self, *, refresh: bool = False) -> tuple[PackageUpdate, ...]:
        """The upgradable packages (`apt-get -qq -s upgrade`), kept 8 hours. `refresh` first
        runs `apt-get -qq update` when the list is not kept (the API's `GET /system/updates`;
        never on a local box, which does not change this machine).

        Raises:
            NotAvailable: apt-get is not installed here.
            HostError: apt-get failed (its last line says why).
        """
        cached = self.cached_updates()
        if cached is not None:
            return cached
        if not self.apt_installed:
            raise NotAvailable(NO_APT)
        if refresh and not self.config.is_local:
            # A failed refresh still leaves the last package lists to simulate against.
            self.host.run(["apt-get", "-qq", "update"], timeout=UPDATE_TIMEOUT)
        run = self.host.run(["apt-get", "-qq", "-s", "upgrade"], timeout=SIMULATE_TIMEOUT)
        if not run.ok:
            raise HostError(f"apt-get could not list the updates: {run.detail}")
        packages = parse_simulation(run.stdout)
        write_cache(self.apt_cache, packages)
        return packages

    def updates_text(self, *, refresh: bool = True) -> str:
        """`GET /system/updates`: `NAME (NEWVERSION)` lines."""
        return "".join(p.line + "\n" for p in self.updates(refresh=refresh))

    # --- upgrading ---------------------------------------------------------------------------

    def check_upgrade(self) -> None:
        """Raises: NotAvailable: a local box, or no apt here (nothing is run)."""
        if self.config.is_local:
            raise NotAvailable(LOCAL_UPGRADE)
        if not self.apt_installed:
            raise NotAvailable(NO_APT_UPGRADE)

    def start_upgrade(self, *, actor: Actor) -> JobStart:
        """Start the `update-packages` job (or find the one under way); follow its lines with
        `box.jobs.lines`.

        Raises:
            NotAvailable: a local box, or no apt here.
        """
        from core.jobs.kinds import UPDATE_PACKAGES

        self.check_upgrade()
        return self._box.jobs.start(UPDATE_PACKAGES, actor=actor)

    def upgrade(self, *, actor: Actor, timeout: float | None = None) -> str:
        """`POST /system/update-packages`: run the job (after one already under way) and answer
        apt-get upgrade's output.

        Raises:
            NotAvailable: a local box, or no apt here.
            HostError: the job failed (apt-get's last line says why).
        """
        from core.jobs.kinds import UPDATE_PACKAGES

        self.check_upgrade()
        return self._box.jobs.result(UPDATE_PACKAGES, actor=actor, timeout=timeout)

    def upgrade_packages(self, *, actor: Actor, progress: Progress) -> str:
        """The job's work: `apt-get -qq update`, then `apt-get -y upgrade` with
        DEBIAN_FRONTEND=noninteractive, every output line handed to `progress` as it comes.
        Answers the upgrade's output.

        Raises:
            NotAvailable: a local box, or no apt here.
            HostError: either command failed or ran out of time.
        """
        with self._box.audit.recording(actor, "upgrade packages", self.config.primary_hostname):
            self.check_upgrade()
            env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
            progress("apt-get -qq update", 0.0)
            code, output = self._streamed(["apt-get", "-qq", "update"], env, progress, 0.1)
            if code != 0:
                raise HostError(_failed("apt-get update", code, output))
            progress("apt-get -y upgrade", 0.1)
            code, output = self._streamed(["apt-get", "-y", "upgrade"], env, progress, 1.0)
            forget_cache(self.apt_cache)
            if code != 0:
                raise HostError(_failed("apt-get upgrade", code, output))
            progress("", 1.0)
            return output

    def _streamed(
        self, argv: list[str], env: dict[str, str], progress: Progress, fraction: float
    ) -> tuple[int | None, str]:
        """Run `argv` through the host door, passing each line of its output (stdout and
        stderr) to `progress` as it comes; (exit status or None if killed, the output)."""
        timeout = UPGRADE_TIMEOUT if "upgrade" in argv else UPDATE_TIMEOUT
        read_fd, write_fd = os.pipe()
        try:
            proc = self.host.spawn(argv, output_fd=write_fd, env=env)
        except OSError as exc:
            os.close(read_fd)
            raise HostError(f"{argv[0]} could not be started: {exc.strerror}.") from None
        finally:
            os.close(write_fd)
        output: list[str] = []
        size = 0
        pending = b""
        deadline = time.monotonic() + timeout
        killed = False
        try:
            while True:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    _signal(proc.pid, signal.SIGKILL)
                    killed = True
                    break
                ready, _, _ = select.select([read_fd], [], [], min(remaining, 1.0))
                if not ready:
                    continue
                chunk = os.read(read_fd, 65536)
                if not chunk:
                    break
                pending += chunk
                *lines, pending = pending.split(b"\n")
                for raw in lines:
                    line = raw.decode("utf-8", "replace").rstrip("\r")
                    if line:
                        progress(line[:MAX_LINE], None)
                    size += len(line) + 1
                    output.append(line + "\n")
                    while size > MAX_OUTPUT and len(output) > 1:
                        size -= len(output.pop(0))
            if pending:
                line = pending.decode("utf-8", "replace")
                progress(line[:MAX_LINE], None)
                output.append(line)
        except BaseException:
            # The job was cancelled (or this process is ending): apt gets SIGTERM and a minute
            # to stop cleanly (dpkg finishes the package it is configuring), then SIGKILL.
            _signal(proc.pid, signal.SIGTERM)
            end = time.monotonic() + STOP_WAIT
            while proc.poll() is None and time.monotonic() < end:
                time.sleep(0.1)
            _signal(proc.pid, signal.SIGKILL)
            proc.wait()
            raise
        finally:
            os.close(read_fd)
        code = proc.wait()
        return (None if killed else code), "".join(output)

    # --- reboot ------------------------------------------------------------------------------

    def reboot_required(self) -> bool:
        """`GET /system/reboot`: true if package updates left the reboot flag file."""
        return self.config.reboot_required_flag.exists()

    def reboot(self, *, actor: Actor) -> RebootOutcome:
        """`POST /system/reboot`: `shutdown -r now` (its output answered), only when a reboot
        is required; otherwise the reference's refusal. A local box never reboots the machine.
        """
        target = self.config.primary_hostname
        if not self.reboot_required():
            self._box.audit.append(actor, "reboot", target, "refused: " + NO_REBOOT)
            return RebootOutcome(False, NO_REBOOT)
        if self.config.is_local:
            self._box.audit.append(actor, "reboot", target, "refused: " + LOCAL_REBOOT)
            return RebootOutcome(False, LOCAL_REBOOT)
        run = self.host.run(["shutdown", "-r", "now"], timeout=SHUTDOWN_TIMEOUT)
        if run.missing:
            text = "shutdown is not installed here: the machine was not rebooted."
            self._box.audit.append(actor, "reboot", target, "failed: " + text)
            return RebootOutcome(False, text)
        self._box.audit.append(actor, "reboot", target, "ok" if run.ok else "failed: " + run.detail)
        return RebootOutcome(run.ok, run.stdout + run.stderr)


def _failed(what: str, code: int | None, output: str) -> str:
    last = [line for line in output.strip().splitlines() if line.strip()]
    why = "it ran out of time" if code is None else f"exit status {code}"
    return f"{what} failed ({why})" + (f": {last[-1][:300]}" if last else ".")


def _signal(pid: int, sig: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pid, sig)
