"""JobPanel: follow a long job live (core.jobs): its state, a progress bar and its lines.

The job runs in its own process, started by this TUI or by any other face, so the panel only
reads the state database: every 0.3 s a thread worker fetches the job and the lines after the
last one shown, and the panel appends them. It stops polling once the job has finished.
`c` asks the job to stop (it records itself cancelled).
"""

from __future__ import annotations

from typing import ClassVar

from textual import work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal
from textual.message import Message
from textual.reactive import reactive
from textual.timer import Timer
from textual.widget import Widget
from textual.widgets import Label, Log, ProgressBar

from core.audit import Actor
from core.jobs import Job, JobLine, JobService, JobState

POLL_SECONDS = 0.3

STATE_TEXT = {
    JobState.QUEUED: "queued",
    JobState.RUNNING: "running",
    JobState.DONE: "done",
    JobState.FAILED: "failed",
    JobState.CANCELLED: "cancelled",
}


class JobPanel(Widget, can_focus=True):
    """A job's state line, progress bar and log of progress lines, followed live."""

    DEFAULT_CSS = """
    JobPanel { height: 1fr; layout: vertical; border: round $primary; padding: 0 1; }
    JobPanel:focus-within, JobPanel:focus { border: round $accent; }
    JobPanel > .job-panel--header { height: 1; }
    JobPanel #job-title { width: 1fr; text-style: bold; }
    JobPanel #job-state { width: auto; }
    JobPanel #job-state.-done { color: $text-success; }
    JobPanel #job-state.-failed, JobPanel #job-state.-cancelled { color: $text-error; }
    JobPanel ProgressBar { height: 1; margin: 0 0 1 0; }
    JobPanel #job-log { height: 1fr; border: none; background: $surface; }
    JobPanel #job-result { height: auto; max-height: 5; color: $text-muted; }
    """

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("c", "cancel_job", "Cancel job"),
    ]

    state: reactive[JobState | None] = reactive(None)

    class Finished(Message):
        """The followed job has ended (done, failed or cancelled)."""

        def __init__(self, panel: JobPanel, job: Job) -> None:
            super().__init__()
            self.panel = panel
            self.job = job

    def __init__(
        self,
        jobs: JobService,
        job_id: int,
        *,
        actor: Actor,
        id: str | None = None,  # noqa: A002 - Textual's name
        classes: str | None = None,
    ) -> None:
        super().__init__(id=id, classes=classes)
        self.jobs = jobs
        self.job_id = job_id
        self.actor = actor
        self.job: Job | None = None
        self.last_line = 0  # the number of the last progress line shown
        self._timer: Timer | None = None

    def compose(self) -> ComposeResult:
        with Horizontal(classes="job-panel--header"):
            yield Label(f"Job #{self.job_id}", id="job-title")
            yield Label("…", id="job-state")
        yield ProgressBar(total=1.0, show_eta=False, id="job-progress")
        yield Log(id="job-log", highlight=False)
        yield Label("", id="job-result")

    def on_mount(self) -> None:
        self.poll()
        self._timer = self.set_interval(POLL_SECONDS, self.poll)

    # --- following ----------------------------------------------------------------------------

    def poll(self) -> None:
        if self.state is None or not self.state.finished:
            self._fetch()

    @work(thread=True, exclusive=True, group="job-panel", exit_on_error=False)
    def _fetch(self) -> None:
        job = self.jobs.get(self.job_id)
        lines = self.jobs.lines(self.job_id, self.last_line)
        self.app.call_from_thread(self._show, job, lines)

    def _show(self, job: Job, lines: tuple[JobLine, ...]) -> None:
        fresh = [line for line in lines if line.number > self.last_line]
        if fresh:
            self.query_one("#job-log", Log).write_lines([line.text for line in fresh])
            self.last_line = fresh[-1].number
        self.job = job
        self.query_one("#job-title", Label).update(f"Job #{job.id}: {job.kind}")
        bar = self.query_one("#job-progress", ProgressBar)
        if job.progress is not None:
            bar.update(total=1.0, progress=job.progress)
        elif job.state is JobState.RUNNING:
            bar.update(total=None)  # running, no fraction said yet: the indeterminate bar
        if job.finished and job.result:
            self.query_one("#job-result", Label).update(job.result.strip())
        self.state = job.state
        if job.finished and self._timer is not None:
            # The lines were read after the job: every line it wrote is shown by now.
            self._timer.stop()
            self._timer = None
            self.post_message(self.Finished(self, job))

    def watch_state(self, state: JobState | None) -> None:
        label = self.query_one("#job-state", Label)
        label.set_classes(f"-{state.value}" if state is not None else "")
        label.update(STATE_TEXT[state] if state is not None else "…")

    # --- cancelling ---------------------------------------------------------------------------

    def action_cancel_job(self) -> None:
        if self.state is not None and self.state.finished:
            self.notify("The job has ended already.", severity="warning")
            return
        self._cancel()

    @work(thread=True, exclusive=True, group="job-panel-cancel", exit_on_error=False)
    def _cancel(self) -> None:
        self.jobs.cancel(self.job_id, actor=self.actor)
        self.app.call_from_thread(self.poll)
