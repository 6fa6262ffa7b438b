"""Backups in core without duplicity (SYSTEM.md §3, STORAGE.md §6): the settings file and its
rules and messages, targets, the passphrase and SSH key, the status arithmetic of the
reference, full-or-incremental, duplicity's machine log, and what a restore may do.

The real duplicity runs are in tests/integration/test_backup_*.py."""

from __future__ import annotations

import datetime
import os
import stat
from pathlib import Path

import pytest
import yaml

from core import Box
from core.backup import RestoreRequest, mailbox_path
from core.backup.duplicity import StanzaReader, backup_statistics, is_statistics
from core.backup.restore import CONFIRM_MESSAGE, check_request, swap_in
from core.backup.settings import (
    INVALID_TARGET,
    MIN_AGE_MESSAGE,
    NO_BUCKET,
    PASSPHRASE_TOO_SHORT,
    ensure_passphrase,
    join_target,
    parse_target,
    read_passphrase,
    split_target,
)
from core.backup.status import (
    BackupSet,
    BackupStatus,
    StatusCache,
    compute_status,
    full_due,
    parse_collection_status,
    reldate,
)
from core.backup.targets import TargetFile
from core.backup.upkeep import EVERYTHING, old_chain, plan_upkeep
from core.errors import ConfigError, ValidationError
from core.jobs.kinds import BACKUP, BACKUP_RESTORE, BACKUP_VERIFY
from tests.conftest import TEST_ACTOR
from tests.integration.conftest import require_program

UTC = datetime.UTC


def custom_yaml(box: Box) -> Path:
    return box.config.storage_root / "backup" / "custom.yaml"


# --- settings ---------------------------------------------------------------------------------


def test_defaults_and_the_ui_shape(box: Box) -> None:
    config = box.backup.get_config()
    root = box.config.storage_root
    assert config.target == "local" and config.min_age_in_days == 3
    ui = config.for_ui()
    assert ui == {
        "min_age_in_days": 3,
        "target": f"file://{root}/backup/encrypted",
        "file_target_directory": f"{root}/backup/encrypted",
        "enc_pw_file": f"{root}/backup/secret_key.txt",
    }
    assert "target_user" not in ui and "target_pass" not in ui


def test_set_config_writes_the_reference_file_0600(box: Box, tmp_path: Path) -> None:
    folder = tmp_path / "elsewhere"
    folder.mkdir()
    custom_yaml(box).write_text("min_age_in_days: 5\nextra_key: kept\n")
    change = box.backup.set_config(f"file://{folder}", "", "", "7", actor=TEST_ACTOR)
    assert change.text == "OK"
    path = custom_yaml(box)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    data = yaml.safe_load(path.read_text())
    # The reference's keys and order: the stored mapping with the four keys replaced.
    assert list(data) == ["min_age_in_days", "target", "extra_key", "target_user", "target_pass"]
    assert data == {
        "min_age_in_days": 7,
        "target": f"file://{folder}",
        "extra_key": "kept",
        "target_user": "",
        "target_pass": "",
    }
    ui = box.backup.get_config().for_ui()
    assert ui["extra_key"] == "kept" and ui["target"] == f"file://{folder}"
    assert box.audit.recent(1)[0].operation == "set backup config"


@pytest.mark.parametrize("target", ["off", "local"])
def test_off_and_local_are_saved_without_a_listing(box: Box, target: str) -> None:
    assert box.backup.set_config(target, "", "", 3, actor=TEST_ACTOR).text == "OK"
    assert yaml.safe_load(custom_yaml(box).read_text())["target"] == target


