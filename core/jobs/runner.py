"""`python -m core.jobs.runner BOX_PATH JOB_ID [LOCK_FD]`: run one queued job to its end.

Launched detached by `JobService.start` (its own session, so closing the face's terminal or
stopping the face does not stop it). Opens its own Box, holds the kind's lock (handed over as
LOCK_FD by the starter, else taken here), runs the kind's function, and records done, failed
(an exception's message; the traceback goes to the jobs log) or cancelled (SIGTERM).
"""

from __future__ import annotations

import logging
import os
import signal
import sys
from types import FrameType

from core.box import Box, open_box
from core.errors import MiabError
from core.jobs.registry import JobContext, job_function
from core.jobs.service import JobService, JobState, open_lock, try_lock

log = logging.getLogger("miab.jobs")


class Cancelled(BaseException):  # noqa: N818 - a signal, not an error
    """Raised in the runner's main thread by SIGTERM."""


def _on_sigterm(_signum: int, _frame: FrameType | None) -> None:
    raise Cancelled


def _lock(box: Box, kind: str, handed: int | None) -> int | None:
    """The descriptor holding `kind`'s lock, or None if another process holds it."""
    if handed is not None:
        os.set_inheritable(handed, False)  # nothing we start may keep the lock alive
        # The same open file description the starter locked: this cannot block.
        return handed if try_lock(handed) else None
    fd = open_lock(box, kind)
    if try_lock(fd):
        return fd
    os.close(fd)
    return None


def run(box_path: str, job_id: int, handed: int | None) -> int:
    # A SIGTERM before the work begins waits (blocked) until we can record it as cancelled.
    signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGTERM})
    signal.signal(signal.SIGTERM, _on_sigterm)
    box = open_box(box_path)
    jobs = JobService(box)
    job = jobs._fetch(job_id)
    if job is None:
        log.error("job %s: no such job", job_id)
        return 1
    fd = _lock(box, job.kind, handed)
    if fd is None:
        log.error("job %s: another %s job holds the lock", job_id, job.kind)
        return 1
    claimed = jobs._begin(job_id)
    if claimed is None:  # cancelled (or failed) before it began
        return 0

    def progress(line: str, fraction: float | None) -> None:
        jobs._say(job_id, line, fraction)

    state, result = JobState.FAILED, ""
    try:
        try:
            signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGTERM})
            result = job_function(job.kind)(JobContext(box, job.actor, job.params, progress))
            state = JobState.DONE
        finally:
            # From here on a SIGTERM waits until the end is recorded (and then ends us).
            signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGTERM})
    except Cancelled:
        state, result = JobState.CANCELLED, "Cancelled."
    except MiabError as exc:
        result = exc.message
    except Exception:
        log.exception("job %s (%s) failed", job_id, job.kind)
        # Faces show this; the exception's own text stays in the jobs log with its traceback.
        result = "An unexpected error stopped it; the jobs log has the details."
    jobs._end(job_id, state, result)
    box.close()
    os.close(fd)
    return 0


def main(argv: list[str]) -> int:
    logging.basicConfig(
        stream=sys.stderr,
        level=logging.INFO,
        format="%(asctime)s %(name)s[%(process)d] %(levelname)s %(message)s",
    )
    if len(argv) not in (2, 3):
        print("usage: python -m core.jobs.runner BOX_PATH JOB_ID [LOCK_FD]", file=sys.stderr)
        return 2
    handed = int(argv[2]) if len(argv) == 3 else None
    return run(argv[0], int(argv[1]), handed)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
