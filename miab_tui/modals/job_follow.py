"""JobFollowDialog: a long job followed live, over the screen that started it.

The job runs in a process of its own (core.jobs): closing this dialog, or the whole TUI,
does not stop it, and a new TUI can follow it again. The dialog dismisses itself with the
finished job; `escape` hides it early and the job goes on.
"""

from __future__ import annotations

from typing import ClassVar

from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Label

from core.audit import Actor
from core.jobs import Job, JobService
from miab_tui.modals.help import HELP_BINDING
from miab_tui.widgets.job_panel import JobPanel


class JobFollowDialog(ModalScreen[Job | None]):
    """Dismissed with the finished job, or None when hidden while it runs."""

    DEFAULT_CSS = """
    JobFollowDialog { align: center middle; }
    JobFollowDialog > #job-dialog { width: 90%; max-width: 100; height: 70%; min-height: 12;
        border: thick $primary; background: $panel; padding: 0 1; }
    JobFollowDialog .dialog-title { text-style: bold; height: 1; }
    """

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "hide", "Hide (the job goes on)"),
        HELP_BINDING,
    ]

    def __init__(self, jobs: JobService, job_id: int, *, actor: Actor, title: str) -> None:
        super().__init__(id="job-follow")
        self.jobs = jobs
        self.job_id = job_id
        self.actor = actor
        self.title_text = title

    def compose(self) -> ComposeResult:
        with Vertical(id="job-dialog"):
            yield Label(self.title_text, classes="dialog-title")
            yield JobPanel(self.jobs, self.job_id, actor=self.actor, id="job-panel")

    def on_mount(self) -> None:
        self.query_one(JobPanel).focus()

    def on_job_panel_finished(self, message: JobPanel.Finished) -> None:
        self.dismiss(message.job)

    def action_hide(self) -> None:
        self.dismiss(None)
