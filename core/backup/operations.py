"""The long work of `box.backup`: making a backup, verifying one, restoring one (SYSTEM.md
§3.1; see `core.backup.service` for what each does and `core.backup.restore` for what a
restore may do). Each runs under the box's backup lock, keeps a log, and reports progress."""

from __future__ import annotations

import datetime
import os
import shutil
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Final

from core.audit import Actor
from core.backup import duplicity, settings
from core.backup.outcomes import BackupOutcome, RestoreOutcome, VerifyOutcome
from core.backup.restore import RestoreRequest, check_request, swap_in
from core.backup.runlog import (
    BackupProgress,
    Progress,
    RunLog,
    SourceScan,
    SourceSize,
    silent,
    summary,
    wait_for_port,
)
from core.backup.settings import BackupConfig, Target
from core.backup.status import BackupSet, full_due, listing_key
from core.backup.targets import TargetFile, duplicity_files
from core.backup.upkeep import EVERYTHING, Upkeep, plan_upkeep
from core.errors import HostError, ValidationError
from core.host import Host, service_command
from core.jobs.kinds import BACKUP, BACKUP_RESTORE, BACKUP_VERIFY
from core.mail.users import human_size

if TYPE_CHECKING:
    from core.backup.service import BackupService

VOLSIZE: Final = "250"  # MB per volume, the reference's
# The services stopped while a backup is made (HEAD's list; php under v0.51's name too), in
# stop order, each with the program that shows it is installed here.
SERVICES: Final = (
    ("php8.0-fpm", "php-fpm8.0"),
    ("php7.2-fpm", "php-fpm7.2"),
    ("postfix", "postfix"),
    ("dovecot", "dovecot"),
    ("postgrey", "postgrey"),
)
SERVICE_TIMEOUT: Final = 120.0
PORT_WAIT: Final = 10.0  # seconds for ports 25 and 993 after the restart (the reference's)
MAX_DIFFERENCES: Final = 1000
# The listing after a backup, to plan the upkeep: past this, both commands run instead.
LISTING_WAIT: Final = 300.0
_DIFFERENCE: Final = "Difference found: "
_VERIFY_DONE: Final = "Verify complete: "


# --- services ----------------------------------------------------------------------------


def stop_services(host: Host, log: RunLog, what: str) -> list[tuple[str, str]]:
    """Stop the mail services (a real box only); the ones stopped, with their programs.

    Raises:
        HostError: one could not be stopped (those stopped are started again).
    """
    if host.is_local:
        log.say(f"this is a local box: no service is stopped for the {what}")
        return []
    stopped: list[tuple[str, str]] = []
    for name, program in SERVICES:
        if not host.installed(program):
            continue
        done = host.run(service_command(name, "stop"), timeout=SERVICE_TIMEOUT)
        if not done.ok:
            start_services(host, stopped, log)
            raise HostError(
                f"{name} could not be stopped: {done.detail}; the {what} did not start."
            )
        stopped.append((name, program))
        log.say(f"stopped {name}")
    return stopped


def start_services(host: Host, stopped: Sequence[tuple[str, str]], log: RunLog) -> list[str]:
    """Start the stopped services again (`service NAME restart`), then give ports 25 and 993
    up to 10 s each to answer (the reference's wait); the notes of those that failed."""
    failed: list[str] = []
    for name, program in reversed(stopped):
        result = host.restart(name, program=program, timeout=SERVICE_TIMEOUT)
        if result.ok:
            log.say(f"started {name}")
        else:
            failed.append(result.note)
            log.say(result.note)
    if stopped:
        for port in (25, 993):
            wait_for_port(port, PORT_WAIT)
    return failed


def run_hook(
    service: BackupService, name: str, target: Target, log: RunLog, timeout: float
) -> None:
    """Run `backup/<name>` as STORAGE_USER if it is there (a real box only).

    Raises:
        HostError: it failed.
    """
    script = service.backup_dir / name
    if not script.exists():
        return
    if service.host.is_local:
        log.say(f"this is a local box: backup/{name} not run")
        return
    user = service._box.config.storage_user
    done = service.host.run(["su", user, "-c", str(script), target.url], timeout=timeout)
    if done.stdout.strip():
        log.write(done.stdout.strip())
    if not done.ok:
        raise HostError(f"backup/{name} failed: {done.detail}")
    log.say(f"ran backup/{name}")


# --- back up -----------------------------------------------------------------------------


