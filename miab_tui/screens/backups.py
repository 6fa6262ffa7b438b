"""The Backups area: the chain of backups (newest first: when each was made, full or
increment, its size, when it will be deleted), the settings (where they go, how long they are
kept, `c` changes them), and the long work as jobs followed live: back up now (`b`, or a full
backup with `B`), verify a backup against the live files (`v`) and restore one (`r`), whole,
one mailbox or one folder, into a new folder, or in place behind a strong confirmation.
Each job's outcome shows when it ends; `l` shows the logs the jobs keep.

Reading the status lists the target (over the network for rsync and S3) and may ask duplicity,
so it runs in a worker. The backup jobs write their progress to the state database, which the
box watcher sees as changes: while one runs the area reads the box at most every
`RELOAD_SECONDS`.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, ClassVar, Final

from textual.binding import Binding, BindingType
from textual.content import Content
from textual.message import Message

from core.backup import BackupConfig, BackupEntry, BackupStatus
from core.backup.service import BUSY
from core.backup.settings import split_target
from core.jobs import Job, JobStart, JobState
from core.jobs.kinds import BACKUP, BACKUP_RESTORE, BACKUP_VERIFY
from core.mail.users import human_size
from miab_tui import display
from miab_tui.display import plural
from miab_tui.messages import RecordsLoaded
from miab_tui.modals.backup_config import BackupConfigForm
from miab_tui.modals.backup_log import BackupLogDialog
from miab_tui.modals.backup_outcome import BackupOutcomeDialog, outcome_of
from miab_tui.modals.backup_restore import BackupRestoreForm
from miab_tui.modals.confirm import ConfirmDialog
from miab_tui.modals.job_follow import JobFollowDialog
from miab_tui.screens.base import TUI_ACTOR, AreaScreen, DetailsAreaScreen
from miab_tui.widgets.level_table import LEVEL_BADGE, LevelBrowser, LevelRow
from miab_tui.widgets.note_view import Note, NoteBuilder
from miab_tui.widgets.record_table import Column
from miab_tui.workers import core_worker

if TYPE_CHECKING:
    from textual.timer import Timer

RELOAD_SECONDS: Final = 2.0
NEXT_DAILY: Final = "on next daily backup"  # core's deleted_in for a chain about to go
JOB_KINDS: Final = (BACKUP, BACKUP_VERIFY, BACKUP_RESTORE)
JOB_NAMES: Final = {BACKUP: "backup", BACKUP_VERIFY: "verification", BACKUP_RESTORE: "restore"}
LABEL_WIDTH: Final = 10
SIZE_WIDTH: Final = 6  # `412.6M`
_SECONDS: Final = re.compile(r"\b(\d\d:\d\d):\d\d\b")


@dataclass(frozen=True, slots=True)
class BackupsView:
    """What the screen read: the settings, the status, a backup job running now (of any of
    the three kinds), the kept logs, and what the forms need."""

    config: BackupConfig
    status: BackupStatus
    running: Job | None = None
    logs: tuple[Path, ...] = ()
    emails: tuple[str, ...] = ()
    local: bool = True
    storage_root: Path = field(default_factory=Path)
    hostname: str = ""

    @property
    def entries(self) -> dict[str, BackupEntry]:
        return {entry.duplicity_time: entry for entry in self.status.backups}


class BackupsLoaded(RecordsLoaded):
    """The Backups screen's rows; `context` is the `BackupsView` they came from."""


@dataclass
class JobStarted(Message):
    """A backup job was started (or found running): follow it."""

    started: JobStart
    title: str
    shown_time: str = ""


def kind_word(entry: BackupEntry) -> str:
    return "full" if entry.full else "increment"


def made_text(entry: BackupEntry) -> str:
    """The table's date: core's `date_str` to the minute (`2026-11-24 03:00 UTC`); the
    details keep the seconds."""
    return _SECONDS.sub(r"\1", entry.date_str, count=1)


