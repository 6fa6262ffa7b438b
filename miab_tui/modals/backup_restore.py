"""BackupRestoreForm: restore a backup, whole or one path (one mailbox, a folder of the box's
data), into a new folder; or, behind `InPlaceConfirmDialog`, the whole backup in place of the
live data.

Core checks the request before anything runs (`box.backup.start_restore`): a refusal shows
beside its field in core's words and nothing is restored. The restore itself is a job, which
the screen that opened the form follows.
"""

from __future__ import annotations

from typing import ClassVar, Final

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal
from textual.content import Content
from textual.screen import ModalScreen
from textual.suggester import SuggestFromList
from textual.widget import Widget
from textual.widgets import Button, Footer, Input, Label, Select, Static

from core.backup import BackupEntry, RestoreRequest, mailbox_path
from core.errors import ValidationError
from core.jobs import JobStart
from miab_tui import display
from miab_tui.messages import ChangeRefused
from miab_tui.modals.form import FormModal
from miab_tui.modals.help import HELP_BINDING
from miab_tui.screens.base import TUI_ACTOR
from miab_tui.widgets.dialog_scroll import DialogScroll
from miab_tui.widgets.form_field import FormField

WHAT: Final = (
    ("One mailbox", "mailbox"),
    ("A folder or file of the box's data", "path"),
    ("Everything, into a folder", "all"),
    ("Everything, in place of the live data", "in_place"),
)
NAME_PATH: Final = "Name the folder or file to restore, or choose Everything."


def backup_name(entry: BackupEntry) -> str:
    """`2026-11-21 04:12:08 UTC (full)`: a backup as the dialogs name it."""
    return f"{entry.date_str} ({'full' if entry.full else 'increment'})"


def in_place_steps(storage_root: str, local: bool) -> str:
    """What a full restore in place does, in order (core.backup.restore)."""
    if local:
        stop, start = "This is a local box: no service is stopped.", ""
    else:
        stop = "The mail services (postfix, dovecot, postgrey, php-fpm) are stopped."
        start = "The services are started again. "
    return (
        f"1. The backup is restored beside the live data, under {storage_root}/backup/.\n"
        f"2. {stop}\n"
        f"3. Everything in {storage_root} but backup/ is moved aside into "
        f"{storage_root}/backup/before-restore-TIME/ and the restored files take its place: "
        "mail received and changes made since the backup stay in that folder, not live.\n"
        f"4. {start}Then restart the admin API and close this TUI, so they open the restored "
        "users database."
    )


