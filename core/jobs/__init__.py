"""Long jobs: work that takes seconds to minutes, run in a detached process that outlives
the face that started it, one job of a kind at a time across every process (`box.jobs`)."""

from core.jobs import kinds as _kinds  # noqa: F401 - registers core's job kinds
from core.jobs.registry import JobContext, JobFunction, job_kinds, register
from core.jobs.service import (
    ENDED_MESSAGE,
    Job,
    JobError,
    JobLine,
    JobService,
    JobStart,
    JobState,
)

DNS_UPDATE = _kinds.DNS_UPDATE
SELF_TEST = _kinds.SELF_TEST

__all__ = [
    "DNS_UPDATE",
    "ENDED_MESSAGE",
    "SELF_TEST",
    "Job",
    "JobContext",
    "JobError",
    "JobFunction",
    "JobLine",
    "JobService",
    "JobStart",
    "JobState",
    "job_kinds",
    "register",
]