def back_up(
    service: BackupService,
    *,
    actor: Actor,
    full: bool = False,
    progress: Progress = silent,
    stall_timeout: float = duplicity.STALL_TIMEOUT,
) -> BackupOutcome:
    """`BackupService.back_up` (its docstring says what it does and raises)."""
    config = service.get_config()
    if not config.enabled:
        return BackupOutcome(False, None, ("Backups are turned off: nothing was backed up.",))
    with service._box.audit.recording(actor, "back up", config.target_url[:200]):
        target = service.parse_target(config.target)
        log = service._new_log(BACKUP, progress)
        log.write(f"backup asked for by {actor.name} ({actor.face}) to {target.url}")
        with service._operation(
            wait=None,
            waiting=lambda: log.say("waiting for another backup operation to end"),
        ):
            return _back_up(service, target, config, full, log, stall_timeout)


def _back_up(
    service: BackupService,
    target: Target,
    config: BackupConfig,
    full: bool,
    log: RunLog,
    stall: float,
) -> BackupOutcome:
    lines: list[str] = []
    if settings.ensure_passphrase(config.enc_pw_file):
        lines.append(f"made the encryption key {config.enc_pw_file} (keep a copy elsewhere)")
        log.say(lines[-1])
    passphrase = settings.read_passphrase(config.enc_pw_file)
    if target.folder is not None and target.folder == service.backup_dir / "encrypted":
        target.folder.mkdir(parents=True, exist_ok=True)
    log.say("looking at the backups already made", 0.01)
    # What duplicity had before this backup: it decides full or incremental, then whether
    # the upkeep after it has anything to do (`upkeep.plan_upkeep`).
    known: tuple[BackupSet, ...] | None = None
    before: Sequence[TargetFile] = ()
    if not full:
        try:
            before = service._list(target, config.target_user, config.target_pass, timeout=stall)
        except ValidationError as exc:
            raise HostError(exc.message) from None
        status = service._status_of(target, config, before, locked=True, stall_timeout=stall)
        full = full_due(status, min_age=config.min_age_in_days, now=service.now())
        known = tuple(BackupSet(b.full, b.duplicity_time, b.volumes) for b in status.backups)
    kind = "full" if full else "incremental"
    scan = SourceScan(service.storage_root, service._excludes())

    def heading(source: SourceSize) -> str:
        return (
            f"{kind} backup of {source.entries} files and folders ({human_size(source.size)})"
            f" to {target.url}"
        )

    progress = BackupProgress(log, scan, full, {}, heading)
    statistics = progress.statistics
    env = service._env(target, config, passphrase)
    stopped = stop_services(service.host, log, "backup")
    try:
        run_hook(service, "before-backup", target, log, stall)
        run = duplicity.run(
            service.host,
            [
                "duplicity",
                "full" if full else "incr",
                "--verbosity",
                "info",
                "--archive-dir",
                str(service.cache_dir),
                *(a for p in service._excludes() for a in ("--exclude", str(p))),
                "--volsize",
                VOLSIZE,
                "--gpg-options",
                "--cipher-algo=AES256",
                "--allow-source-mismatch",
                *service._target_args(target),
                str(service.storage_root),
                target.duplicity_url,
            ],
            env=env,
            output=log.path,
            on_stanza=progress,
            stall_timeout=stall,
            pid_file=service._pid_file,
        )
    finally:
        not_started = start_services(service.host, stopped, log)
    progress.say_heading()  # if duplicity was done before the count
    if not run.ok:
        also = "".join(f" Also: {line}." for line in not_started)
        raise HostError(run.failure(f"The {kind} backup") + also + f" The log: {log.path}")
    lines.append(summary(kind, target, statistics, run.elapsed))
    log.say(lines[-1], 0.9)
    upkeep, after = _plan_upkeep(service, target, config, known, before, stall)
    steps: list[tuple[list[str], float]] = []
    if upkeep.prune:
        steps.append((["remove-older-than", f"{config.min_age_in_days}D"], 0.93))
    if upkeep.cleanup:
        steps.append((["cleanup"], 0.97))
    for why in upkeep.why:
        log.say(why)
    if not steps and upkeep.sets is not None:
        # The status as duplicity would list it now: the next run and the TUI need not ask.
        service._keep(listing_key(target.url, duplicity_files(after)), upkeep.sets)
    for step, fraction in steps:
        done = duplicity.run(
            service.host,
            [
                "duplicity",
                *step,
                "--verbosity",
                "info",
                "--archive-dir",
                str(service.cache_dir),
                "--force",
                *service._target_args(target),
                target.duplicity_url,
            ],
            env=env,
            output=log.path,
            stall_timeout=stall,
            pid_file=service._pid_file,
        )
        if not done.ok:
            raise HostError(
                "The backup was made, but "
                + done.failure(f"duplicity {step[0]}")
                + f" The log: {log.path}"
            )
        log.say(f"duplicity {step[0]} done", fraction)
    if target.kind in ("local", "file") and not service.host.is_local and target.folder:
        owner = service.host.run(
            ["chown", "-R", service._box.config.storage_user, str(target.folder)], timeout=600
        )
        if not owner.ok:
            log.say(f"the backup files could not be given to the storage user: {owner.detail}")
    run_hook(service, "after-backup", target, log, stall)
    if not_started:
        raise HostError("The backup was made, but " + "; ".join(not_started) + ".")
    log.say("", 1.0)
    return BackupOutcome(True, full, tuple(lines), str(log.path), tuple(sorted(statistics.items())))