class InPlaceConfirmDialog(ModalScreen[bool]):
    """The strong confirmation of a full restore in place: it says what happens, and the
    admin types the box's name before the button works (no single key answers yes)."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "cancel", "Cancel", tooltip="Restore nothing"),
        HELP_BINDING,
    ]

    DEFAULT_CSS = """
    InPlaceConfirmDialog #in-place-warning { color: $text-error; text-style: bold; }
    """

    def __init__(self, entry: BackupEntry, *, hostname: str, storage_root: str, local: bool):
        super().__init__(id="backup-in-place-dialog")
        self.entry = entry
        self.hostname = hostname
        self.storage_root = storage_root
        self.local = local

    def compose(self) -> ComposeResult:
        with DialogScroll(classes="dialog"):
            yield Label(
                Content(f"Replace the live data with the backup of {self.entry.date_str}?"),
                classes="dialog-title",
            )
            yield Static(
                Content("This replaces all the box's live data. It is not undone from here."),
                id="in-place-warning",
            )
            yield Static(
                Content(in_place_steps(self.storage_root, self.local)), classes="dialog-body"
            )
            yield FormField(
                "confirm_name",
                f"To go on, type the box's name: {self.hostname}",
                Input(id="confirm-name"),
            )
            with Horizontal(classes="dialog-buttons"):
                yield Button(
                    "Replace the live data", variant="error", id="in-place-yes", disabled=True
                )
                yield Button("Cancel", id="in-place-no")
        yield Footer()

    def on_mount(self) -> None:
        self.query_one("#confirm-name", Input).focus()

    @on(Input.Changed, "#confirm-name")
    def name_typed(self, event: Input.Changed) -> None:
        typed = event.value.strip().lower().rstrip(".")
        self.query_one("#in-place-yes", Button).disabled = typed != self.hostname.lower()

    @on(Input.Submitted, "#confirm-name")
    def name_submitted(self) -> None:
        if not self.query_one("#in-place-yes", Button).disabled:
            self.dismiss(True)

    @on(Button.Pressed, "#in-place-yes")
    def yes_pressed(self) -> None:
        self.dismiss(True)

    @on(Button.Pressed, "#in-place-no")
    def action_cancel(self) -> None:
        self.dismiss(False)


class BackupRestoreForm(FormModal[JobStart | None]):
    """Dismissed with the restore job started (for the screen to follow)."""

    SAVE_LABEL = "Restore"

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("ctrl+s", "save", "Restore", tooltip="Check the request and start the restore"),
        Binding("escape", "cancel", "Cancel", tooltip="Close without restoring anything"),
        HELP_BINDING,
    ]

    DEFAULT_CSS = """
    BackupRestoreForm FormField.-invalid > Select > SelectCurrent { border: tall $error; }
    BackupRestoreForm #restore-note { color: $text-muted; }
    BackupRestoreForm #restore-in-place-note { color: $text-warning; }
    """

    def __init__(
        self,
        entry: BackupEntry,
        *,
        suggested_to: str,
        emails: tuple[str, ...] = (),
        hostname: str = "",
        storage_root: str = "",
        local: bool = False,
    ) -> None:
        super().__init__(id="backup-restore-form")
        self.entry = entry
        self.suggested_to = suggested_to
        self.emails = emails
        self.hostname = hostname
        self.storage_root = storage_root
        self.local = local
        self.what = "mailbox"
        self._confirmed = False
        self.TITLE_TEXT = f"Restore from the backup of {backup_name(entry)}"

    def intro(self) -> str:
        return ""

    def fields(self) -> list[Widget]:
        what: Select[str] = Select(list(WHAT), value=self.what, allow_blank=False, id="what")
        shown = [display.shown_address(e) for e in self.emails]
        return [
            FormField("what", "Restore", what),
            FormField(
                "email",
                "Mailbox (the user's address)",
                Input(
                    placeholder="alice@example.com",
                    suggester=SuggestFromList(shown, case_sensitive=False) if shown else None,
                    id="email",
                ),
                hint="Its folders and messages as they were then; the live mailbox is untouched",
            ),
            FormField(
                "path",
                f"Folder or file, inside {self.storage_root}",
                Input(placeholder="www/example.com", id="path"),
                hint="e.g. mail/sieve, www, dns/custom.yaml",
            ),
            FormField(
                "to",
                "Into the folder (new or empty, outside the box's data; it is made)",
                Input(self.suggested_to, id="to"),
            ),
            Static(
                Content(
                    "The files come back as they were then; move what is needed into place "
                    "yourself. Nothing live is touched."
                ),
                id="restore-note",
            ),
            Static(
                Content(
                    "Replaces the live data with this backup (what it replaces is kept under "
                    "backup/). Restore asks you to confirm, naming what happens."
                ),
                id="restore-in-place-note",
            ),
        ]

    def on_mount(self) -> None:
        self._show_what()
        self.query_one("#email", Input).focus()

    def _show_what(self) -> None:
        what = self.what
        self.query_one("#field-email").display = what == "mailbox"
        self.query_one("#field-path").display = what == "path"
        self.query_one("#field-to").display = what != "in_place"
        self.query_one("#restore-note").display = what != "in_place"
        self.query_one("#restore-in-place-note").display = what == "in_place"
        save = self.query_one("#form-save", Button)
        save.label = "Restore in place…" if what == "in_place" else "Restore"
        save.variant = "error" if what == "in_place" else "primary"

    @on(Select.Changed, "#what")
    def what_changed(self, event: Select.Changed) -> None:
        if not isinstance(event.value, str) or event.value == self.what:
            return
        self.what = event.value
        for field in self.query(FormField):
            field.clear_error()
        self._show_what()

    def request(self) -> RestoreRequest:
        """The request from the fields (raises ValidationError for the form's own checks)."""
        time = self.entry.duplicity_time
        if self.what == "in_place":
            return RestoreRequest(time, "", None, in_place=True, confirmed=self._confirmed)
        to = self.value("to").strip()
        if self.what == "mailbox":
            return RestoreRequest(time, mailbox_path(self.value("email")), to)
        if self.what == "path":
            path = self.value("path").strip()
            if not path:
                raise ValidationError(NAME_PATH, field="path")
            return RestoreRequest(time, path, to)
        return RestoreRequest(time, "", to)

    def action_save(self) -> None:
        if self.what == "in_place" and not self._confirmed:
            self.app.push_screen(
                InPlaceConfirmDialog(
                    self.entry,
                    hostname=self.hostname,
                    storage_root=self.storage_root,
                    local=self.local,
                ),
                self._in_place_answered,
            )
            return
        super().action_save()

    def _in_place_answered(self, yes: bool | None) -> None:
        if yes:
            self._confirmed = True
            super().action_save()

    def on_change_refused(self, message: ChangeRefused) -> None:
        # A second try asks again. (FormModal's handler runs after this one: the message
        # beside its field.)
        self._confirmed = False

    def submit(self) -> JobStart:
        return self.box.backup.start_restore(self.request(), actor=TUI_ACTOR)
