"""BackupOutcomeDialog: what a finished backup, verification or restore job did, read back from
the job's result (`BackupOutcome`, `VerifyOutcome`, `RestoreOutcome` `.from_json`): the
backup's figures, the differences a verification found, where a restore put the files."""

from __future__ import annotations

from typing import Final

from core.backup import BackupOutcome, RestoreOutcome, VerifyOutcome
from core.jobs import Job
from core.jobs.kinds import BACKUP, BACKUP_RESTORE, BACKUP_VERIFY
from core.mail.users import human_size
from miab_tui import display
from miab_tui.display import plural
from miab_tui.modals.note_dialog import NoteDialog
from miab_tui.widgets.note_view import Note, NoteBuilder

LABEL_WIDTH: Final = 13
# duplicity's Backup Statistics worth the admin's eye, in this order (the log has them all).
STATISTICS: Final = (
    "SourceFiles",
    "SourceFileSize",
    "NewFiles",
    "ChangedFiles",
    "DeletedFiles",
    "TotalDestinationSizeChange",
    "ElapsedTime",
    "Errors",
)


def statistic_text(key: str, value: str) -> str:
    """A size in bytes with its human size beside it; seconds rounded."""
    if key.endswith(("Size", "SizeChange")) and value.lstrip("-").isdigit():
        return f"{int(value):,} bytes ({human_size(int(value))})"
    if key == "ElapsedTime":
        try:
            return f"{float(value):.1f} s"
        except ValueError:
            return value
    return value


def _log_line(note: NoteBuilder, log: str) -> None:
    if log:
        note.line()
        note.field("Log", display.shown_path(log), width=LABEL_WIDTH)


def backup_note(outcome: BackupOutcome) -> tuple[str, Note]:
    """The title and the text of a backup run."""
    note = NoteBuilder()
    if not outcome.made:
        title = "Nothing backed up: backups are turned off"
        note.line("c in the Backups area sets a target.", "muted")
    else:
        title = "Full backup made" if outcome.full else "Incremental backup made"
    for line in outcome.lines:
        note.line(display.display_text(line))
    if outcome.statistics:
        stats = dict(outcome.statistics)
        order = [k for k in STATISTICS if k in stats]
        if order:
            width = max(len(k) for k in order) + 2
            note.line()
            note.line("duplicity's statistics", "title")
            for key in order:
                note.field(key, statistic_text(key, stats[key]), width=width)
    _log_line(note, outcome.log)
    return title, note.note()


def verify_note(outcome: VerifyOutcome, shown_time: str = "") -> tuple[str, Note]:
    """The title and the text of a verification: what differs, first."""
    note = NoteBuilder()
    which = shown_time or outcome.time or "the newest"
    if outcome.identical:
        title = "The backup matches the live files"
        note.field("Backup", which, width=LABEL_WIDTH)
        note.field("Compared", plural(outcome.compared, "file"), width=LABEL_WIDTH)
        note.field("Differences", "none", width=LABEL_WIDTH, style="ok")
    else:
        title = (
            f"{plural(outcome.difference_count, 'difference')} between the backup and the "
            "live files"
        )
        note.field("Backup", which, width=LABEL_WIDTH)
        note.field("Compared", plural(outcome.compared, "file"), width=LABEL_WIDTH)
        note.field(
            "Differences", f"{outcome.difference_count:,}", width=LABEL_WIDTH, style="warning"
        )
        note.line()
        note.line("What differs (duplicity's words; mail that came or went since is expected)")
        for difference in outcome.differences:
            note.line("  " + difference)
        more = outcome.difference_count - len(outcome.differences)
        if more > 0:
            note.line(f"  … and {plural(more, 'more difference')}: the log has them all", "muted")
    _log_line(note, outcome.log)
    return title, note.note()


def restore_note(outcome: RestoreOutcome, shown_time: str = "") -> tuple[str, Note]:
    """The title and the text of a restore: what went where."""
    note = NoteBuilder()
    what = outcome.path or "everything"
    which = shown_time or outcome.time
    title = "The backup replaced the live data" if outcome.in_place else f"Restored {what}"
    note.field("Backup", which, width=LABEL_WIDTH)
    note.field("Restored", what, width=LABEL_WIDTH)
    note.field("Into", display.shown_path(outcome.destination), width=LABEL_WIDTH, style="ok")
    if outcome.previous:
        note.field("Replaced", display.shown_path(outcome.previous), width=LABEL_WIDTH)
    note.line()
    for line in outcome.lines:
        note.line(display.display_text(line))
    _log_line(note, outcome.log)
    return title, note.note()


def outcome_of(job: Job, shown_time: str = "") -> tuple[str, Note] | None:
    """The title and text of a finished (done) backup job's outcome; None when its result
    is not one (a job of another kind, or a result that does not read)."""
    try:
        if job.kind == BACKUP:
            return backup_note(BackupOutcome.from_json(job.result))
        if job.kind == BACKUP_VERIFY:
            return verify_note(VerifyOutcome.from_json(job.result), shown_time)
        if job.kind == BACKUP_RESTORE:
            return restore_note(RestoreOutcome.from_json(job.result), shown_time)
    except (ValueError, KeyError, TypeError):
        return None
    return None


class BackupOutcomeDialog(NoteDialog):
    """Shows what a job did; the text can be selected and copied (a path, a difference)."""

    KEY = "backup-outcome"