def _plan_upkeep(
    service: BackupService,
    target: Target,
    config: BackupConfig,
    known: tuple[BackupSet, ...] | None,
    before: Sequence[TargetFile],
    stall: float,
) -> tuple[Upkeep, Sequence[TargetFile]]:
    """Whether `remove-older-than` and `cleanup` are needed after this backup, from the
    target's listing now and the local archive (both, when either cannot be read)."""
    if known is None:
        return EVERYTHING, ()
    try:
        after = service._list(
            target, config.target_user, config.target_pass, timeout=min(stall, LISTING_WAIT)
        )
        # Files only: a killed duplicity leaves `duplicity-…-tempdir` folders that cleanup
        # never removes; they would make it run every night.
        archives = [
            [entry.name for entry in folder.iterdir() if not entry.is_dir()]
            for folder in service.cache_dir.iterdir()
            if folder.is_dir()
        ]
    except (ValidationError, OSError):
        return EVERYTHING, ()
    plan = plan_upkeep(
        known,
        before,
        after,
        archives,
        now=service.now(),
        min_age=config.min_age_in_days,
    )
    return plan, after


# --- verify ------------------------------------------------------------------------------


def verify(
    service: BackupService,
    *,
    actor: Actor,
    time: str | None = None,
    progress: Progress = silent,
    stall_timeout: float = duplicity.STALL_TIMEOUT,
) -> VerifyOutcome:
    """`BackupService.verify` (its docstring says what it does and raises)."""
    config = service.get_config()
    chosen = service._backup_time(time) if time is not None else None
    if not config.enabled:
        raise ValidationError("Backups are turned off.")
    target = service.parse_target(config.target)
    passphrase = settings.read_passphrase(config.enc_pw_file)
    log = service._new_log(BACKUP_VERIFY, progress)
    log.write(f"verification asked for by {actor.name} ({actor.face}) of {target.url}")
    differences: list[str] = []
    counts = {"differences": 0, "compared": -1}

    def on_stanza(stanza: duplicity.Stanza) -> None:
        line = stanza.first_line
        if stanza.level == "NOTICE" and line.startswith(_DIFFERENCE):
            counts["differences"] += 1
            if len(differences) < MAX_DIFFERENCES:
                differences.append(line[len(_DIFFERENCE) :])
                log.say(line)
        elif stanza.level == "NOTICE" and line.startswith(_VERIFY_DONE):
            words = line[len(_VERIFY_DONE) :].split()
            if words and words[0].isdigit():
                counts["compared"] = int(words[0])
        elif stanza.code == duplicity.INFO_PROGRESS and stanza.extra:
            numbers = stanza.extra[0].split()
            if len(numbers) == 2 and all(n.isdigit() for n in numbers):
                log.say(line, 0.05 + 0.9 * int(numbers[0]) / max(1, int(numbers[1])))

    with service._operation(
        wait=None, waiting=lambda: log.say("waiting for another backup operation to end")
    ):
        log.say(f"comparing the backup {chosen or '(newest)'} with {service.storage_root}", 0.02)
        run = duplicity.run(
            service.host,
            [
                "duplicity",
                "verify",
                "--compare-data",
                "--verbosity",
                "info",
                "--archive-dir",
                str(service.cache_dir),
                *(a for p in service._excludes() for a in ("--exclude", str(p))),
                *(["--time", chosen] if chosen else []),
                *service._target_args(target),
                target.duplicity_url,
                str(service.storage_root),
            ],
            env=service._env(target, config, passphrase),
            output=log.path,
            on_stanza=on_stanza,
            stall_timeout=stall_timeout,
            pid_file=service._pid_file,
        )
    # duplicity verify exits 1 when it found differences; it finished if it said so.
    if counts["compared"] < 0 or run.returncode not in (0, 1):
        raise HostError(run.failure("The verification") + f" The log: {log.path}")
    log.say(f"{counts['compared']} files compared, {counts['differences']} differences", 1.0)
    return VerifyOutcome(
        chosen or "",
        counts["compared"],
        counts["differences"],
        tuple(differences),
        str(log.path),
    )