@pytest.mark.parametrize(
    ("min_age", "message"),
    [
        ("abc", MIN_AGE_MESSAGE),
        ("", MIN_AGE_MESSAGE),
        ("0", MIN_AGE_MESSAGE),
        ("-3", MIN_AGE_MESSAGE),
        ("1.5", MIN_AGE_MESSAGE),
        ("36501", MIN_AGE_MESSAGE),
        ("99999999999999999999", MIN_AGE_MESSAGE),
        ("٣", MIN_AGE_MESSAGE),  # a non-ASCII digit
    ],
)
def test_min_age_must_be_a_whole_number_from_one(box: Box, min_age: str, message: str) -> None:
    before = custom_yaml(box).exists()
    with pytest.raises(ValidationError) as err:
        box.backup.set_config("local", "", "", min_age, actor=TEST_ACTOR)
    assert err.value.message == message and err.value.field == "min_age"
    assert custom_yaml(box).exists() == before
    assert box.audit.recent(1)[0].outcome == "refused: " + message


@pytest.mark.parametrize(
    ("target", "message"),
    [
        ("", "Enter a backup target."),
        ("rsync://[::1", INVALID_TARGET),
        ("rsync://host/path", INVALID_TARGET),  # no user
        ("rsync://-oProxyCommand=touch%20x@host/path", INVALID_TARGET),
        ("rsync://user@-oProxyCommand=x/path", INVALID_TARGET),
        ("rsync://user@host:99999/path", INVALID_TARGET),
        ("s3://host", NO_BUCKET),
        ("s3://host/", NO_BUCKET),
        ("s3://Bad Region@host/bucket", INVALID_TARGET),
        ("file://relative/path", INVALID_TARGET),
        ("file:///a\nb", INVALID_TARGET),
        ("local\n", INVALID_TARGET),
        ("x" * 3000, INVALID_TARGET),
    ],
)
def test_targets_refused_in_the_reference_words(box: Box, target: str, message: str) -> None:
    custom_yaml(box).write_text("target: off\n")
    with pytest.raises(ValidationError) as err:
        box.backup.set_config(target, "", "", "3", actor=TEST_ACTOR)
    assert err.value.message == message
    assert custom_yaml(box).read_text() == "target: off\n"  # nothing saved


def test_other_schemes_are_named_as_unsupported(box: Box) -> None:
    with pytest.raises(ValidationError) as err:
        box.backup.set_config("ftp://host/x", "", "", "3", actor=TEST_ACTOR)
    assert err.value.message.startswith("Unsupported backup target 'ftp://host/x': use local")


def test_a_missing_or_recursive_file_folder_is_refused(box: Box, tmp_path: Path) -> None:
    with pytest.raises(ValidationError) as err:
        box.backup.set_config(f"file://{tmp_path}/missing", "", "", "3", actor=TEST_ACTOR)
    assert err.value.message == f"The backup folder {tmp_path}/missing does not exist."
    inside = box.config.storage_root / "mail"
    with pytest.raises(ValidationError) as err:
        box.backup.set_config(f"file://{inside}", "", "", "3", actor=TEST_ACTOR)
    assert "would be backed up itself" in err.value.message
    under_backup = box.config.storage_root / "backup" / "copies"
    under_backup.mkdir()
    assert box.backup.set_config(f"file://{under_backup}", "", "", "3", actor=TEST_ACTOR).text
    assert not (box.config.storage_root / "backup" / "custom.yaml").read_text().count("mail")


def test_credentials_are_single_bounded_lines(box: Box) -> None:
    for bad in ("a\nb", "x" * 1025):
        with pytest.raises(ValidationError) as err:
            box.backup.set_config("local", bad, "", "3", actor=TEST_ACTOR)
        assert err.value.field == "target_user"


def test_an_unreadable_or_odd_custom_yaml_reads_as_defaults(box: Box) -> None:
    for text in ("[1, 2]\n", "target: [\n", "\xff"):
        custom_yaml(box).write_text(text, errors="surrogateescape")
        assert box.backup.get_config().target == "local"
    custom_yaml(box).write_text("min_age_in_days: 0\nwhen: 2020-01-01\nn: 5\n")
    config = box.backup.get_config()
    assert config.min_age_in_days == 1  # the reference stored 0 as given
    assert "when" not in config.for_ui() and config.for_ui()["n"] == 5


