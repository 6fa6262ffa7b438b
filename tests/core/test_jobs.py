"""Long jobs (core.jobs) with real processes: runners, other faces, SIGKILL and SIGTERM."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from core import Box, open_box
from core.audit import Actor
from core.errors import ValidationError
from core.jobs import DNS_UPDATE, ENDED_MESSAGE, SELF_TEST, Job, JobService, JobState
from core.results import Change

ACTOR = Actor("root", "cli")
ROOT = Path(__file__).resolve().parents[2]

# A face in its own process: opens the box, starts a job, prints what start said, exits.
STARTER = textwrap.dedent("""
    import json, sys
    from core import open_box
    from core.audit import Actor
    box = open_box(sys.argv[1])
    start = box.jobs.start("self-test", actor=Actor("other", "api"),
                           params=json.loads(sys.argv[2]))
    print(json.dumps({"id": start.job.id, "already_running": start.already_running}))
""")


def conf(box: Box) -> str:
    assert box.config.conf_path is not None
    return str(box.config.conf_path)


def start_elsewhere(box: Box, params: dict[str, object]) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-c", STARTER, conf(box), json.dumps(params)],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        text=True,
    )


def wait_for(condition: Callable[[], object], timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


def gone(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    return False


def test_two_processes_start_the_same_kind_one_runs(box: Box) -> None:
    faces = [start_elsewhere(box, {"steps": 20, "delay": 0.1}) for _ in range(2)]
    answers = [json.loads(face.communicate(timeout=30)[0]) for face in faces]
    assert sorted(a["already_running"] for a in answers) == [False, True]
    assert answers[0]["id"] == answers[1]["id"]
    # And this process, a third face, is told the same.
    start = box.jobs.start(SELF_TEST, actor=ACTOR)
    assert start.already_running and start.job.id == answers[0]["id"]
    assert start.job.state in (JobState.QUEUED, JobState.RUNNING)
    job = box.jobs.wait(start.job.id, 30)
    assert job.state is JobState.DONE
    assert len(box.jobs.recent()) == 1  # only one job was ever recorded


def test_progress_and_state_are_visible_from_another_process(box: Box) -> None:
    face = start_elsewhere(box, {"steps": 8, "delay": 0.15})
    job_id = json.loads(face.communicate(timeout=30)[0])["id"]
    assert face.returncode == 0  # the face that started it has ended; the job goes on
    seen: list[str] = []
    states: set[JobState] = set()
    deadline = time.monotonic() + 30
    while True:
        job = box.jobs.get(job_id)
        states.add(job.state)
        seen.extend(line.text for line in box.jobs.lines(job_id, after_line=len(seen)))
        if job.finished:
            break
        assert time.monotonic() < deadline
        time.sleep(0.05)
    assert JobState.RUNNING in states
    assert seen == [f"step {n} of 8" for n in range(1, 9)]
    assert job.state is JobState.DONE and job.result == "8 steps done\n"
    assert job.progress == 1.0 and job.actor == Actor("other", "api")
    assert job.started is not None and job.ended is not None and job.started <= job.ended
    assert box.jobs.running(SELF_TEST) is None


def killed_job(box: Box) -> Job:
    start = box.jobs.start(SELF_TEST, actor=ACTOR, params={"steps": 200, "delay": 0.1})
    wait_for(lambda: box.jobs.lines(start.job.id))
    job = box.jobs.get(start.job.id)
    assert job.state is JobState.RUNNING and job.pid is not None
    os.kill(job.pid, signal.SIGKILL)
    wait_for(lambda: gone(job.pid))  # type: ignore[arg-type]
    return job


def test_a_killed_job_is_marked_failed_on_next_start(box: Box) -> None:
    job = killed_job(box)
    assert box.jobs._fetch(job.id).state is JobState.RUNNING  # type: ignore[union-attr]
    start = box.jobs.start(SELF_TEST, actor=ACTOR, params={"steps": 1, "delay": 0})
    assert not start.already_running
    dead = box.jobs.get(job.id)
    assert dead.state is JobState.FAILED and dead.result == ENDED_MESSAGE
    assert dead.ended is not None
    assert box.jobs.wait(start.job.id, 30).state is JobState.DONE


def test_a_killed_job_is_marked_failed_on_listing(box: Box) -> None:
    job = killed_job(box)
    other = open_box(conf(box))  # another face, which never saw the job
    try:
        (listed,) = other.jobs.recent()
        assert listed.id == job.id and listed.state is JobState.FAILED
        assert listed.result == ENDED_MESSAGE
    finally:
        other.close()


def test_cancel(box: Box) -> None:
    start = box.jobs.start(SELF_TEST, actor=ACTOR, params={"steps": 200, "delay": 0.1})
    wait_for(lambda: box.jobs.lines(start.job.id))
    box.jobs.cancel(start.job.id, actor=ACTOR)
    job = box.jobs.wait(start.job.id, 30)
    assert job.state is JobState.CANCELLED and job.result == "Cancelled."
    assert job.pid is not None
    wait_for(lambda: gone(job.pid))  # type: ignore[arg-type]
    assert len(box.jobs.lines(job.id)) < 200
    assert box.audit.recent(1)[0].operation == "cancel job"
    # The lock is free again: a new one starts.
    again = box.jobs.start(SELF_TEST, actor=ACTOR, params={"steps": 1, "delay": 0})
    assert not again.already_running
    assert box.jobs.wait(again.job.id, 30).state is JobState.DONE
    # Cancelling a finished job changes nothing.
    assert box.jobs.cancel(again.job.id, actor=ACTOR).state is JobState.DONE


def test_a_failing_job_ends_failed_with_its_message(box: Box) -> None:
    start = box.jobs.start(SELF_TEST, actor=ACTOR, params={"steps": 1, "delay": 0, "fail": True})
    job = box.jobs.wait(start.job.id, 30)
    assert job.state is JobState.FAILED and job.result == "The self-test was asked to fail."
    bad = box.jobs.start(SELF_TEST, actor=ACTOR, params={"steps": "many"})
    job = box.jobs.wait(bad.job.id, 30)
    assert job.state is JobState.FAILED and job.result.startswith("steps must be")


def test_unknown_kind_is_refused(box: Box) -> None:
    with pytest.raises(ValidationError):
        box.jobs.start("no-such-kind", actor=ACTOR)
    assert box.jobs.recent() == ()


def test_wait_returns_an_unfinished_job_at_its_timeout(box: Box) -> None:
    start = box.jobs.start(SELF_TEST, actor=ACTOR, params={"steps": 200, "delay": 0.1})
    job = box.jobs.wait(start.job.id, 0.2)
    assert not job.finished
    box.jobs.cancel(job.id, actor=ACTOR)
    assert box.jobs.wait(job.id, 30).state is JobState.CANCELLED


def test_dns_update_job_runs_to_done(box: Box) -> None:
    start = box.jobs.start(DNS_UPDATE, actor=ACTOR)
    job = box.jobs.wait(start.job.id, 120)
    assert job.state is JobState.DONE, job.result
    lines = [line.text for line in box.jobs.lines(job.id)]
    assert lines[0] == "rebuilding and signing every zone"
    assert lines[1] == "updated DNS: box.example.com"
    # The same answer as the update run here: forced too, it rewrites the same zones (the
    # job wrote the OpenDKIM tables first, so only it says so).
    direct = box.dns.update(force=True, actor=ACTOR)

    def other_than_dkim(lines: list[str] | tuple[str, ...]) -> list[str]:
        return [line for line in lines if "OpenDKIM" not in line]

    assert other_than_dkim(job.result.splitlines()) == other_than_dkim(direct.lines)
    assert lines[1:] == list(Change.of(*job.result.splitlines()).lines)
    assert job.progress == 1.0
    assert (box.dns.zones_dir / "box.example.com.txt.signed").exists()
    # The runner's update is audited with the actor that asked for the job.
    updates = [r for r in box.audit.recent() if r.operation == "update DNS"]
    assert len(updates) == 2 and {r.face for r in updates} == {"cli"}


def test_the_lock_lives_next_to_the_state_database(box: Box) -> None:
    start = box.jobs.start(SELF_TEST, actor=ACTOR, params={"steps": 1, "delay": 0})
    box.jobs.wait(start.job.id, 30)
    lock = box.config.state_db.parent / "jobs" / "self-test.lock"
    assert lock.is_file() and not lock.is_symlink()
    assert lock.stat().st_mode & 0o777 == 0o600


def test_service_is_per_box(box: Box) -> None:
    assert isinstance(box.jobs, JobService)