# --- restore -----------------------------------------------------------------------------


def restore(
    service: BackupService,
    request: RestoreRequest,
    *,
    actor: Actor,
    progress: Progress = silent,
    stall_timeout: float = duplicity.STALL_TIMEOUT,
) -> RestoreOutcome:
    """`BackupService.restore` (its docstring says what it does and raises)."""
    checked = check_request(request, service.storage_root)
    chosen = service._backup_time(checked.time)
    config = service.get_config()
    target = service.parse_target(config.target)
    passphrase = settings.read_passphrase(config.enc_pw_file)
    what = checked.path or "everything"
    where = checked.to or str(service.storage_root)
    with service._box.audit.recording(actor, "restore backup", f"{chosen} {what} {where}"):
        log = service._new_log(BACKUP_RESTORE, progress)
        log.write(f"restore asked for by {actor.name} ({actor.face}): {what} of {chosen}")
        with service._operation(
            wait=None, waiting=lambda: log.say("waiting for another backup operation to end")
        ):
            stamp = datetime.datetime.now(datetime.UTC).strftime("%Y%m%dT%H%M%SZ")
            if checked.in_place:
                destination = service.backup_dir / f"restore-{stamp}"
            else:
                assert checked.to is not None
                destination = Path(checked.to)
                if destination.is_dir():
                    destination.rmdir()  # empty (checked): duplicity makes it itself
            log.say(f"restoring {what} of the backup made {chosen} to {destination}", 0.02)

            def on_stanza(stanza: duplicity.Stanza) -> None:
                if stanza.code == duplicity.INFO_PROGRESS and stanza.extra:
                    numbers = stanza.extra[0].split()
                    if len(numbers) == 2 and all(n.isdigit() for n in numbers):
                        done, total = int(numbers[0]), int(numbers[1])
                        log.say(stanza.first_line, 0.05 + 0.8 * done / max(1, total))

            run = duplicity.run(
                service.host,
                [
                    "duplicity",
                    "restore",
                    "--verbosity",
                    "info",
                    "--archive-dir",
                    str(service.cache_dir),
                    "--time",
                    chosen,
                    *(["--file-to-restore", checked.path] if checked.path else []),
                    *service._target_args(target),
                    target.duplicity_url,
                    str(destination),
                ],
                env=service._env(target, config, passphrase),
                output=log.path,
                on_stanza=on_stanza,
                stall_timeout=stall_timeout,
                pid_file=service._pid_file,
            )
            # duplicity exits 0 when it could not write what it restored: it warns `Error
            # '…' processing PATH` and skips what is under it. Any such path fails the restore.
            failed = [w for w in run.warnings if w.startswith(("Error ", "Skipping "))]
            if not run.ok or failed or not os.path.lexists(destination):
                if checked.in_place:
                    shutil.rmtree(destination, ignore_errors=True)
                if not run.ok:
                    raise HostError(run.failure("The restore") + f" The log: {log.path}")
                first = failed[0].splitlines()[0] if failed else "nothing was written"
                raise HostError(
                    f"The restore into {destination} failed"
                    + (f" for {len(failed)} paths" if len(failed) > 1 else "")
                    + f" ({first}). The log: {log.path}"
                )
            lines = [f"restored {what} of the backup made {chosen} into {destination}"]
            previous = ""
            if checked.in_place:
                previous = str(_swap(service, destination, stamp, log))
                lines = [
                    f"restored the backup made {chosen} into {service.storage_root}",
                    f"what it replaced is in {previous}: delete it once all is well",
                    "restart the admin API and close any TUI, so they open the restored "
                    "users.sqlite",
                ]
            for line in lines:
                log.say(line)
            log.say("", 1.0)
    return RestoreOutcome(
        chosen,
        checked.path,
        where,
        checked.in_place,
        tuple(lines),
        previous,
        str(log.path),
    )


def _swap(service: BackupService, restored: Path, stamp: str, log: RunLog) -> Path:
    previous = service.backup_dir / f"before-restore-{stamp}"
    stopped = stop_services(service.host, log, "restore")
    try:
        swap_in(service.storage_root, restored, previous)
    except OSError as exc:
        shutil.rmtree(restored, ignore_errors=True)
        raise HostError(
            f"The restored files could not be moved into place ({exc.strerror}); the live "
            "data is as it was."
        ) from None
    finally:
        failed = start_services(service.host, stopped, log)
    restored.rmdir()
    log.say(f"swapped the restored files in; the replaced ones are in {previous}", 0.95)
    if failed:
        raise HostError("The backup was restored, but " + "; ".join(failed) + ".")
    return previous