def backup_rows(status: BackupStatus) -> tuple[list[LevelRow], list[str]]:
    """One row per backup, newest first; the ones the next daily backup deletes in yellow."""
    rows: list[LevelRow] = []
    search: list[str] = []
    for entry in status.backups:
        deleted = entry.deleted_in or "unknown"
        rows.append(
            LevelRow(
                entry.duplicity_time,
                (
                    made_text(entry),
                    kind_word(entry),
                    human_size(entry.size).rjust(SIZE_WIDTH),
                    entry.date_delta,
                    deleted,
                ),
                level="warning" if entry.deleted_in == NEXT_DAILY else "",
            )
        )
        search.append(f"{entry.date_str} {entry.date} {kind_word(entry)} {deleted}".lower())
    return rows, search


def summary_text(view: BackupsView) -> str:
    status = view.status
    if not status.enabled:
        return "Backups are off"
    if status.error == BUSY:
        return "A backup job is running"
    if status.error is not None:
        return "The backups cannot be listed"
    if not status.backups:
        return "No backups yet"
    full = sum(1 for entry in status.backups if entry.full)
    return (
        f"{plural(len(status.backups), 'backup')} ({full:,} full), "
        f"{human_size(status.total_size)} in all"
    )


def target_text(config: BackupConfig) -> str:
    """Where the backups go, in words."""
    kind, main, _path = split_target(config.target)
    if kind == "off":
        return "nowhere: backups are off"
    if kind == "local":
        return f"{display.shown_path(config.file_target_directory)} on this machine"
    if kind == "file":
        return f"the folder {main}"
    if kind == "rsync":
        return f"{config.target} (rsync over SSH)"
    return f"{config.target} (S3)"


def chain_text(status: BackupStatus, entry: BackupEntry) -> str:
    """Where a backup sits in its chain: the full backup it builds on, or the increments
    that build on it (status.backups is newest first)."""
    backups = list(status.backups)
    index = backups.index(entry)
    if entry.full:
        newer = 0
        for later in reversed(backups[:index]):
            if later.full:
                break
            newer += 1
        if not newer:
            return "starts a chain; no increment builds on it yet"
        verb = "builds" if newer == 1 else "build"
        return f"starts a chain; {plural(newer, 'increment')} {verb} on it"
    for before, earlier in enumerate(backups[index + 1 :]):
        if earlier.full:
            after = f" and {plural(before, 'increment')} after it" if before else ""
            return f"builds on the full backup of {earlier.date_str}{after}"
    return "an increment whose full backup is no longer there"


def in_newest_chain(status: BackupStatus, entry: BackupEntry) -> bool:
    """Whether the backup is the newest full one or an increment after it."""
    for backup in status.backups:
        if backup == entry:
            return True
        if backup.full:
            return False
    return False


def hint_text(view: BackupsView | None) -> str:
    if view is None:
        return ""
    if view.running is not None:
        name = JOB_NAMES.get(view.running.kind, view.running.kind)
        return f"A {name} is running (job #{view.running.id}): f follows it"
    if not view.status.enabled:
        return "c chooses where backups go"
    return "b backs up now"


