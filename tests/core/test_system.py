"""`box.system` (SYSTEM.md §6): version, privacy, the upstream version, updates, upgrading and
reboots, on real boxes. The upstream server is an HTTP server on loopback; apt is this
machine's (a simulation only); the upgrade's streaming runs a real program of our own in
apt-get's place. Nothing here changes this machine.
"""

from __future__ import annotations

import dataclasses
import http.server
import importlib.metadata
import subprocess
import threading
from pathlib import Path
from types import TracebackType

import pytest
import yaml

from core import Box
from core.errors import HostError, ValidationError
from core.host import Host
from core.jobs import JobState
from core.jobs.kinds import UPDATE_PACKAGES
from core.system.apt import PackageUpdate, parse_simulation, read_cache
from core.system.service import (
    LOCAL_REBOOT,
    LOCAL_UPGRADE,
    NO_APT,
    NO_APT_UPGRADE,
    NO_REBOOT,
    PRIVACY_ON,
    NotAvailable,
    UpstreamUnreachable,
)
from core.system.upstream import UPSTREAM_URL_KEY
from tests.conftest import TEST_ACTOR


class UpstreamServer:
    """mailinabox.email's setup script, served on loopback: `use_for(box)` points the box's
    upstream URL (`MIAB_UPSTREAM_URL` in its conf) here."""

    def __init__(self, body: bytes, status: int = 200) -> None:
        payload, code = body, status

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 - the stdlib's name
                self.send_response(code)
                self.send_header("Content-Type", "text/plain")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            def log_message(self, *args: object) -> None:
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/setup.sh?ping=1"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def use_for(self, box: Box) -> None:
        assert box.config.conf_path is not None
        text = box.config.conf_path.read_text()
        lines = [line for line in text.splitlines() if not line.startswith(UPSTREAM_URL_KEY)]
        box.config.conf_path.write_text(
            "\n".join([*lines, f"{UPSTREAM_URL_KEY}={self.url}"]) + "\n"
        )

    def __enter__(self) -> UpstreamServer:
        self.thread.start()
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.server.shutdown()
        self.server.server_close()


# --- version -----------------------------------------------------------------------------------


def test_version_is_ours_v_prefixed(demo_box: Box) -> None:
    assert demo_box.system.version() == "v" + importlib.metadata.version("miab-tui")
    info = demo_box.system.version_info()
    assert info.ours == demo_box.system.version() and info.box_miab is None


def test_the_mail_in_a_box_checkout_of_the_box(demo_box: Box, tmp_path: Path) -> None:
    """Found as the reference's setup leaves it: the start script names the checkout."""
    git = Host(demo_box.config).which("git")
    if git is None:
        pytest.skip("git is not installed here")
    checkout = tmp_path / "mailinabox"
    (checkout / "management").mkdir(parents=True)
    (checkout / "management" / "daemon.py").write_text("")
    env = {
        "GIT_AUTHOR_NAME": "t",
        "GIT_AUTHOR_EMAIL": "t@x",
        "GIT_COMMITTER_NAME": "t",
        "GIT_COMMITTER_EMAIL": "t@x",
        "PATH": "/usr/bin:/bin",
    }
    for argv in (
        ["init", "-q"],
        ["add", "."],
        ["commit", "-qm", "v0.51"],
        ["tag", "-a", "v0.51", "-m", "v0.51"],
    ):
        subprocess.run([git, "-C", str(checkout), *argv], check=True, env=env)
    start = demo_box.config.system_path("/usr/local/lib/mailinabox/start")
    start.parent.mkdir(parents=True)
    start.write_text(
        f"#!/bin/bash\nsource /etc/mailinabox.conf\nexec python {checkout}/management/daemon.py\n"
    )
    assert demo_box.system.box_miab_version() == "v0.51"


# --- privacy and the upstream version ----------------------------------------------------------


