"""JobPanel follows a job run by another process: lines, progress, final state, cancel."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

from textual.app import App, ComposeResult
from textual.pilot import Pilot
from textual.widgets import Label, Log, ProgressBar

from core import Box
from core.audit import Actor
from core.jobs import JobState
from miab_tui.widgets.job_panel import JobPanel
from tests.core.test_jobs import STARTER

ROOT = Path(__file__).resolve().parents[2]
TUI = Actor("root", "tui")


class PanelApp(App[None]):
    def __init__(self, box: Box, job_id: int) -> None:
        super().__init__()
        self.box = box
        self.job_id = job_id
        self.finished: list[JobState] = []

    def compose(self) -> ComposeResult:
        yield JobPanel(self.box.jobs, self.job_id, actor=TUI)

    def on_job_panel_finished(self, message: JobPanel.Finished) -> None:
        self.finished.append(message.job.state)


def start_in_another_process(box: Box, params: dict[str, object]) -> int:
    assert box.config.conf_path is not None
    out = subprocess.run(
        [sys.executable, "-c", STARTER, str(box.config.conf_path), json.dumps(params)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
        timeout=30,
    ).stdout
    return int(json.loads(out)["id"])


async def until(pilot: Pilot[None], condition: Callable[[], object], seconds: float = 30.0) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        await pilot.pause(0.1)


def state_text(panel: JobPanel) -> str:
    return str(panel.query_one("#job-state", Label).content)


async def test_panel_follows_a_job_of_another_process_to_its_end(box: Box) -> None:
    job_id = start_in_another_process(box, {"steps": 6, "delay": 0.2})
    app = PanelApp(box, job_id)
    async with app.run_test(size=(80, 20)) as pilot:
        panel = app.query_one(JobPanel)
        await until(pilot, lambda: panel.state is JobState.RUNNING)
        assert state_text(panel) == "running"
        await until(pilot, lambda: app.finished)
        await pilot.pause()
        log = panel.query_one("#job-log", Log)
        assert list(log.lines) == [f"step {n} of 6" for n in range(1, 7)]
        assert state_text(panel) == "done"
        assert panel.query_one("#job-progress", ProgressBar).percentage == 1.0
        assert "6 steps done" in str(panel.query_one("#job-result", Label).content)
        assert app.finished == [JobState.DONE]


async def test_panel_cancels_the_job(box: Box) -> None:
    job_id = start_in_another_process(box, {"steps": 200, "delay": 0.1})
    app = PanelApp(box, job_id)
    async with app.run_test(size=(80, 20)) as pilot:
        panel = app.query_one(JobPanel)
        await until(pilot, lambda: panel.last_line >= 1)
        panel.focus()
        await pilot.press("c")
        await until(pilot, lambda: app.finished)
        await pilot.pause()
        assert state_text(panel) == "cancelled"
        assert app.finished == [JobState.CANCELLED]
    assert box.jobs.get(job_id).state is JobState.CANCELLED
    assert box.audit.recent(1)[0].face == "tui"
