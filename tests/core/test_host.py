"""The host door (core.host): real programs run, a config test that fails leaves the old
config live, a reload that fails puts the old config back, and a local box changes nothing
outside its folder and says so. No mocks: every program here is a real one, and the service
manager of a non-local box is pointed at real programs of the test's own."""

from __future__ import annotations

import os
import shutil
import stat
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Final

import pytest

from core import init_box
from core.config import BoxConfig
from core.host import (
    CANDIDATE,
    Host,
    ServiceOutcome,
    SwapOutcome,
)

GOOD_NSD_CONF: Final = (
    "server:\n\tip-address: 127.0.0.1\n"
    "\nzone:\n\tname: example.com\n\tzonefile: example.com.txt.signed\n"
)
BAD_NSD_CONF: Final = "server:\n\tbogus-option: yes\n"
# A service manager that fails while the config holds "bad" (as a daemon refusing it would),
# and logs every call beside the config.
FAILS_ON_BAD: Final = (
    'echo "$1 $2" >> "$0.calls"; '
    'if grep -q bad "$0"; then echo "job for $1 failed: bad config" >&2; '
    "exit 1; fi"
)


def real_box(tmp_path: Path) -> BoxConfig:
    """A non-local box config (system_root "/") whose files the tests keep in tmp_path."""
    config = BoxConfig(storage_root=tmp_path / "data", primary_hostname="box.example.com")
    assert not config.is_local
    return config


def manager_for(conf: Path) -> Host:
    def service_manager(service: str, action: str) -> Sequence[str]:
        return ("sh", "-c", FAILS_ON_BAD, str(conf), service, action)

    return Host(real_box(conf.parent), service_manager=service_manager)


def config_test() -> list[str]:
    """nsd's own config test when nsd is installed, else a real program that fails on "bad"."""
    if shutil.which("nsd-checkconf", path="/usr/sbin:/usr/bin:/sbin:/bin"):
        return ["nsd-checkconf", CANDIDATE]
    return ["sh", "-c", '! grep -q bogus "$0"', CANDIDATE]


def calls(conf: Path) -> list[str]:
    log = conf.with_name(conf.name + ".calls")
    return log.read_text().splitlines() if log.exists() else []


# --- run and which ----------------------------------------------------------------------------


def test_run_true_and_false(tmp_path: Path) -> None:
    host = Host(real_box(tmp_path))
    done = host.run(["true"], timeout=10)
    assert done.ok and done.returncode == 0 and not done.timed_out and not done.missing
    failed = host.run(["false"], timeout=10)
    assert not failed.ok and failed.returncode == 1 and failed.detail == "exit status 1"
    said = host.run(
        ["sh", "-c", 'echo "out $X"; echo err >&2; exit 3'], timeout=10, env={"X": "given"}
    )
    assert (said.returncode, said.stdout, said.stderr) == (3, "out given\n", "err\n")
    assert said.detail == "err"


def test_run_timeout_kills_it(tmp_path: Path) -> None:
    host = Host(real_box(tmp_path))
    started = time.monotonic()
    done = host.run(["sleep", "60"], timeout=0.2)
    assert time.monotonic() - started < 30  # killed, not waited for
    assert done.timed_out and done.returncode is None and not done.ok
    assert done.detail == "timed out"


def test_run_missing_program_is_a_result(tmp_path: Path) -> None:
    host = Host(real_box(tmp_path))
    done = host.run(["miab-no-such-program", "--help"], timeout=10)
    assert done.missing and done.returncode is None and not done.ok
    assert done.detail == "miab-no-such-program is not installed"
    assert host.which("miab-no-such-program") is None
    assert not host.run([str(tmp_path / "nothing-here")], timeout=10).ok


def test_spawn_detaches_and_does_not_wait(tmp_path: Path) -> None:
    host = Host(init_box(tmp_path / "box").config)
    out = tmp_path / "out.txt"
    fd = os.open(out, os.O_WRONLY | os.O_CREAT, 0o600)
    try:
        proc = host.spawn(
            ["sh", "-c", "echo $$; cut -d' ' -f6 /proc/self/stat; echo started >&2"],
            output_fd=fd,
            env={},
        )
    finally:
        os.close(fd)
    assert proc.wait(timeout=10) == 0
    pid, session, said = out.read_text().splitlines()
    assert said == "started"
    assert session == pid == str(proc.pid)  # it leads a session of its own
    with pytest.raises(FileNotFoundError):
        host.spawn(["no-such-program-here"], output_fd=1)


def test_which_searches_sbin(tmp_path: Path) -> None:
    host = Host(real_box(tmp_path))
    assert host.which("sh") is not None
    found = host.which("nsd-checkconf")
    if found is None:
        pytest.skip("nsd is not installed here")
    assert "sbin" in found


# --- services ---------------------------------------------------------------------------------


def test_service_reload_and_failure(tmp_path: Path) -> None:
    conf = tmp_path / "svc.conf"
    conf.write_text("fine\n")
    host = manager_for(conf)
    done = host.reload("nsd", program="sh")
    assert done.outcome is ServiceOutcome.DONE and done.ok and done.note == ""
    conf.write_text("bad\n")
    failed = host.restart("nsd", program="sh")
    assert failed.outcome is ServiceOutcome.FAILED
    assert failed.note == "nsd could not be restarted: job for nsd failed: bad config"
    assert calls(conf) == ["nsd reload", "nsd restart"]
    absent = host.reload("miab-no-such-service")
    assert absent.outcome is ServiceOutcome.ABSENT and absent.run is None
    assert absent.note == "miab-no-such-service is not installed here: not reloaded"
    assert calls(conf) == ["nsd reload", "nsd restart"]


