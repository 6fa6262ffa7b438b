"""`box.backup`: the backups of a box (SYSTEM.md §3, STORAGE.md §6, BEHAVIOUR.md §9).

Settings (`get_config`, `set_config`, `test_target`, `ensure_ssh_key`), the status (`status`),
and the long work as jobs, one at a time across every process: `start_backup` (job `backup`),
`start_verify` (`backup-verify`) and `start_restore` (`backup-restore`). The jobs call
`back_up`, `verify` and `restore`, which a face may also call directly when it runs them
itself.

Backups are made with duplicity as the reference makes them: STORAGE_ROOT but `backup/` (and
HEAD's `owncloud-backup/`), volumes of 250 MB encrypted with the first line of
`backup/secret_key.txt` (AES256), the cache in `backup/cache`, then `remove-older-than
<min_age>D` and `cleanup` when they have something to do (`core.backup.upkeep`; the reference
runs both every night, each reading the whole collection again). The mail services are stopped meanwhile and always started again;
a local box never stops a service (and says so). Full or incremental follows HEAD's rule (a
full backup when there is none yet; otherwise, on Saturdays and Sundays only, when the
increments outgrow half the last full backup or it is older than `min_age × 10 + 1` days), so
the long full runs fall on weekends.

Every duplicity run reads its machine log (`--log-fd`) for progress, and is stopped when it
says nothing for an hour (a stalled target), so a stuck run ends as a failure that the next
run does not trip over. Each job keeps its log (duplicity's own output and our lines) under
the state folder's `backup/logs/`; the newest 30 per kind are kept.
"""

from __future__ import annotations

import contextlib
import datetime
import errno
import fcntl
import os
import shlex
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Final

from core.audit import Actor
from core.backup import duplicity, operations, settings
from core.backup.outcomes import BackupOutcome, RestoreOutcome, VerifyOutcome
from core.backup.restore import RestoreRequest, check_request
from core.backup.runlog import Progress, RunLog, silent
from core.backup.settings import BackupConfig, Target
from core.backup.status import (
    BackupSet,
    BackupStatus,
    StatusCache,
    compute_status,
    listing_key,
    parse_collection_status,
)
from core.backup.targets import (
    TargetFile,
    duplicity_files,
    list_file_target,
    list_rsync_target,
    list_s3_target,
    ssh_command,
)
from core.errors import ConfigError, HostError, MiabError, ValidationError
from core.host import Host
from core.jobs.kinds import BACKUP, BACKUP_RESTORE, BACKUP_VERIFY
from core.results import Change

if TYPE_CHECKING:
    from core.box import Box
    from core.jobs import JobStart

# A status waits this long for another status's duplicity run (not for a backup job: then
# it answers at once from what it knew).
STATUS_LOCK_WAIT: Final = 10.0
STATUS_STALL: Final = 300.0
KEEP_LOGS: Final = 30
BUSY: Final = "A backup, verification or restore is running; the status shows when it ends."