def details_note(view: BackupsView, entry: BackupEntry | None) -> Note:
    """The details pane: the selected backup first, then the settings and the totals."""
    note = NoteBuilder()
    status = view.status
    if not status.enabled:
        note.line("Backups are turned off.", "warning")
        note.line("c chooses where they go: this machine, a folder, rsync over SSH or S3.", "muted")
    elif status.error == BUSY:
        note.line(BUSY, "warning")
    elif status.error is not None:
        note.line("The backups cannot be listed:", "error")
        note.line(display.display_text(status.error), "error")
        note.line("ctrl+r reads them again; c shows the settings and tests the target.", "muted")
    elif entry is None:
        if status.backups:
            note.line("No backup selected.", "muted")
        else:
            note.line("No backups have been made yet.", "title")
            note.line("b makes the first one now (a full backup).", "muted")
    else:
        volumes = plural(entry.volumes, "volume")
        note.line(
            f"{entry.date_str}: {kind_word(entry)}, {human_size(entry.size)} in {volumes}",
            "title",
        )
        note.field("Made", f"{entry.date_delta} ago ({entry.date})")
        note.field("Chain", chain_text(status, entry))
        if entry.deleted_in == NEXT_DAILY:
            note.field("Deleted", "by the next daily backup", style="warning")
        elif entry.deleted_in:
            note.field("Deleted", f"in {entry.deleted_in}")
        elif in_newest_chain(status, entry):
            note.field("Deleted", "not yet known: it is in the newest chain")
        else:
            note.field("Deleted", "not yet known")
        note.line(
            " " * LABEL_WIDTH
            + "v verifies it against the live files; r restores it, whole or a part",
            "muted",
        )
    note.line()
    config = view.config
    note.field("Target", target_text(config))
    if status.enabled:
        days = plural(config.min_age_in_days, "day")
        note.field("Keep", f"each backup at least {days} (c changes the settings)")
    if status.enabled and status.error is None and (status.backups or status.unmatched_file_size):
        total = f"{human_size(status.total_size)} on the target"
        if status.unmatched_file_size:
            total += f" ({human_size(status.unmatched_file_size)} of it in no listed backup)"
        note.field("Total", total)
    if view.logs:
        note.field("Log", f"{display.shown_path(view.logs[0])} (l shows the kept logs)")
    return note.note()


def read_view(screen: AreaScreen) -> BackupsView:
    """Runs in a worker: the settings, the status (a listing of the target), a running job."""
    box = screen.box
    backup = box.backup
    config = backup.get_config()
    status = backup.status()
    running = None
    for kind in JOB_KINDS:
        running = box.jobs.running(kind)
        if running is not None:
            break
    return BackupsView(
        config=config,
        status=status,
        running=running,
        logs=backup.logs(),
        emails=box.mail.users.emails(),
        local=box.config.is_local,
        storage_root=box.config.storage_root,
        hostname=box.hostname,
    )


def suggested_folder(view: BackupsView, entry: BackupEntry) -> str:
    """Where a restore goes unless the admin says otherwise: a new folder beside
    STORAGE_ROOT, named after the backup."""
    return str(view.storage_root.parent / f"restore-{entry.duplicity_time}")