def test_privacy_is_on_by_default_and_kept_in_settings_yaml(demo_box: Box) -> None:
    system = demo_box.system
    settings = demo_box.config.settings_yaml
    assert system.privacy() is True
    settings.write_text("other: kept\n")
    change = system.set_privacy("off", actor=TEST_ACTOR)
    assert change.text == "OK" and change.changed
    assert yaml.safe_load(settings.read_text()) == {"other": "kept", "privacy": False}
    assert system.privacy() is False
    assert not system.set_privacy("off", actor=TEST_ACTOR).changed
    system.set_privacy("private", actor=TEST_ACTOR)
    assert yaml.safe_load(settings.read_text()) == {"other": "kept", "privacy": True}
    record = demo_box.audit.recent(1)[0]
    assert (record.actor, record.operation, record.target, record.outcome) == (
        TEST_ACTOR.name,
        "set privacy",
        "private",
        "ok",
    )


@pytest.mark.parametrize("value", ["", "on", "true", "Private", "x" * 10_000, "off\n"])
def test_a_bad_privacy_value_is_refused_and_nothing_written(demo_box: Box, value: str) -> None:
    settings = demo_box.config.settings_yaml
    settings.write_text("privacy: false\n")
    with pytest.raises(ValidationError) as refused:
        demo_box.system.set_privacy(value, actor=TEST_ACTOR)
    assert refused.value.message == (
        f"Invalid privacy value {value[:40]!r}: use private (no version checks) or off."
    )
    assert settings.read_text() == "privacy: false\n"


def test_a_broken_settings_file_reads_as_the_defaults(demo_box: Box) -> None:
    demo_box.config.settings_yaml.write_text("privacy: [unclosed\n")
    assert demo_box.system.privacy() is True
    demo_box.config.settings_yaml.write_text("- a list\n")
    assert demo_box.system.privacy() is True
    demo_box.config.settings_yaml.write_text("privacy: maybe\n")
    assert demo_box.system.privacy() is True  # not a boolean: the safe reading


def test_the_latest_version_only_when_privacy_is_off(demo_box: Box) -> None:
    system = demo_box.system
    with UpstreamServer(b"#!/bin/bash\n# comment\nTAG=v75\nTAG=v1\n") as server:
        server.use_for(demo_box)
        with pytest.raises(NotAvailable) as refused:
            system.latest_version()
        assert refused.value.message == PRIVACY_ON
        system.set_privacy("off", actor=TEST_ACTOR)
        assert system.latest_version() == "v75"


@pytest.mark.parametrize(
    ("body", "status", "reason"),
    [
        (b"no tag here\n", 200, "names no version"),
        (b"TAG=\n", 200, "names no version"),
        (b"TAG=v75\n", 404, "answered HTTP 404"),
    ],
)
def test_an_upstream_without_a_version(
    demo_box: Box, body: bytes, status: int, reason: str
) -> None:
    demo_box.system.set_privacy("off", actor=TEST_ACTOR)
    with UpstreamServer(body, status) as server:
        server.use_for(demo_box)
        with pytest.raises(UpstreamUnreachable) as failed:
            demo_box.system.latest_version()
    assert failed.value.message == (
        f"The latest Mail-in-a-Box version could not be determined: {server.url} {reason}."
    )


def test_an_unreachable_upstream_is_a_clear_error(demo_box: Box) -> None:
    demo_box.system.set_privacy("off", actor=TEST_ACTOR)
    with UpstreamServer(b"") as server:
        server.use_for(demo_box)
    with pytest.raises(UpstreamUnreachable) as failed:
        demo_box.system.latest_version()  # the server is gone: connection refused
    assert failed.value.message == (
        f"The latest Mail-in-a-Box version could not be determined: {server.url} could not be "
        "reached."
    )


# --- updates -----------------------------------------------------------------------------------