def test_parse_targets() -> None:
    local = Path("/data/backup/encrypted")
    rsync = parse_target("rsync://me@backup.example.net:2222//srv/box", local_folder=local)
    assert (rsync.user, rsync.host, rsync.port) == ("me", "backup.example.net", 2222)
    assert rsync.rsync_location == "me@backup.example.net:/srv/box/"
    relative = parse_target("rsync://me@[2001:db8::1]/box", local_folder=local)
    assert relative.rsync_location == "me@[2001:db8::1]:box/"
    s3 = parse_target("s3://eu-west-1@s3.example.com:8443/bucket/a/b/", local_folder=local)
    assert (s3.region, s3.bucket, s3.prefix) == ("eu-west-1", "bucket", "a/b/")
    assert s3.endpoint_url == "https://s3.example.com:8443"
    assert s3.duplicity_url == "boto3+s3://bucket/a/b"
    assert parse_target("local", local_folder=local).url == "file:///data/backup/encrypted"


@pytest.mark.parametrize(
    ("target", "shown"),
    [
        ("local", ("local", "", "")),
        ("off", ("off", "", "")),
        ("file:///mnt/backup disk", ("file", "/mnt/backup disk", "")),
        ("file:///srv/100%25 b%23x%3F", ("file", "/srv/100% b#x?", "")),
        (
            "rsync://backup@host.example:2222//srv/box",
            ("rsync", "backup@host.example:2222", "/srv/box"),
        ),
        ("rsync://backup@host.example/box", ("rsync", "backup@host.example", "box")),
        ("s3://eu-west-1@s3.example/bucket/box", ("s3", "eu-west-1@s3.example/bucket/box", "")),
    ],
)
def test_targets_split_for_a_form_and_join_back(target: str, shown: tuple[str, str, str]) -> None:
    assert split_target(target) == shown
    assert join_target(*shown) == target


def test_a_file_target_joined_back_names_the_same_folder() -> None:
    """A form shows the folder duplicity will use, and saving it again changes nothing:
    `localhost` is the same machine, and a `%` in a name stays a `%`."""
    local = Path("/data/backup/encrypted")
    for stored in ("file://localhost/srv/b", "file:///srv/a%2541", "file:///srv/my%20b"):
        kind, folder, path = split_target(stored)
        assert kind == "file" and not folder.startswith("localhost")
        again = parse_target(join_target(kind, folder, path), local_folder=local)
        assert again.folder == parse_target(stored, local_folder=local).folder
    assert split_target("file://elsewhere/srv/b") == ("file", "file://elsewhere/srv/b", "")


# --- passphrase and key -----------------------------------------------------------------------


def test_the_passphrase_is_made_once_0600_as_setup_makes_it(tmp_path: Path) -> None:
    path = tmp_path / "secret_key.txt"
    assert ensure_passphrase(path)
    first = path.read_text()
    assert not ensure_passphrase(path) and path.read_text() == first
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    lines = first.splitlines()
    assert all(len(line) == 64 for line in lines[:-1]) and len(lines) == 43
    assert read_passphrase(path) == lines[0]
    path.write_text("short\n")
    with pytest.raises(ConfigError) as err:
        read_passphrase(path)
    assert err.value.message == PASSPHRASE_TOO_SHORT


def test_the_ssh_key_is_made_once_and_shown(box: Box) -> None:
    require_program("ssh-keygen", "openssh-client")
    pub = box.backup.ensure_ssh_key(actor=TEST_ACTOR)
    assert pub.startswith("ssh-rsa ") and pub.rstrip().endswith("root@box.example.com")
    key = box.config.backup_ssh_key
    assert key.is_relative_to(box.config.system_root)  # a local box keeps it in its folder
    assert stat.S_IMODE(key.stat().st_mode) == 0o600
    assert box.backup.ensure_ssh_key(actor=TEST_ACTOR) == pub
    assert box.backup.get_config().for_ui()["ssh_pub_key"] == pub
    assert [r.operation for r in box.audit.recent(5)].count("make backup SSH key") == 1


# --- status -----------------------------------------------------------------------------------