class BackupsScreen(DetailsAreaScreen):
    """The backups made; below them, the selected backup and the settings."""

    AREA = "backups"
    SUB_TITLE = "Backups"
    FILTER_PLACEHOLDER = "Filter: date, full, increment"
    EMPTY_TEXT = "No backups match."
    LOADING_TEXT = "Reading the backups…"
    BROWSER = LevelBrowser
    DETAILS_TITLE = "Backups"
    HINT_ID = "backups-hint"
    # In a narrow terminal the age gives way first; the date and the kind never do.
    COLUMNS = (
        Column("Made", max_width=30, min_width=20),
        Column("Kind", max_width=9, min_width=9),
        Column("Size", max_width=8, min_width=SIZE_WIDTH),
        Column("Age", max_width=22, min_width=6),
        Column("Deleted", badge=LEVEL_BADGE),
    )

    DEFAULT_CSS = """
    BackupsScreen.-running #backups-hint { color: $text-warning; text-style: bold; }
    #backups-screen .record-browser--summary { width: 40; }
    """

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding(
            "b",
            "back_up(False)",
            "Back up",
            tooltip="Back up now (full or incremental by the rules); asks first",
        ),
        Binding(
            "B",
            "back_up(True)",
            "Full backup",
            show=False,
            tooltip="Make a full backup now, starting a new chain; asks first",
        ),
        Binding(
            "v",
            "verify",
            "Verify",
            tooltip="Compare the selected backup with the live files: what differs",
        ),
        Binding(
            "r",
            "restore",
            "Restore",
            tooltip="Restore the selected backup, whole or a mailbox or folder, into a new folder",
        ),
        Binding(
            "c",
            "configure",
            "Settings",
            tooltip="Where backups go and how long they are kept; test the target",
        ),
        Binding("l", "logs", "Logs", tooltip="The logs of the backups, verifications, restores"),
        Binding(
            "f",
            "follow",
            "Follow",
            show=False,
            tooltip="Follow the backup, verification or restore running now",
        ),
    ]

    def __init__(self) -> None:
        super().__init__()
        self._reload_timer: Timer | None = None

    @property
    def view(self) -> BackupsView | None:
        return self.context if isinstance(self.context, BackupsView) else None

    # --- loading ----------------------------------------------------------------------

    def read_records(self) -> BackupsLoaded:
        view = read_view(self)
        rows, search = backup_rows(view.status)
        return BackupsLoaded(rows, search, summary_text(view), view)

    def box_changed(self) -> None:
        # A running job's progress lines change the state database many times a second;
        # reading the target that often would be a listing per line.
        if self._reload_timer is None:
            self._reload_timer = self.set_timer(RELOAD_SECONDS, self._reload_now)

    def _reload_now(self) -> None:
        self._reload_timer = None
        self.load()

    def records_shown(self) -> None:
        view = self.view
        if view is not None:
            status = view.status
            if self.browser.filter_text and status.backups:
                empty = self.EMPTY_TEXT
            elif not status.enabled:
                empty = "Backups are turned off: c chooses where they go."
            elif status.error == BUSY:
                empty = "The backups show once the job running now ends."
            elif status.error is not None:
                empty = "The backups cannot be listed (below: why)."
            else:
                empty = "No backups yet: b makes the first one."
            self.table.empty_text = empty
            self.table.refresh()
            self.show_hint(Content(hint_text(view)))
            self.set_class(view.running is not None, "-running")
        super().records_shown()

    def change_refused(self) -> None:
        # Once read, the table's text says why it is empty (records_shown).
        if not self._loaded_once:
            self.table.empty_text = "The backups could not be read."
            self.table.refresh()

    def details_of(self, key: str | None) -> tuple[Content, Note] | None:
        view = self.view
        if view is None:
            return None
        entry = view.entries.get(key or "")
        title = Content(f"Backup of {entry.date_str}" if entry is not None else "Backups")
        return title, details_note(view, entry)

    # --- the jobs ---------------------------------------------------------------------

    def _ready(self) -> BackupsView | None:
        """The view, once read and with backups on (else says why not)."""
        view = self.view
        if view is None:
            self.notify("The backups are still being read.", severity="warning")
            return None
        if not view.status.enabled:
            self.notify("Backups are turned off: c chooses where they go.", severity="warning")
            return None
        return view

    def _selected_entry(self) -> BackupEntry | None:
        view = self._ready()
        if view is None:
            return None
        if view.status.error is not None:
            self.notify(view.status.error, title="Backups", severity="error", markup=False)
            return None
        if not view.status.backups:
            self.notify("No backups have been made yet: b makes one.", severity="warning")
            return None
        key = self.selected_key()
        return view.entries.get(key) if key is not None else None

    def action_back_up(self, full: bool = False) -> None:
        view = self._ready()
        if view is None:
            return
        if view.running is not None and view.running.kind == BACKUP:
            self._follow(view.running)
            return
        target = target_text(view.config).replace("[", r"\[")
        root = display.shown_path(view.storage_root)
        if view.local:
            services = "This is a local box: no service is stopped."
        else:
            services = (
                "The mail services (postfix, dovecot, postgrey) are stopped while duplicity "
                "reads the mail and started again after; incoming mail waits in the senders' "
                "queues meanwhile."
            )
        if full:
            title = "Make a full backup now?"
            what = (
                f"A full backup of {root} to {target}: everything again, starting a new chain "
                "(the old one goes once it is older than the settings keep backups)."
            )
        else:
            title = "Back up now?"
            what = (
                f"A backup of {root} to {target}: incremental, or full when there is none yet "
                "or the chain is due for a new one."
            )

        def answered(yes: bool | None) -> None:
            if yes:
                kind = "full backup" if full else "backup"
                self.start_job(
                    lambda: self.box.backup.start_backup(actor=TUI_ACTOR, full=full),
                    f"Making a {kind}",
                )

        self.app.push_screen(
            ConfirmDialog(
                title,
                f"{what}\n\n{services} It runs as a job: it goes on if you close the dialog "
                "or the TUI.",
                confirm_label="Back up",
            ),
            answered,
        )

    def action_verify(self) -> None:
        entry = self._selected_entry()
        if entry is None:
            return
        time = entry.duplicity_time
        self.start_job(
            lambda: self.box.backup.start_verify(actor=TUI_ACTOR, time=time),
            f"Verifying the backup of {entry.date_str}",
            entry.date_str,
        )

    def action_restore(self) -> None:
        entry = self._selected_entry()
        view = self.view
        if entry is None or view is None:
            return

        def started(start: JobStart | None) -> None:
            if start is not None:
                self.post_message(
                    JobStarted(
                        start, f"Restoring from the backup of {entry.date_str}", entry.date_str
                    )
                )

        self.app.push_screen(
            BackupRestoreForm(
                entry,
                suggested_to=suggested_folder(view, entry),
                emails=view.emails,
                hostname=view.hostname,
                storage_root=display.shown_path(view.storage_root),
                local=view.local,
            ),
            started,
        )

    @core_worker(doing="Starting the job", group="job")
    def start_job(self, start: Callable[[], JobStart], title: str, shown_time: str = "") -> None:
        """Start a job (core checks the request first; a refusal is the worker edge's)."""
        self.post_message(JobStarted(start(), title, shown_time))

    def on_job_started(self, message: JobStarted) -> None:
        job = message.started.job
        if message.started.already_running:
            name = JOB_NAMES.get(job.kind, job.kind)
            self.notify(f"A {name} is running already (job #{job.id}): following it.")
            self._follow(job, message.shown_time)
        else:
            self._follow(job, message.shown_time, message.title)

    def _follow(self, job: Job, shown_time: str = "", title: str = "") -> None:
        name = JOB_NAMES.get(job.kind, job.kind)
        self.app.push_screen(
            JobFollowDialog(
                self.box.jobs,
                job.id,
                actor=TUI_ACTOR,
                title=title or f"The {name} running now (job #{job.id})",
            ),
            partial(self.job_ended, shown_time=shown_time),
        )

    def action_follow(self) -> None:
        for kind in JOB_KINDS:
            job = self.box.jobs.running(kind)
            if job is not None:
                self._follow(job)
                return
        self.notify("No backup, verification or restore is running.")

    def job_ended(self, job: Job | None, shown_time: str = "") -> None:
        """The followed job ended (or its dialog was hidden: None)."""
        self.load()
        if job is None:
            self.notify("The job goes on in the background: f follows it again.")
            return
        name = JOB_NAMES.get(job.kind, job.kind)
        if job.state is not JobState.DONE:
            self.notify(
                display.display_text(job.result or f"The job {job.state.value}."),
                title=f"The {name} {job.state.value}",
                severity="error",
                timeout=30,
                markup=False,
            )
            return
        outcome = outcome_of(job, shown_time)
        if outcome is None:
            self.notify(job.result or "Done.", title=f"The {name}", markup=False)
            return
        self.app.push_screen(BackupOutcomeDialog(*outcome))

    # --- settings and logs --------------------------------------------------------------

    def action_configure(self) -> None:
        def saved(text: str | None) -> None:
            if text:
                self.notify(text, title="Backup settings saved", markup=False)
                self.load()

        self.app.push_screen(BackupConfigForm(self.box.backup.get_config()), saved)

    def action_logs(self) -> None:
        logs = self.box.backup.logs()
        if not logs:
            self.notify("No backup, verification or restore has kept a log yet.")
            return
        self.app.push_screen(BackupLogDialog(logs))