class BackupService:
    """The backups of one box."""

    def __init__(self, box: Box) -> None:
        self._box = box
        config = box.config
        self.host = Host(config)
        self.storage_root = config.storage_root
        self.backup_dir = config.storage_root / "backup"
        self.cache_dir = self.backup_dir / "cache"
        self.ssh_key = config.backup_ssh_key
        # A local box keeps the hosts its key has met beside the key, not in ~/.ssh.
        self.known_hosts = self.ssh_key.parent / "known_hosts" if config.is_local else None
        self.state_dir = config.state_db.parent / "backup"
        self.logs_dir = self.state_dir / "logs"
        self._cache = StatusCache(self.state_dir / "status.json")
        self._lock_path = self.state_dir / "operation.lock"
        self._pid_file = self.state_dir / "duplicity.pid"

    # --- settings ----------------------------------------------------------------------------

    def get_config(self) -> BackupConfig:
        """The settings (`backup/custom.yaml` over the defaults); `ssh_pub_key` is the key's
        public half if it exists (see `ensure_ssh_key`)."""
        return settings.load_config(self.backup_dir, self.ssh_key)

    def ensure_ssh_key(self, *, actor: Actor) -> str:
        """The public key rsync targets must accept, made first if there is none.

        Raises:
            HostError: ssh-keygen is missing or failed.
        """
        pub = self.ssh_key.with_name(self.ssh_key.name + ".pub")
        if not (self.ssh_key.exists() and pub.exists()):
            comment = f"root@{self._box.config.primary_hostname}"
            with self._box.audit.recording(actor, "make backup SSH key", str(self.ssh_key)):
                settings.ensure_ssh_key(self.host, self.ssh_key, comment)
        return pub.read_text(encoding="utf-8", errors="replace")

    def parse_target(self, target: object) -> Target:
        """Raises: ValidationError: not a target (the reference's words where it has them)."""
        return settings.parse_target(target, local_folder=self.backup_dir / "encrypted")

    def test_target(
        self, target: str, target_user: str = "", target_pass: str = ""
    ) -> tuple[TargetFile, ...]:
        """List a target as `set_config` does before saving it (nothing is saved); the files
        there (`off` and `local`: none listed).

        Raises:
            ValidationError: the target is refused, with the reason (the reference's words).
        """
        parsed = self.parse_target(target)
        user = settings.check_credential(target_user, "target_user")
        secret = settings.check_credential(target_pass, "target_pass")
        if parsed.kind in ("off", "local"):
            return ()
        return self._check_target(parsed, user, secret)

    def set_config(
        self,
        target: str,
        target_user: str,
        target_pass: str,
        min_age: str | int,
        *,
        actor: Actor,
    ) -> Change:
        """Save new settings (BEHAVIOUR.md §9, SYSTEM.md §3.2): every value checked and the
        target test-listed (unless `off` or `local`) before anything is written. Returns the
        reference's `OK`.

        Raises:
            ValidationError: the reference's message (a failed listing says why), or ours for
                `min_age` (a whole number from 1), a missing `file://` folder or one inside
                STORAGE_ROOT, or an rsync target when the SSH key cannot be made; nothing is
                saved.
        """
        shown = target[:200] if isinstance(target, str) else ""
        with self._box.audit.recording(actor, "set backup config", shown):
            age = settings.parse_min_age(min_age)
            user = settings.check_credential(target_user, "target_user")
            secret = settings.check_credential(target_pass, "target_pass")
            parsed = self.parse_target(target)
            if parsed.kind == "rsync":
                try:
                    self.ensure_ssh_key(actor=actor)
                except HostError as exc:
                    raise ValidationError(exc.message, field="target") from None
            if parsed.kind not in ("off", "local"):
                self._check_target(parsed, user, secret)
            settings.write_config(
                self.backup_dir, target=target, target_user=user, target_pass=secret, min_age=age
            )
        return Change(("OK",), bare=True)

    def _check_target(self, target: Target, user: str, secret: str) -> tuple[TargetFile, ...]:
        if target.kind == "file":
            assert target.folder is not None
            root = Path(os.path.realpath(self.storage_root))
            folder = Path(os.path.realpath(target.folder))
            backup = Path(os.path.realpath(self.backup_dir))
            if (folder.is_relative_to(root) and not folder.is_relative_to(backup)) or (
                root.is_relative_to(folder)
            ):
                raise ValidationError(
                    f"A backup folder inside STORAGE_ROOT ({self.storage_root}) would be backed "
                    f"up itself: choose one outside it, or under {self.backup_dir}.",
                    field="target",
                )
        return self._list(target, user, secret)

    def _list(
        self, target: Target, user: str, secret: str, *, timeout: float | None = None
    ) -> tuple[TargetFile, ...]:
        """The target's files. Raises: ValidationError: the listing failed (why)."""
        if target.kind in ("local", "file"):
            assert target.folder is not None
            # The local target's folder is made by the first backup, however it is named.
            local = target.folder == self.backup_dir / "encrypted"
            return list_file_target(target.folder, missing_ok=local)
        if target.kind == "rsync":
            return list_rsync_target(
                self.host,
                target,
                key=self.ssh_key,
                known_hosts=self.known_hosts,
                **({"timeout": timeout} if timeout else {}),
            )
        if target.kind == "s3":
            return list_s3_target(target, access_key=user, secret=secret)
        return ()

    # --- status ------------------------------------------------------------------------------

    def now(self) -> datetime.datetime:
        """The box's time, in the machine's zone (the zone the reference shows dates in)."""
        return datetime.datetime.fromtimestamp(self._box.clock()).astimezone()

    def status(self) -> BackupStatus:
        """SYSTEM.md §3.3. A problem with the target or duplicity is in `error`, never raised.

        duplicity is asked only when the target's listing differs from the last time it was
        asked (the parsed answer is kept in the state folder), so a chain of any length shows
        in about the time of one listing. While a backup, verification or restore runs the
        last answer is used with the current listing's sizes.
        """
        config = self.get_config()
        if not config.enabled:
            return BackupStatus(False)
        try:
            target = self.parse_target(config.target)
            files = self._list(target, config.target_user, config.target_pass)
            return self._status_of(target, config, files, locked=False)
        except MiabError as exc:
            return BackupStatus(True, error=exc.message)
        except OSError as exc:
            return BackupStatus(True, error=f"The backup status cannot be read: {exc.strerror}.")

    def _status_of(
        self,
        target: Target,
        config: BackupConfig,
        files: Sequence[TargetFile],
        *,
        locked: bool,
        stall_timeout: float = STATUS_STALL,
    ) -> BackupStatus:
        """Raises: HostError: duplicity could not list the backups (the reference's words)."""
        ours = duplicity_files(files)
        sets: tuple[BackupSet, ...] = ()
        if ours:
            key = listing_key(target.url, ours)
            cached = self._cache.get(key)
            sets = (
                cached
                if cached is not None
                else self._fresh_sets(
                    key, target, config, locked=locked, stall_timeout=stall_timeout
                )
            )
        return compute_status(sets, files, min_age=config.min_age_in_days, now=self.now())

    def _fresh_sets(
        self,
        key: str,
        target: Target,
        config: BackupConfig,
        *,
        locked: bool,
        stall_timeout: float,
    ) -> tuple[BackupSet, ...]:
        """Ask duplicity (holding the lock, unless the caller does) and keep its answer."""
        if locked:
            sets = self._collection_status(target, config, stall_timeout)
            self._keep(key, sets)
            return sets
        busy = any(self._box.jobs.running(k) for k in (BACKUP, BACKUP_VERIFY, BACKUP_RESTORE))
        with self._operation(wait=0 if busy else STATUS_LOCK_WAIT) as mine:
            if not mine:
                last = self._cache.last()
                if last is None:
                    raise HostError(BUSY)
                return last
            cached = self._cache.get(key)
            if cached is not None:
                return cached
            sets = self._collection_status(target, config, stall_timeout)
            self._keep(key, sets)
            return sets

    def _keep(self, key: str, sets: tuple[BackupSet, ...]) -> None:
        with contextlib.suppress(OSError):  # a full disk costs the next status a duplicity run
            self._cache.put(key, sets)

    def _collection_status(
        self, target: Target, config: BackupConfig, stall_timeout: float
    ) -> tuple[BackupSet, ...]:
        argv = [
            "duplicity",
            "collection-status",
            "--archive-dir",
            str(self.cache_dir),
            "--gpg-options",
            "--cipher-algo=AES256",
            *self._target_args(target),
            target.duplicity_url,
        ]
        try:
            passphrase: str | None = settings.read_passphrase(config.enc_pw_file)
        except ConfigError:
            passphrase = None  # only needed if the local cache lacks the manifests
        run = duplicity.run(
            self.host,
            argv,
            env=self._env(target, config, passphrase),
            output=None,
            stall_timeout=stall_timeout,
            keep=lambda s: s.code == duplicity.INFO_COLLECTION_STATUS,
            pid_file=self._pid_file,
        )
        if not run.ok:
            said = "\n".join(run.errors).strip() or run.failure("duplicity collection-status")
            raise HostError("Something is wrong with the backup: " + said[:2000])
        return parse_collection_status(run.stanzas)

    # --- duplicity's command line ------------------------------------------------------------

    def _target_args(self, target: Target) -> list[str]:
        """The options a target needs (HEAD's `get_duplicity_additional_args`)."""
        if target.kind == "rsync":
            ssh = ssh_command(self.host, self.ssh_key, target.port, self.known_hosts)
            args = [f"--rsync-options=-e {shlex.quote(ssh)}"]
            key = str(self.ssh_key)
            if shlex.quote(key) == key:  # duplicity puts these inside quotes of its own
                args.insert(0, f"--ssh-options=-i {key} -p {target.port or 22}")
            return args
        if target.kind == "s3":
            args = ["--s3-endpoint-url", target.endpoint_url]
            if target.region:
                args += ["--s3-region-name", target.region]
            return args
        return []

    def _env(self, target: Target, config: BackupConfig, passphrase: str | None) -> dict[str, str]:
        env = dict(os.environ)
        env.pop("RSYNC_RSH", None)
        # duplicity's messages untranslated (verify's differences are read from them).
        env.update({"LC_ALL": "C.UTF-8", "LANGUAGE": ""})
        if passphrase is not None:
            env["PASSPHRASE"] = passphrase
        if target.kind == "s3":
            env["AWS_ACCESS_KEY_ID"] = config.target_user
            env["AWS_SECRET_ACCESS_KEY"] = config.target_pass
            env["AWS_REQUEST_CHECKSUM_CALCULATION"] = "WHEN_REQUIRED"
            env["AWS_RESPONSE_CHECKSUM_VALIDATION"] = "WHEN_REQUIRED"
        return env

    def _excludes(self) -> list[Path]:
        return [self.backup_dir, self.storage_root / "owncloud-backup"]

    # --- locks and logs ----------------------------------------------------------------------

    @contextlib.contextmanager
    def _operation(
        self, *, wait: float | None, waiting: Callable[[], None] | None = None
    ) -> Iterator[bool]:
        """Hold the box's backup lock (one duplicity at a time per cache); yields False if it
        could not be had within `wait` seconds (None: wait as long as it takes)."""
        self.state_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
        fd = os.open(self._lock_path, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600)
        try:
            deadline = None if wait is None else time.monotonic() + wait
            told = False
            while True:
                try:
                    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                    mine = True
                    # No run of ours is going now: one recorded was left by a killed process.
                    duplicity.stop_orphan(self._pid_file, str(self.cache_dir))
                    break
                except OSError as exc:
                    if exc.errno not in (errno.EWOULDBLOCK, errno.EAGAIN):
                        raise
                if deadline is not None and time.monotonic() >= deadline:
                    mine = False
                    break
                if waiting is not None and not told:
                    waiting()
                    told = True
                time.sleep(0.1)
            yield mine
        finally:
            os.close(fd)

    def _new_log(self, kind: str, progress: Progress) -> RunLog:
        stamp = datetime.datetime.now(datetime.UTC).strftime("%Y%m%dT%H%M%SZ")
        log = RunLog(self.logs_dir / f"{kind}-{stamp}-{os.getpid()}.log", progress)
        old = sorted(self.logs_dir.glob(f"{kind}-*.log"), key=lambda p: p.stat().st_mtime)
        for stale in old[:-KEEP_LOGS]:
            stale.unlink(missing_ok=True)
        return log

    def logs(self) -> tuple[Path, ...]:
        """The kept logs of backups, verifications and restores, newest first."""
        try:
            found = [p for p in self.logs_dir.iterdir() if p.suffix == ".log"]
        except OSError:
            return ()
        return tuple(sorted(found, key=lambda p: p.stat().st_mtime, reverse=True))

    # --- jobs --------------------------------------------------------------------------------

    def start_backup(self, *, actor: Actor, full: bool = False) -> JobStart:
        """Start a backup job (or answer with the one under way).

        Raises:
            JobError: the job could not be started.
        """
        return self._box.jobs.start(BACKUP, actor=actor, params={"full": full})

    def start_verify(self, *, actor: Actor, time: str | None = None) -> JobStart:
        """Start a verification of a backup (the newest, or the one at `time`) against the
        live files.

        Raises:
            ValidationError: backups are off, or there is no backup at `time`.
            JobError: the job could not be started.
        """
        self._backup_time(time)
        return self._box.jobs.start(BACKUP_VERIFY, actor=actor, params={"time": time})

    def start_restore(self, request: RestoreRequest, *, actor: Actor) -> JobStart:
        """Start a restore, after checking everything it would refuse.

        Raises:
            ValidationError: the request is refused (see `RestoreRequest`); nothing ran.
            JobError: the job could not be started.
        """
        checked = check_request(request, self.storage_root)
        self._backup_time(checked.time)
        return self._box.jobs.start(BACKUP_RESTORE, actor=actor, params=checked.as_params())

    def _backup_time(self, time: str | None) -> str:
        """The duplicity time of the backup named (the newest when None).

        Raises:
            ValidationError: backups are off, cannot be listed, or there is no such backup.
        """
        status = self.status()
        if not status.enabled:
            raise ValidationError("Backups are turned off.", field="time")
        if status.error is not None:
            raise ValidationError(status.error, field="time")
        if not status.backups:
            raise ValidationError("No backups have been made yet.", field="time")
        if time is None:
            return status.backups[0].duplicity_time
        entry = status.find(time.strip()) if isinstance(time, str) else None
        if entry is None:
            shown = str(time)[:40]
            raise ValidationError(f"There is no backup made at {shown}.", field="time")
        return entry.duplicity_time

    # --- the work (core.backup.operations) ---------------------------------------------------

    def back_up(
        self,
        *,
        actor: Actor,
        full: bool = False,
        progress: Progress = silent,
        stall_timeout: float = duplicity.STALL_TIMEOUT,
    ) -> BackupOutcome:
        """Make a backup now (SYSTEM.md §3.1), full if `full` or the rules say so; progress
        lines and the fraction done go to `progress`. Backups turned off: nothing is done
        (`made` is False).

        Raises:
            ValidationError: the stored target is not one.
            ConfigError: the encryption key is unusable.
            HostError: a service could not be stopped, duplicity failed or stalled, a hook
                failed, or a service could not be started again (the message says which;
                the log has the rest).
        """
        return operations.back_up(
            self, actor=actor, full=full, progress=progress, stall_timeout=stall_timeout
        )

    def verify(
        self,
        *,
        actor: Actor,
        time: str | None = None,
        progress: Progress = silent,
        stall_timeout: float = duplicity.STALL_TIMEOUT,
    ) -> VerifyOutcome:
        """Compare a backup (the newest, or the one at `time`) with the live files
        (`duplicity verify --compare-data`), reporting every difference.

        Raises:
            ValidationError: backups are off, or there is no such backup.
            ConfigError: there is no usable encryption key.
            HostError: duplicity failed or stalled.
        """
        return operations.verify(
            self, actor=actor, time=time, progress=progress, stall_timeout=stall_timeout
        )

    def restore(
        self,
        request: RestoreRequest,
        *,
        actor: Actor,
        progress: Progress = silent,
        stall_timeout: float = duplicity.STALL_TIMEOUT,
    ) -> RestoreOutcome:
        """Restore a backup, whole or one path, into a new folder; or, confirmed, the whole
        backup in place of STORAGE_ROOT with the mail services stopped (see
        `core.backup.restore`).

        Raises:
            ValidationError: the request is refused; nothing ran.
            ConfigError: there is no usable encryption key.
            HostError: duplicity failed or stalled (nothing live was touched), a service
                could not be stopped, or the swap failed (everything was put back).
        """
        return operations.restore(
            self, request, actor=actor, progress=progress, stall_timeout=stall_timeout
        )

    # --- job entry points (core.jobs.kinds) --------------------------------------------------

    def run_job(
        self, kind: str, params: Mapping[str, object], actor: Actor, progress: Progress
    ) -> str:
        """The work of the backup job kinds; the outcome as JSON.

        Raises:
            ValidationError: bad parameters; otherwise as `back_up`, `verify`, `restore`.
        """
        stall = params.get("stall_timeout", duplicity.STALL_TIMEOUT)
        if not isinstance(stall, int | float) or isinstance(stall, bool) or not 1 <= stall <= 86400:
            raise ValidationError("stall_timeout must be a number of seconds from 1 to 86400.")
        if kind == BACKUP:
            full = params.get("full", False)
            if not isinstance(full, bool):
                raise ValidationError("full must be true or false.", field="full")
            return self.back_up(
                actor=actor, full=full, progress=progress, stall_timeout=stall
            ).to_json()
        if kind == BACKUP_VERIFY:
            when = params.get("time")
            if when is not None and not isinstance(when, str):
                raise ValidationError("time must be a backup's date.", field="time")
            return self.verify(
                actor=actor, time=when, progress=progress, stall_timeout=stall
            ).to_json()
        request = RestoreRequest.from_params(params)
        return self.restore(request, actor=actor, progress=progress, stall_timeout=stall).to_json()