def test_status_when_off_and_before_any_backup(box: Box) -> None:
    box.backup.set_config("off", "", "", "3", actor=TEST_ACTOR)
    assert box.backup.status().as_json() == {"unmatched_file_size": 0}
    box.backup.set_config("local", "", "", "3", actor=TEST_ACTOR)
    assert box.backup.status().as_json() == {"backups": [], "unmatched_file_size": 0}


def test_status_of_a_folder_that_went_away_is_an_error(box: Box, tmp_path: Path) -> None:
    folder = tmp_path / "gone"
    folder.mkdir()
    box.backup.set_config(f"file://{folder}", "", "", "3", actor=TEST_ACTOR)
    folder.rmdir()
    body = box.backup.status().as_json()
    assert body == {
        "error": f"The backup folder {folder} does not exist.",
        "unmatched_file_size": 0,
    }


def _files(*names_sizes: tuple[str, int]) -> list[TargetFile]:
    return [TargetFile(n, s) for n, s in names_sizes]


def test_compute_status_is_the_reference_arithmetic() -> None:
    full1, inc1, full2, inc2, inc3 = (
        "20261101T030000Z",
        "20261102T030000Z",
        "20261110T030000Z",
        "20261111T030000Z",
        "20261112T030000Z",
    )
    sets = [
        BackupSet(True, full1, 2),
        BackupSet(False, inc1, 1),
        BackupSet(True, full2, 3),
        BackupSet(False, inc2, 1),
        BackupSet(False, inc3, 1),
    ]
    files = _files(
        (f"duplicity-full.{full1}.vol1.difftar.gpg", 1000),
        (f"duplicity-full-signatures.{full1}.sigtar.gpg", 100),
        (f"duplicity-inc.{full1}.to.{inc1}.vol1.difftar.gpg", 50),
        (f"duplicity-full.{full2}.vol1.difftar.gpg", 2000),
        (f"duplicity-full.{full2}.manifest.gpg", 10),
        (f"duplicity-inc.{full2}.to.{inc2}.vol1.difftar.gpg", 100),
        (f"duplicity-new-signatures.{inc2}.to.{inc3}.sigtar.gpg", 30),
        (f"duplicity-inc.{inc2}.to.{inc3}.vol1.difftar.gpg", 70),
        ("duplicity-new-signatures.20261111T030000Z.to.20261112T030003Z.sigtar.gpg", 7),
        ("unrelated.txt", 99999),
    )
    now = datetime.datetime(2026, 11, 12, 15, 30, tzinfo=UTC)
    status = compute_status(sets, files, min_age=3, now=now)
    rows = [b.as_json() for b in status.backups]
    assert [r["date"] for r in rows] == [
        "2026-11-12T03:00:00Z",
        "2026-11-11T03:00:00Z",
        "2026-11-10T03:00:00Z",
        "2026-11-02T03:00:00Z",
        "2026-11-01T03:00:00Z",
    ]
    assert [r["full"] for r in rows] == [False, False, True, False, True]
    assert [r["size"] for r in rows] == [100, 100, 2010, 50, 1100]
    assert status.unmatched_file_size == 7  # a signature file a few seconds off
    assert rows[0]["date_str"] == "2026-11-12 03:00:00 UTC"
    assert rows[0]["date_delta"] == "12 hours, 30 minutes"
    assert rows[2]["date_delta"] == "2 days, 12 hours"
    # Current chain: 2 increments of 200 bytes, full of 2010: next full in
    # (1005 - 200) / 100 = 8.05 days after the newest backup; at least 3 days old.
    expected = datetime.datetime(2026, 11, 12, 3, tzinfo=UTC) + datetime.timedelta(days=8.05)
    days = round((expected - now).total_seconds() / 86400 + 0.5)
    assert [r.get("deleted_in") for r in rows[:3]] == [f"approx. {days} days"] * 3
    # The previous chain goes (as a whole) when its newest backup is min_age days old.
    assert rows[3]["deleted_in"] == rows[4]["deleted_in"] == "on next daily backup"
    assert status.total_size == 100 + 100 + 2010 + 50 + 1100 + 7


