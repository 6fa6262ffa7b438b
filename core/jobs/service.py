"""`box.jobs`: long work run in a detached process, one job of a kind at a time.

State lives in the box's state database (tables `jobs` and `job_lines`), so any process (the
TUI, every API worker, the command line) sees every job and follows its lines.

One of a kind: the lock is an exclusive `flock` on `<state dir>/jobs/<kind>.lock`. The process
that starts a job takes it (non-blocking, inside a state-database write transaction), records
the job as queued and hands the locked descriptor to the runner it launches (`pass_fds`: the
same open file description, so the lock is held without a gap); the runner holds it until it
has recorded how the job ended and exits. Hence a queued or running job whose kind's lock is
free was left by a process that ended (SIGKILL, power loss): it is marked failed the next time
that kind is started, listed or looked at. Every look at a lock happens inside a write
transaction, so two processes never judge the same lock at once.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import json
import os
import signal
import sqlite3
import sys
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

from core.audit import Actor
from core.config import SYSTEM_CONF
from core.errors import HostError, MiabError, NotFound, ValidationError
from core.host import Host
from core.jobs.registry import KIND_PATTERN, job_function, job_kinds

if TYPE_CHECKING:
    from core.box import Box
    from core.storage.db import Database

ENDED_MESSAGE: Final = "The process running it ended."
# A lock held with no job recorded: the runner is between recording its end and exiting, or
# a starter between locking and recording. Both last milliseconds.
HANDOVER_WAIT: Final = 5.0
REAP_INTERVAL: Final = 0.5  # how often one process re-checks the lock of an active job


class JobState(StrEnum):
    QUEUED = "queued"
    RUNNING = "running"
    DONE = "done"
    FAILED = "failed"
    CANCELLED = "cancelled"

    @property
    def finished(self) -> bool:
        return self in (JobState.DONE, JobState.FAILED, JobState.CANCELLED)


ACTIVE: Final = (JobState.QUEUED.value, JobState.RUNNING.value)


@dataclass(frozen=True, slots=True)
class Job:
    id: int
    kind: str
    state: JobState
    actor: Actor
    params: Mapping[str, object]
    pid: int | None
    created: float
    started: float | None
    ended: float | None
    progress: float | None  # 0..1, None while the job has not said
    result: str  # done: the kind's result; failed: the error's message; else ""
    line_count: int

    @property
    def finished(self) -> bool:
        return self.state.finished


@dataclass(frozen=True, slots=True)
class JobLine:
    number: int  # 1, 2, ... within the job
    time: float
    text: str


@dataclass(frozen=True, slots=True)
class JobStart:
    """What `start` did: started `job`, or found `job` of that kind running already."""

    job: Job
    already_running: bool


class JobError(MiabError):
    """A job could not be started (its runner could not be launched)."""


_COLUMNS: Final = (
    "id, kind, state, actor, face, params, pid, created, started, ended, "
    "progress, result, (SELECT COUNT(*) FROM job_lines WHERE job_id = jobs.id)"
)


def _job(row: tuple[Any, ...]) -> Job:
    (
        job_id,
        kind,
        state,
        actor,
        face,
        params,
        pid,
        created,
        started,
        ended,
        progress,
        result,
        count,
    ) = row
    return Job(
        id=job_id,
        kind=kind,
        state=JobState(state),
        actor=Actor(actor, face),
        params=json.loads(params),
        pid=pid,
        created=created,
        started=started,
        ended=ended,
        progress=progress,
        result=result or "",
        line_count=count,
    )


def jobs_dir(box: Box) -> Path:
    return box.config.state_db.parent / "jobs"


def log_path(box: Box) -> Path:
    """Where runners write tracebacks and anything they print."""
    return jobs_dir(box) / "jobs.log"


def open_lock(box: Box, kind: str) -> int:
    """The descriptor of `kind`'s lock file (created 0600; never through a link)."""
    if not KIND_PATTERN.fullmatch(kind):
        raise ValidationError(f"There is no job kind {kind!r}.", field="kind")
    folder = jobs_dir(box)
    folder.mkdir(mode=0o700, parents=True, exist_ok=True)
    return os.open(
        folder / f"{kind}.lock", os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600
    )