SIMULATION = """\
Inst base-files [12.4+deb12u11] (12.4+deb12u15 Debian:12.15/oldstable [amd64])
Conf base-files (12.4+deb12u15 Debian:12.15/oldstable [amd64])
Inst libssl3 [3.0.22-1~deb12u1] (3.0.22-1~deb12u2 Debian-Security:12/oldstable-security [amd64]) []

Some other line apt printed
"""


def test_apt_simulation_is_read_as_the_reference_reads_it() -> None:
    assert parse_simulation(SIMULATION) == (
        PackageUpdate("base-files", "12.4+deb12u15", "12.4+deb12u11"),
        PackageUpdate("libssl3", "3.0.22-1~deb12u2", "3.0.22-1~deb12u1"),
        PackageUpdate("[Some other line apt printed]", "", ""),
    )
    assert [p.line for p in parse_simulation(SIMULATION)][:2] == [
        "base-files (12.4+deb12u15)",
        "libssl3 (3.0.22-1~deb12u2)",
    ]


def test_updates_on_this_machine_are_listed_and_kept(demo_box: Box) -> None:
    system = demo_box.system
    if not system.apt_installed:
        with pytest.raises(NotAvailable, match=NO_APT):
            system.updates()
        return
    packages = system.updates(refresh=True)  # a local box never refreshes apt's lists
    assert read_cache(system.apt_cache) == packages
    assert system.updates_text() == "".join(p.line + "\n" for p in packages)
    assert oct(system.apt_cache.stat().st_mode & 0o777) == "0o600"


def test_no_apt_here_says_so(demo_box: Box, tmp_path: Path) -> None:
    system = demo_box.system
    system.host = Host(demo_box.config, path=str(tmp_path))  # a machine without apt-get
    with pytest.raises(NotAvailable) as refused:
        system.updates()
    assert refused.value.message == NO_APT


# --- upgrading ---------------------------------------------------------------------------------


def test_a_local_box_does_not_upgrade_this_machine(demo_box: Box) -> None:
    with pytest.raises(NotAvailable) as refused:
        demo_box.system.start_upgrade(actor=TEST_ACTOR)
    assert refused.value.message == LOCAL_UPGRADE
    with pytest.raises(NotAvailable, match=LOCAL_UPGRADE):
        demo_box.system.upgrade(actor=TEST_ACTOR)
    assert not demo_box.jobs.recent()


def test_the_update_packages_job_refuses_on_a_local_box_too(demo_box: Box) -> None:
    """The job kind itself checks again (a job started by any face runs the same code)."""
    started = demo_box.jobs.start(UPDATE_PACKAGES, actor=TEST_ACTOR)
    job = demo_box.jobs.wait(started.job.id, timeout=60)
    assert (job.state, job.result) == (JobState.FAILED, LOCAL_UPGRADE)
    record = demo_box.audit.recent(1)[0]
    assert (record.operation, record.outcome) == ("upgrade packages", "refused: " + LOCAL_UPGRADE)


FAKE_APT = """#!/bin/sh
case "$*" in
  "-qq update") echo "updated lists" ;;
  "-y upgrade")
    echo "Reading package lists..."
    echo "DEBIAN_FRONTEND=$DEBIAN_FRONTEND"
    echo "warning on stderr" >&2
    printf 'The following packages will be upgraded:\\n  base-files\\n'
    [ -n "$FAIL" ] && { echo "E: dpkg was interrupted" >&2; exit 100; }
    printf 'no newline at the end' ;;
esac
"""