def test_a_chain_without_increments_has_no_deletion_estimate() -> None:
    t = "20261110T030000Z"
    status = compute_status(
        [BackupSet(True, t, 1)],
        _files((f"duplicity-full.{t}.vol1.difftar.gpg", 10)),
        min_age=3,
        now=datetime.datetime(2026, 11, 10, 4, tzinfo=UTC),
    )
    assert status.backups[0].deleted_in is None
    assert status.backups[0].date_delta == "1 hours, 0 minutes"


@pytest.mark.parametrize(
    ("then", "now", "text"),
    [
        ((2024, 1, 31), (2026, 3, 1), "2 years, 1 months"),
        ((2025, 1, 15), (2026, 2, 20), "1 year, 1 months"),
        ((2026, 1, 31), (2026, 3, 30), "1 month, 30 days"),
        ((2026, 1, 1), (2026, 3, 5), "2 months, 4 days"),
        ((2026, 3, 1), (2026, 3, 20), "19 days"),
        ((2026, 3, 1), (2026, 3, 4), "3 days, 0 hours"),
        ((2026, 3, 1), (2026, 3, 2), "1 day, 0 hours"),
    ],
)
def test_reldate_counts_calendar_months(
    then: tuple[int, int, int], now: tuple[int, int, int], text: str
) -> None:
    assert (
        reldate(datetime.datetime(*then, tzinfo=UTC), datetime.datetime(*now, tzinfo=UTC), "x")
        == text
    )
    assert (
        reldate(datetime.datetime(*now, tzinfo=UTC), datetime.datetime(*then, tzinfo=UTC), "clip")
        == "clip"
    )


def test_full_backups_by_heads_weekend_rule() -> None:
    t = "20261101T030000Z"
    files = _files(
        (f"duplicity-full.{t}.vol1.difftar.gpg", 1000),
        (f"duplicity-inc.{t}.to.20261103T030000Z.vol1.difftar.gpg", 600),
    )
    status = compute_status(
        [BackupSet(True, t, 1), BackupSet(False, "20261103T030000Z", 1)],
        files,
        min_age=3,
        now=datetime.datetime(2026, 11, 4, tzinfo=UTC),
    )
    wednesday = datetime.datetime(2026, 11, 4, 12, tzinfo=UTC)
    saturday = datetime.datetime(2026, 11, 7, 12, tzinfo=UTC)
    assert not full_due(status, min_age=3, now=wednesday)  # increments > 50 %, but a weekday
    assert full_due(status, min_age=3, now=saturday)
    assert full_due(status, min_age=3, now=wednesday, weekend_rule=False)  # v0.51's rule
    assert full_due(BackupStatus(True), min_age=3, now=wednesday)  # none yet: always full
    # The age trigger: a full backup 13 days old, on a Saturday.
    alone = compute_status([BackupSet(True, t, 1)], files[:1], min_age=3, now=saturday)
    next_saturday = datetime.datetime(2026, 11, 14, 12, tzinfo=UTC)
    assert not full_due(alone, min_age=3, now=next_saturday)  # younger than 3 × 10 + 1 days
    assert full_due(alone, min_age=1, now=next_saturday)  # older than 1 × 10 + 1 days


def test_the_status_cache_is_keyed_by_the_listing(tmp_path: Path) -> None:
    cache = StatusCache(tmp_path / "status.json")
    sets = (BackupSet(True, "20261101T030000Z", 2),)
    cache.put("k1", sets)
    assert cache.get("k1") == sets and cache.get("k2") is None and cache.last() == sets
    assert stat.S_IMODE((tmp_path / "status.json").stat().st_mode) == 0o600
    (tmp_path / "status.json").write_text("{broken")
    assert cache.get("k1") is None and cache.last() is None


# --- duplicity's machine log ------------------------------------------------------------------

LOG = (
    b"INFO 1\n. Using archive dir: /x\n\n"
    b"INFO 3 \nbackend BackendWrapper\nchain-complete\n full 20261202T084948Z 1 enc\n"
    b" inc 20261202T084959Z 2 enc\norphaned-sets-num 0\n. Collection Status\n. -----\n\n"
    b"ERROR 31 GPGError\n. GPGError: GPG Failed, see log below:\n. gpg: AES\r\n"
    b"gpg: decryption failed: Bad session key\n\n"
    b"NOTICE 1\n. --------------[ Backup Statistics ]--------------\n"
    b". SourceFiles 4\n. SourceFileSize 8204 (8.01 KB)\n. \n\n"
    b"INFO 2 8204\n. Processed volume 1\n\n"
)