# --- config swaps -----------------------------------------------------------------------------


def test_swap_refused_when_the_test_fails(tmp_path: Path) -> None:
    conf = tmp_path / "nsd.conf"
    conf.write_text(GOOD_NSD_CONF)
    os.chmod(conf, 0o640)
    before = conf.read_bytes()
    host = manager_for(conf)
    result = host.swap_config(
        conf, BAD_NSD_CONF, test_argv=config_test(), service="nsd", program="sh"
    )
    assert result.outcome is SwapOutcome.REFUSED and not result.live
    assert result.test is not None and not result.test.ok
    assert result.note.startswith("nsd.conf was not changed: its test failed: ")
    assert conf.read_bytes() == before and stat.S_IMODE(conf.stat().st_mode) == 0o640
    assert calls(conf) == []  # never reloaded
    assert sorted(p.name for p in tmp_path.iterdir()) == ["nsd.conf"]  # no candidate left


def test_swap_replaces_and_reloads(tmp_path: Path) -> None:
    conf = tmp_path / "nsd.conf"
    conf.write_text("server:\n")
    host = manager_for(conf)
    result = host.swap_config(
        conf, GOOD_NSD_CONF, test_argv=config_test(), service="nsd", program="sh", mode=0o640
    )
    assert result.outcome is SwapOutcome.SWAPPED and result.live and result.note == ""
    assert result.reload is not None and result.reload.ok
    assert conf.read_text() == GOOD_NSD_CONF and stat.S_IMODE(conf.stat().st_mode) == 0o640
    assert calls(conf) == ["nsd reload"]
    again = host.swap_config(
        conf, GOOD_NSD_CONF, test_argv=config_test(), service="nsd", program="sh"
    )
    assert again.outcome is SwapOutcome.UNCHANGED and calls(conf) == ["nsd reload"]


def test_reload_failure_restores_the_old_file(tmp_path: Path) -> None:
    conf = tmp_path / "local.conf"
    conf.write_text("old and good\n")
    os.chmod(conf, 0o640)
    before = conf.read_bytes()
    host = manager_for(conf)
    # The test passes ("true"), the reload refuses it: the old file comes back, reloaded.
    result = host.swap_config(
        conf, "bad but it passes the test\n", test_argv=["true"], service="nginx", program="sh"
    )
    assert result.outcome is SwapOutcome.ROLLED_BACK and not result.live
    assert conf.read_bytes() == before and stat.S_IMODE(conf.stat().st_mode) == 0o640
    assert calls(conf) == ["nginx reload", "nginx reload"]
    assert result.restore is not None and result.restore.ok
    assert result.note == (
        "nginx could not be reloaded: job for nginx failed: bad config; "
        "the previous local.conf was put back and reloaded"
    )


def test_reload_failure_of_a_new_file_removes_it(tmp_path: Path) -> None:
    conf = tmp_path / "new.conf"
    host = manager_for(conf)
    result = host.swap_config(conf, "bad\n", test_argv=None, service="nginx", program="sh")
    assert result.outcome is SwapOutcome.ROLLED_BACK and not conf.exists()


# --- a local box ------------------------------------------------------------------------------


def test_local_box_changes_nothing_outside_its_folder(tmp_path: Path) -> None:
    box = init_box(tmp_path / "box")
    config = box.config
    assert config.is_local
    outside = tmp_path / "outside"
    outside.mkdir()
    marker = outside / "service-manager-ran"

    def service_manager(service: str, action: str) -> Sequence[str]:
        return ("touch", str(marker))

    host = Host(config, service_manager=service_manager)
    target = config.nginx_local_conf
    assert target.is_relative_to(tmp_path / "box")
    result = host.swap_config(
        target, "server {}\n", test_argv=["true"], service="nginx", program="sh"
    )
    assert result.outcome is SwapOutcome.WRITTEN and result.live and result.reload is None
    assert result.note == "this is a local box: local.conf written, nginx not reloaded"
    assert target.read_text() == "server {}\n"
    reload = host.reload("nginx", program="sh")
    restart = host.restart("nsd", program="sh")
    assert reload.outcome is ServiceOutcome.LOCAL and reload.run is None
    assert reload.note == "this is a local box: nginx not reloaded"
    assert restart.note == "this is a local box: nsd not restarted"
    assert list(outside.iterdir()) == []
    assert sorted(p.name for p in tmp_path.iterdir()) == ["box", "outside"]


def test_box_config_keeps_every_host_path(tmp_path: Path) -> None:
    real = real_box(tmp_path)
    assert real.nsd_zones_conf == Path("/etc/nsd/zones.conf")
    assert real.nsd_zones_dir == Path("/etc/nsd/zones")
    assert real.opendkim_dir == Path("/etc/opendkim")
    assert real.nginx_local_conf == Path("/etc/nginx/conf.d/local.conf")
    assert real.reboot_required_flag == Path("/var/run/reboot-required")
    assert real.backup_ssh_key == Path("/root/.ssh/id_rsa_miab")
    assert real.api_key_path == Path("/var/lib/mailinabox/api.key")
    assert real.mta_sts_policy == Path("/var/lib/mailinabox/mta-sts.txt")
    assert real.letsencrypt_dir == tmp_path / "data" / "ssl" / "lets_encrypt"
    local = real.with_values(system_root=tmp_path / "box")
    for path in (
        local.nsd_dir,
        local.nsd_zones_conf,
        local.opendkim_dir,
        local.nginx_conf_dir,
        local.reboot_required_flag,
        local.backup_ssh_key,
        local.mta_sts_policy,
        local.dns_update_lock,
        local.ssh_dir,
        local.status_checks_cache,
    ):
        assert path.is_relative_to(tmp_path / "box")