def try_lock(fd: int) -> bool:
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError as exc:
        if exc.errno in (errno.EWOULDBLOCK, errno.EAGAIN):
            return False
        raise
    return True


class JobService:
    def __init__(self, box: Box) -> None:
        self._box = box
        self._db: Database = box.state_db
        self._checked: dict[str, float] = {}  # kind -> when its lock was last looked at
        self._checked_lock = threading.Lock()

    # --- reading ------------------------------------------------------------------------------

    def kinds(self) -> tuple[str, ...]:
        return job_kinds()

    def get(self, job_id: int) -> Job:
        """Raises: NotFound: no such job."""
        job = self._fetch(job_id)
        if job is None:
            raise NotFound(f"There is no job {job_id}.")
        if not job.finished and self._reap(job.kind):
            job = self._fetch(job_id) or job
        return job

    def running(self, kind: str) -> Job | None:
        """The queued or running job of `kind`, if any."""
        self._reap(kind)
        rows = self._db.query(
            f"SELECT {_COLUMNS} FROM jobs WHERE kind = ? AND state IN (?, ?)"
            " ORDER BY id DESC LIMIT 1",
            (kind, *ACTIVE),
        )
        return _job(rows[0]) if rows else None

    def recent(self, limit: int = 50) -> tuple[Job, ...]:
        """The newest jobs first."""
        active = self._db.query("SELECT DISTINCT kind FROM jobs WHERE state IN (?, ?)", ACTIVE)
        for (kind,) in active:
            self._reap(kind)
        rows = self._db.query(f"SELECT {_COLUMNS} FROM jobs ORDER BY id DESC LIMIT ?", (limit,))
        return tuple(_job(row) for row in rows)

    def lines(self, job_id: int, after_line: int = 0) -> tuple[JobLine, ...]:
        """The job's progress lines numbered above `after_line`, in order."""
        rows = self._db.query(
            "SELECT line_no, time, text FROM job_lines WHERE job_id = ? AND"
            " line_no > ? ORDER BY line_no",
            (job_id, after_line),
        )
        return tuple(JobLine(*row) for row in rows)

    def wait(self, job_id: int, timeout: float | None = None, *, poll: float = 0.05) -> Job:
        """The job once it has finished, or as it is when `timeout` seconds have passed
        (check `job.finished`). Raises: NotFound: no such job."""
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            job = self.get(job_id)
            if job.finished or (deadline is not None and time.monotonic() >= deadline):
                return job
            time.sleep(
                poll if deadline is None else max(0.0, min(poll, deadline - time.monotonic()))
            )

    def run(
        self,
        kind: str,
        *,
        actor: Actor,
        params: Mapping[str, object] | None = None,
        timeout: float | None = None,
    ) -> Job:
        """Start a job of `kind` and wait for it, for a face that answers synchronously (the
        API keeps the spec's answers). A job of that kind already under way is waited for
        first and then this one starts: the caller asked for the work done from now on.

        Raises: as `start`.
        """
        started = self.start(kind, actor=actor, params=params)
        if started.already_running:
            self.wait(started.job.id, timeout)
            started = self.start(kind, actor=actor, params=params)
        return self.wait(started.job.id, timeout)

    def result(
        self,
        kind: str,
        *,
        actor: Actor,
        params: Mapping[str, object] | None = None,
        timeout: float | None = None,
    ) -> str:
        """`run`, then the finished job's result.

        Raises:
            HostError: the job failed, was cancelled or is still going at `timeout` (the
                message says which; the traceback, if any, is in the jobs log).
        """
        job = self.run(kind, actor=actor, params=params, timeout=timeout)
        if job.state is JobState.DONE:
            return job.result
        what = job.state.value if job.finished else "still running"
        raise HostError(f"The {kind} job #{job.id} {what}: {job.result or 'no result'}")

    def _fetch(self, job_id: int) -> Job | None:
        rows = self._db.query(f"SELECT {_COLUMNS} FROM jobs WHERE id = ?", (job_id,))
        return _job(rows[0]) if rows else None

    # --- the lock -----------------------------------------------------------------------------

    def _reap(self, kind: str, *, force: bool = False) -> bool:
        """Mark failed the active jobs of `kind` whose runner is gone (its lock is free).
        True if any was. Looks at most every REAP_INTERVAL seconds per kind unless `force`."""
        now = time.monotonic()
        with self._checked_lock:
            if not force and now - self._checked.get(kind, -REAP_INTERVAL) < REAP_INTERVAL:
                return False
            self._checked[kind] = now
        if not KIND_PATTERN.fullmatch(kind):
            return False
        fd = open_lock(self._box, kind)
        try:
            with self._db.write() as conn:
                if not self._has_active(conn, kind) or not try_lock(fd):
                    return False
                return self._fail_active(conn, kind) > 0
        finally:
            os.close(fd)  # drops the lock if we took it

    @staticmethod
    def _has_active(conn: sqlite3.Connection, kind: str) -> bool:
        return (
            conn.execute(
                "SELECT 1 FROM jobs WHERE kind = ? AND state IN (?, ?) LIMIT 1", (kind, *ACTIVE)
            ).fetchone()
            is not None
        )

    @staticmethod
    def _fail_active(conn: sqlite3.Connection, kind: str) -> int:
        """With `kind`'s lock held by the caller: every active job of it is dead."""
        cursor = conn.execute(
            "UPDATE jobs SET state = ?, ended = ?, result = ? WHERE kind = ? AND state IN (?, ?)",
            (JobState.FAILED.value, time.time(), ENDED_MESSAGE, kind, *ACTIVE),
        )
        return cursor.rowcount

    # --- starting and cancelling --------------------------------------------------------------

    def start(
        self, kind: str, *, actor: Actor, params: Mapping[str, object] | None = None
    ) -> JobStart:
        """Start a job of `kind` in a detached process, or answer with the one of that kind
        that is queued or running already (`already_running`).

        Raises:
            ValidationError: no such kind, or parameters that are not JSON.
            JobError: the runner could not be launched (the job is recorded failed).
        """
        job_function(kind)  # unknown kinds are refused before anything is written
        conf = self._box.config.conf_path or SYSTEM_CONF
        try:
            params_text = json.dumps(dict(params or {}), sort_keys=True)
        except (TypeError, ValueError) as exc:
            raise ValidationError(f"Job parameters must be JSON values: {exc}.") from None
        deadline = time.monotonic() + HANDOVER_WAIT
        while True:
            fd = open_lock(self._box, kind)
            try:
                job_id: int | None = None
                with self._db.write() as conn:
                    if try_lock(fd):
                        self._fail_active(conn, kind)
                        job_id = conn.execute(
                            "INSERT INTO jobs (kind, state, actor, face, params, created)"
                            " VALUES (?, ?, ?, ?, ?, ?)",
                            (
                                kind,
                                JobState.QUEUED.value,
                                actor.name,
                                actor.face,
                                params_text,
                                time.time(),
                            ),
                        ).lastrowid
                    else:
                        row = conn.execute(
                            f"SELECT {_COLUMNS} FROM jobs WHERE kind = ? AND state IN (?, ?)"
                            " ORDER BY id DESC LIMIT 1",
                            (kind, *ACTIVE),
                        ).fetchone()
                        if row is not None:
                            return JobStart(_job(row), already_running=True)
                if job_id is not None:
                    self._launch(conf, job_id, fd)
                    return JobStart(self.get(job_id), already_running=False)
            finally:
                os.close(fd)  # the runner holds its own copy of a lock we took
            if time.monotonic() >= deadline:
                raise JobError(f"The {kind} lock is held, but no {kind} job is recorded.")
            time.sleep(0.02)

    def _launch(self, conf: Path, job_id: int, lock_fd: int) -> None:
        log_fd = os.open(
            log_path(self._box),
            os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC,
            0o600,
        )
        try:
            # Through the host door, as every program the product runs.
            proc = Host(self._box.config).spawn(
                [
                    sys.executable,
                    "-m",
                    "core.jobs.runner",
                    str(conf.resolve()),
                    str(job_id),
                    str(lock_fd),
                ],
                output_fd=log_fd,
                pass_fds=(lock_fd,),
                env=_runner_env(),
            )
        except OSError as exc:
            with self._db.write() as conn:
                conn.execute(
                    "UPDATE jobs SET state = ?, ended = ?, result = ? WHERE id = ?",
                    (
                        JobState.FAILED.value,
                        time.time(),
                        f"The job could not be started: {exc.strerror}.",
                        job_id,
                    ),
                )
            raise JobError(f"The job could not be started: {exc.strerror}.") from None
        finally:
            os.close(log_fd)
        with self._db.write() as conn:
            conn.execute("UPDATE jobs SET pid = ? WHERE id = ? AND pid IS NULL", (proc.pid, job_id))
        # Collect its exit status when it ends (no zombie); it outlives us if we end first.
        threading.Thread(target=proc.wait, name=f"job-{job_id}-reaper", daemon=True).start()

    def cancel(self, job_id: int, *, actor: Actor) -> Job:
        """Ask a queued or running job to stop (SIGTERM to its process group); it records
        itself cancelled. A finished job is returned as it is.

        Raises: NotFound: no such job.
        """
        job = self.get(job_id)
        if job.finished:
            return job
        fd = open_lock(self._box, job.kind)
        try:
            with self._db.write() as conn:
                row = conn.execute("SELECT state, pid FROM jobs WHERE id = ?", (job_id,)).fetchone()
                state, pid = JobState(row[0]), row[1]
                if state.finished:
                    pass
                elif try_lock(fd):  # its runner is gone
                    self._fail_active(conn, job.kind)
                elif pid is None or state is JobState.QUEUED:
                    # Not running its work yet: the runner sees this and does not begin.
                    conn.execute(
                        "UPDATE jobs SET state = ?, ended = ?, result = ? WHERE id = ?",
                        (JobState.CANCELLED.value, time.time(), "Cancelled.", job_id),
                    )
                    if pid is not None:
                        _signal_group(pid)
                else:
                    _signal_group(pid)
        finally:
            os.close(fd)
        self._box.audit.append(actor, "cancel job", f"{job.kind} #{job_id}", "ok")
        return self.get(job_id)

    # --- used by the runner -------------------------------------------------------------------

    def _begin(self, job_id: int) -> Job | None:
        """The runner's claim: queued → running with our pid; None if the job is not queued."""
        with self._db.write() as conn:
            cursor = conn.execute(
                "UPDATE jobs SET state = ?, pid = ?, started = ? WHERE id = ? AND state = ?",
                (JobState.RUNNING.value, os.getpid(), time.time(), job_id, JobState.QUEUED.value),
            )
            claimed = cursor.rowcount == 1
        return self._fetch(job_id) if claimed else None

    def _say(self, job_id: int, line: str, fraction: float | None) -> None:
        with self._db.write() as conn:
            if line:
                conn.execute(
                    "INSERT INTO job_lines (job_id, line_no, time, text) VALUES (?, (SELECT"
                    " COALESCE(MAX(line_no), 0) + 1 FROM job_lines WHERE job_id = ?), ?, ?)",
                    (job_id, job_id, time.time(), line),
                )
            if fraction is not None:
                conn.execute(
                    "UPDATE jobs SET progress = ? WHERE id = ?",
                    (min(1.0, max(0.0, fraction)), job_id),
                )

    def _end(self, job_id: int, state: JobState, result: str) -> None:
        with self._db.write() as conn:
            conn.execute(
                "UPDATE jobs SET state = ?, ended = ?, result = ?,"
                " progress = CASE WHEN ? THEN 1.0 ELSE progress END WHERE id = ? AND state = ?",
                (
                    state.value,
                    time.time(),
                    result,
                    state is JobState.DONE,
                    job_id,
                    JobState.RUNNING.value,
                ),
            )


def _signal_group(pid: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pid, signal.SIGTERM)


def _runner_env() -> dict[str, str]:
    """Our environment, with the folder `core` is imported from first on the runner's path,
    so `-m core.jobs.runner` runs this same code."""
    env = dict(os.environ)
    root = str(Path(__file__).resolve().parents[2])
    env["PYTHONPATH"] = os.pathsep.join(p for p in (root, env.get("PYTHONPATH")) if p)
    return env