@pytest.mark.parametrize("chunk", [1, 7, 4096])
def test_stanzas_are_read_however_the_stream_is_split(chunk: int) -> None:
    reader = StanzaReader()
    stanzas = []
    for i in range(0, len(LOG), chunk):
        stanzas += reader.feed(LOG[i : i + chunk])
    stanzas += reader.close()
    assert [(s.level, s.code) for s in stanzas] == [
        ("INFO", 1),
        ("INFO", 3),
        ("ERROR", 31),
        ("NOTICE", 1),
        ("INFO", 2),
    ]
    assert parse_collection_status(stanzas) == (
        BackupSet(True, "20261202T084948Z", 1),
        BackupSet(False, "20261202T084959Z", 2),
    )
    assert stanzas[2].message[-1] == "gpg: decryption failed: Bad session key"
    assert is_statistics(stanzas[3])
    assert backup_statistics(stanzas[3]) == {"SourceFiles": "4", "SourceFileSize": "8204"}
    assert stanzas[4].extra == ("8204",) and stanzas[4].first_line == "Processed volume 1"


# --- restore requests -------------------------------------------------------------------------


def test_restore_requests_never_overwrite_live_data(box: Box, tmp_path: Path) -> None:
    root = box.config.storage_root

    def refused(request: RestoreRequest) -> str:
        with pytest.raises(ValidationError) as err:
            check_request(request, root)
        return err.value.message

    assert "outside STORAGE_ROOT" in refused(RestoreRequest(to=str(root / "mail" / "x")))
    assert "outside STORAGE_ROOT" in refused(RestoreRequest(to=str(root)))
    assert "outside STORAGE_ROOT" in refused(RestoreRequest(to=str(root.parent)))
    assert "absolute path" in refused(RestoreRequest(to="relative/dir"))
    assert "Choose a folder" in refused(RestoreRequest())
    full = tmp_path / "full"
    full.mkdir()
    (full / "f").write_text("x")
    assert "is not an empty folder" in refused(RestoreRequest(to=str(full)))
    assert "does not exist" in refused(RestoreRequest(to=str(tmp_path / "a" / "b")))
    assert "relative to STORAGE_ROOT" in refused(
        RestoreRequest(path="../etc", to=str(tmp_path / "n"))
    )
    assert "relative to STORAGE_ROOT" in refused(
        RestoreRequest(path="/etc", to=str(tmp_path / "n"))
    )
    assert "never part of a backup" in refused(
        RestoreRequest(path="backup/x", to=str(tmp_path / "n"))
    )
    assert refused(RestoreRequest(in_place=True)) == CONFIRM_MESSAGE
    assert "whole backup" in refused(RestoreRequest(in_place=True, confirmed=True, path="mail"))
    ok = check_request(RestoreRequest(path="mail//mailboxes/./x/", to=str(tmp_path / "n")), root)
    assert ok.path == "mail/mailboxes/x" and ok.to == str(tmp_path / "n")
    empty = tmp_path / "empty"
    empty.mkdir()
    assert check_request(RestoreRequest(to=str(empty)), root).to == str(empty)


def test_mailbox_paths() -> None:
    assert mailbox_path("alice@example.com") == "mail/mailboxes/example.com/alice"
    assert mailbox_path("erin@bücher.example") == "mail/mailboxes/xn--bcher-kva.example/erin"
    for bad in ("nobody", "a/b@example.com", "@example.com"):
        with pytest.raises(ValidationError):
            mailbox_path(bad)


