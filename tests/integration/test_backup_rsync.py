"""Backups over SSH with rsync, to an `sshd` (openssh-server) this test starts itself on
127.0.0.1 at a free port, with its own host key, config and authorized key in a temp folder
(never the system's service). The box logs in with its own key (made by the box, at the path
its config names); the config's test-listing passes, a backup and a restore round trip, and a
key the server does not know gets the reference's message."""

from __future__ import annotations

import getpass
import os
import socket
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from core import Box
from core.backup import BackupOutcome, RestoreRequest
from core.errors import ValidationError
from tests.conftest import TEST_ACTOR
from tests.integration.backup_helpers import done, make_live_box, next_second, snapshot
from tests.integration.conftest import free_tcp_port, missing_requirement, require_program

pytestmark = pytest.mark.integration

WRONG_KEY = (
    "Connection to rsync host failed: Invalid user or check you correctly copied the SSH key."
)


@dataclass(frozen=True)
class Sshd:
    port: int
    user: str
    authorized_keys: Path
    remote: Path  # the folder backups go to

    def target(self, folder: Path | None = None) -> str:
        return f"rsync://{self.user}@127.0.0.1:{self.port}/{folder or self.remote}"


@pytest.fixture
def sshd(tmp_path: Path) -> Iterator[Sshd]:
    program = require_program("sshd", "openssh-server")
    require_program("rsync", "rsync")
    require_program("ssh", "openssh-client")
    keygen = require_program("ssh-keygen", "openssh-client")
    if os.geteuid() == 0 and not Path("/run/sshd").is_dir():
        # sshd run by root needs its privilege separation folder, which the package's
        # service makes at boot; an empty root-owned folder, as the service leaves it.
        try:
            os.makedirs("/run/sshd", mode=0o755, exist_ok=True)
        except OSError as exc:
            missing_requirement(f"sshd needs /run/sshd, which cannot be made: {exc.strerror}")
    folder = tmp_path / "sshd"
    folder.mkdir()
    host_key = folder / "host_key"
    subprocess.run([keygen, "-q", "-t", "ed25519", "-N", "", "-f", str(host_key)], check=True)
    authorized = folder / "authorized_keys"
    authorized.write_text("")
    remote = tmp_path / "remote"
    remote.mkdir()
    port = free_tcp_port()
    config = folder / "sshd_config"
    config.write_text(
        "\n".join(
            [
                f"Port {port}",
                "ListenAddress 127.0.0.1",
                f"HostKey {host_key}",
                f"AuthorizedKeysFile {authorized}",
                "PidFile none",
                "PubkeyAuthentication yes",
                "PasswordAuthentication no",
                "KbdInteractiveAuthentication no",
                "UsePAM no",
                "StrictModes no",
                "PermitRootLogin prohibit-password",
                "LogLevel VERBOSE",
                "",
            ]
        )
    )
    log = (folder / "sshd.log").open("wb")
    process = subprocess.Popen([program, "-D", "-e", "-f", str(config)], stdout=log, stderr=log)
    deadline = time.monotonic() + 10
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            break
        except OSError:
            if process.poll() is not None or time.monotonic() > deadline:
                log.close()
                pytest.fail("sshd did not start: " + (folder / "sshd.log").read_text())
            time.sleep(0.05)
    yield Sshd(port, getpass.getuser(), authorized, remote)
    process.terminate()
    process.wait(10)
    log.close()


@pytest.fixture
def rsync_box(tmp_path: Path, key_material: Path, sshd: Sshd) -> Iterator[Box]:
    require_program("duplicity", "duplicity")
    box = make_live_box(tmp_path / "box", key_material)
    # The box's own key (its config names where: inside the box folder on a local box),
    # made by the box and accepted by the server.
    pub = box.backup.ensure_ssh_key(actor=TEST_ACTOR)
    assert box.config.backup_ssh_key.is_relative_to(box.config.system_root)
    sshd.authorized_keys.write_text(pub)
    yield box
    box.close()


def test_rsync_round_trip(rsync_box: Box, sshd: Sshd, tmp_path: Path) -> None:
    box = rsync_box
    target = sshd.target()
    assert box.backup.test_target(target) == ()
    assert box.backup.set_config(target, "", "", "3", actor=TEST_ACTOR).text == "OK"
    assert box.backup.get_config().for_ui()["target"] == target
    state = snapshot(box.config.storage_root)
    job = done(box, box.backup.start_backup(actor=TEST_ACTOR))
    assert BackupOutcome.from_json(job.result).full
    assert any(p.name.startswith("duplicity-full.") for p in sshd.remote.iterdir())
    status = box.backup.status()
    assert status.error is None and [b.full for b in status.backups] == [True]
    on_server = sum(p.stat().st_size for p in sshd.remote.iterdir())
    assert status.backups[0].size + status.unmatched_file_size == on_server
    next_second()
    (box.config.storage_root / "settings.yaml").write_text("privacy: false\n")
    job = done(box, box.backup.start_backup(actor=TEST_ACTOR))
    assert BackupOutcome.from_json(job.result).full is False
    destination = tmp_path / "restored"
    first = box.backup.status().backups[-1]
    done(
        box,
        box.backup.start_restore(
            RestoreRequest(time=first.date, to=str(destination)), actor=TEST_ACTOR
        ),
    )
    assert snapshot(destination) == state


def test_rsync_failures_in_the_reference_words(rsync_box: Box, sshd: Sshd, tmp_path: Path) -> None:
    box = rsync_box
    before = box.backup.get_config()
    with pytest.raises(ValidationError) as err:
        box.backup.set_config(
            sshd.target(tmp_path / "no-such-folder"), "", "", "3", actor=TEST_ACTOR
        )
    assert err.value.message == (
        f"Connection to rsync host failed: Provided path {tmp_path}/no-such-folder/ is invalid."
    )
    # A key the server does not know.
    sshd.authorized_keys.write_text("")
    with pytest.raises(ValidationError) as err:
        box.backup.set_config(sshd.target(), "", "", "3", actor=TEST_ACTOR)
    assert err.value.message == WRONG_KEY
    with pytest.raises(ValidationError) as err:
        box.backup.set_config(
            "rsync://someone@no-such-host.invalid/backups", "", "", "3", actor=TEST_ACTOR
        )
    assert err.value.message == (
        "Connection to rsync host failed: The hostname no-such-host.invalid cannot be resolved."
    )
    assert box.backup.get_config() == before  # nothing saved