def real_box_system(box: Box, tmp_path: Path, *, fail: bool = False) -> object:
    """The box's System service as on a real box whose apt-get is our own program."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir(exist_ok=True)
    apt = bin_dir / "apt-get"
    apt.write_text(FAKE_APT.replace('"$FAIL"', '"1"' if fail else '""'))
    apt.chmod(0o755)
    system = box.system
    system.config = dataclasses.replace(box.config, system_root=Path("/"))
    system.host = Host(system.config, path=str(bin_dir))
    system.apt_cache = tmp_path / "apt-updates.json"
    return system


def test_the_upgrade_streams_its_output(demo_box: Box, tmp_path: Path) -> None:
    system = demo_box.system
    real_box_system(demo_box, tmp_path)
    system.apt_cache.write_text("{}")
    lines: list[tuple[str, float | None]] = []
    result = system.upgrade_packages(
        actor=TEST_ACTOR, progress=lambda line, f: lines.append((line, f))
    )
    assert result.startswith("Reading package lists...\nDEBIAN_FRONTEND=noninteractive\n")
    assert "warning on stderr\n" in result and result.endswith("no newline at the end")
    shown = [line for line, _ in lines if line]
    assert shown[:3] == ["apt-get -qq update", "updated lists", "apt-get -y upgrade"]
    assert shown[-1] == "no newline at the end"
    assert lines[-1] == ("", 1.0)
    assert not system.apt_cache.exists()  # the list is asked again after an upgrade
    assert demo_box.audit.recent(1)[0].operation == "upgrade packages"


def test_a_failed_upgrade_says_why(demo_box: Box, tmp_path: Path) -> None:
    system = demo_box.system
    real_box_system(demo_box, tmp_path, fail=True)
    with pytest.raises(HostError) as failed:
        system.upgrade_packages(actor=TEST_ACTOR, progress=lambda line, f: None)
    assert (
        failed.value.message == "apt-get upgrade failed (exit status 100): E: dpkg was interrupted"
    )
    assert demo_box.audit.recent(1)[0].outcome.startswith("refused: apt-get upgrade failed")


def test_no_apt_no_upgrade(demo_box: Box, tmp_path: Path) -> None:
    system = demo_box.system
    real_box_system(demo_box, tmp_path)
    system.host = Host(system.config, path=str(tmp_path / "empty"))
    with pytest.raises(NotAvailable, match=NO_APT_UPGRADE):
        system.check_upgrade()


# --- reboot ------------------------------------------------------------------------------------


def test_reboot_only_when_required_and_never_from_a_local_box(demo_box: Box) -> None:
    system = demo_box.system
    assert system.reboot_required() is False
    outcome = system.reboot(actor=TEST_ACTOR)
    assert (outcome.started, outcome.text) == (False, NO_REBOOT)
    assert NO_REBOOT == "No reboot is required, so it is not allowed."
    flag = demo_box.config.reboot_required_flag
    flag.parent.mkdir(parents=True, exist_ok=True)
    flag.write_text("*** System restart required ***\n")
    assert system.reboot_required() is True
    outcome = system.reboot(actor=TEST_ACTOR)
    assert (outcome.started, outcome.text) == (False, LOCAL_REBOOT)
    records = demo_box.audit.recent(2)
    assert [(r.operation, r.outcome) for r in records] == [
        ("reboot", "refused: " + LOCAL_REBOOT),
        ("reboot", "refused: " + NO_REBOOT),
    ]


def test_the_reboot_command_of_a_real_box(demo_box: Box, tmp_path: Path) -> None:
    """`shutdown -r now` through the host door, its output answered (our own `shutdown`)."""
    system = demo_box.system
    real_box_system(demo_box, tmp_path)
    shutdown = tmp_path / "bin" / "shutdown"
    shutdown.write_text('#!/bin/sh\necho "Reboot scheduled: $*"\n')
    shutdown.chmod(0o755)
    flag = demo_box.config.reboot_required_flag  # the box folder's flag: config kept its path
    flag.parent.mkdir(parents=True, exist_ok=True)
    flag.write_text("")
    object.__setattr__(system.config, "system_root", Path("/"))
    system.reboot_required = lambda: True  # type: ignore[method-assign]
    outcome = system.reboot(actor=TEST_ACTOR)
    assert (outcome.started, outcome.text) == (True, "Reboot scheduled: -r now\n")