def test_the_in_place_swap_keeps_backup_and_undoes_a_failure(tmp_path: Path) -> None:
    root, restored = tmp_path / "root", tmp_path / "restored"
    for folder, names in ((root, ("mail", "ssl", "backup")), (restored, ("mail", "www"))):
        for name in names:
            (folder / name).mkdir(parents=True)
            (folder / name / "f").write_text(f"{folder.name} {name}")
    swap_in(root, restored, tmp_path / "previous")
    assert sorted(os.listdir(root)) == ["backup", "mail", "www"]
    assert (root / "mail" / "f").read_text() == "restored mail"
    assert (root / "backup" / "f").read_text() == "root backup"
    assert sorted(os.listdir(tmp_path / "previous")) == ["mail", "ssl"]
    # A move that fails puts everything back.
    again = tmp_path / "again"
    (again / "mail").mkdir(parents=True)
    (tmp_path / "previous2").mkdir()
    with pytest.raises(OSError):
        swap_in(root, again, tmp_path / "previous2")  # exists already: nothing moved
    assert sorted(os.listdir(root)) == ["backup", "mail", "www"]


def test_job_parameters_are_checked(box: Box) -> None:
    progress = lambda line, fraction: None  # noqa: E731
    with pytest.raises(ValidationError):
        box.backup.run_job(BACKUP, {"full": "yes"}, TEST_ACTOR, progress)
    with pytest.raises(ValidationError):
        box.backup.run_job(BACKUP, {"stall_timeout": 0}, TEST_ACTOR, progress)
    with pytest.raises(ValidationError):
        box.backup.run_job(BACKUP_VERIFY, {"time": 5}, TEST_ACTOR, progress)
    with pytest.raises(ValidationError):
        box.backup.run_job(BACKUP_RESTORE, {"to": ["x"]}, TEST_ACTOR, progress)


def test_verify_and_restore_need_a_backup(box: Box, tmp_path: Path) -> None:
    with pytest.raises(ValidationError) as err:
        box.backup.start_verify(actor=TEST_ACTOR)
    assert err.value.message == "No backups have been made yet."
    with pytest.raises(ValidationError) as err:
        box.backup.start_restore(RestoreRequest(to=str(tmp_path / "r")), actor=TEST_ACTOR)
    assert err.value.message == "No backups have been made yet."
    box.backup.set_config("off", "", "", "3", actor=TEST_ACTOR)
    with pytest.raises(ValidationError) as err:
        box.backup.start_verify(actor=TEST_ACTOR)
    assert err.value.message == "Backups are turned off."
    outcome = box.backup.back_up(actor=TEST_ACTOR)
    assert not outcome.made and outcome.lines == ("Backups are turned off: nothing was backed up.",)
    assert box.jobs.recent() == ()  # nothing was started


# --- the upkeep after a backup -----------------------------------------------------------------

F1, I1, I2 = "20261120T010000Z", "20261121T010000Z", "20261122T010000Z"


def set_files(full: bool, time: str, base: str = "", volumes: int = 1) -> list[str]:
    """The target's names of one backup set."""
    if full:
        return [
            *(f"duplicity-full.{time}.vol{n}.difftar.gpg" for n in range(1, volumes + 1)),
            f"duplicity-full.{time}.manifest.gpg",
            f"duplicity-full-signatures.{time}.sigtar.gpg",
        ]
    return [
        *(f"duplicity-inc.{base}.to.{time}.vol{n}.difftar.gpg" for n in range(1, volumes + 1)),
        f"duplicity-inc.{base}.to.{time}.manifest.gpg",
        f"duplicity-new-signatures.{base}.to.{time}.sigtar.gpg",
    ]


def archive_of(names: list[str]) -> list[str]:
    """The local archive's names for the same sets (manifests and signatures, no .gpg)."""
    kept = [n.removesuffix(".gpg") for n in names if ".vol" not in n]
    return [n.replace(".sigtar", ".sigtar.gz") for n in kept]


def files(names: list[str]) -> list[TargetFile]:
    return [TargetFile(name, 100) for name in names]


NOW = datetime.datetime(2026, 11, 23, 12, 0, tzinfo=UTC)
KNOWN = (BackupSet(True, F1, 1), BackupSet(False, I1, 1))
BEFORE = set_files(True, F1) + set_files(False, I1, F1)


def plan(after: list[str], archive: list[str] | None = None, known=KNOWN, min_age: int = 3):
    archive = archive_of(after) if archive is None else archive
    return plan_upkeep(known, files(BEFORE), files(after), [archive], now=NOW, min_age=min_age)


def test_a_clean_nightly_increment_needs_neither_prune_nor_cleanup() -> None:
    after = BEFORE + set_files(False, I2, I1, volumes=2) + ["notes.txt"]
    upkeep = plan(after)
    assert (upkeep.prune, upkeep.cleanup) == (False, False)
    assert upkeep.sets == (*KNOWN, BackupSet(False, I2, 2))
    first = plan_upkeep(
        (), (), files(set_files(True, F1)), [archive_of(set_files(True, F1))], now=NOW, min_age=3
    )
    assert (first.prune, first.cleanup, first.sets) == (False, False, (BackupSet(True, F1, 1),))


@pytest.mark.parametrize(
    "after",
    [
        BEFORE[1:] + set_files(False, I2, I1),  # a file of an old set went
        BEFORE + set_files(False, I2, I1)[1:],  # no volume 1
        BEFORE + set_files(False, I2, I1)[:-1],  # no signatures
        BEFORE + [n for n in set_files(False, I2, I1) if "manifest" not in n],
        BEFORE + set_files(False, I2, F1),  # not built on the newest backup
        BEFORE + set_files(False, I2, I1) + set_files(True, "20261122T020000Z"),  # two sets
        BEFORE + set_files(False, I1, F1),  # nothing new
        BEFORE + set_files(False, I2, I1) + ["duplicity-inc.x.vol1.difftar.gpg.part"],
    ],
    ids=["gone", "no-vol1", "no-sigs", "no-manifest", "wrong-base", "two", "none", "odd"],
)
def test_anything_but_one_whole_new_set_runs_both_as_the_reference(after: list[str]) -> None:
    assert plan(after) == EVERYTHING


def test_not_asked_before_or_no_archive_for_the_new_set_runs_both() -> None:
    after = BEFORE + set_files(False, I2, I1)
    assert plan(after, known=None) == EVERYTHING
    assert plan(after, archive=archive_of(BEFORE)) == EVERYTHING


def test_a_stray_file_at_the_target_or_in_the_archive_needs_cleanup() -> None:
    after = BEFORE + set_files(False, I2, I1)
    stray = f"duplicity-inc.{I1}.to.20261121T020000Z.vol1.difftar.gpg"
    assert plan([*after, stray], archive=archive_of(after)).cleanup
    partial = f"duplicity-inc.{I1}.to.{I2}.manifest.part"
    assert plan(after, archive=[*archive_of(after), partial]).cleanup
    assert not plan(after, archive=[*archive_of(after), "lockfile"]).cleanup
    # Increments' signatures whose full signatures are gone: cleanup deletes them.
    new_full = set_files(True, I2)
    whole = archive_of(BEFORE + new_full)
    assert not plan(BEFORE + new_full, archive=whole).cleanup
    lost = [n for n in BEFORE if not n.startswith("duplicity-full-signatures.")]
    upkeep = plan_upkeep(KNOWN, files(lost), files(lost + new_full), [whole], now=NOW, min_age=3)
    assert upkeep.sets is not None and upkeep.cleanup
    local_lost = [n for n in whole if not n.startswith(f"duplicity-full-signatures.{F1}")]
    assert plan(BEFORE + new_full, archive=local_lost).cleanup  # the same, locally


def test_a_chain_that_ended_over_min_age_days_ago_is_pruned() -> None:
    new_full = "20261123T010000Z"
    after = BEFORE + set_files(True, new_full)
    assert not plan(after, min_age=3).prune  # the old chain ended 2 days ago
    assert plan(after, min_age=1).prune
    assert old_chain([BackupSet(False, I1, 1), BackupSet(True, I2, 1)], now=NOW, min_age=30)
    assert not old_chain([BackupSet(True, F1, 1)], now=NOW, min_age=0)  # the newest stays
