"""BackupConfigForm: where the backups go and how long they are kept.

The kind of target is picked from a list (on this machine, a folder, another machine over
rsync and SSH, S3, off) and only its own fields show. For rsync the box's SSH public key is
shown to copy into the other machine's `authorized_keys`. Test (ctrl+t) lists the target as
saving would, without saving, and says what is there; Save lists it too (core refuses to keep
a target it cannot list) and nothing is saved on any refusal, which shows beside its field in
core's words.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import ClassVar, Final

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.content import Content
from textual.message import Message
from textual.widget import Widget
from textual.widgets import Button, Footer, Input, Label, Select, Static

from core.backup import BackupConfig
from core.backup.settings import TargetKind, join_target, parse_min_age, split_target
from core.backup.targets import TargetFile, duplicity_files
from miab_tui import display
from miab_tui.display import plural
from miab_tui.messages import ChangeRefused
from miab_tui.modals.form import FormModal
from miab_tui.modals.help import HELP_BINDING
from miab_tui.screens.base import TUI_ACTOR
from miab_tui.widgets.dialog_scroll import DialogScroll
from miab_tui.widgets.form_field import FormField
from miab_tui.workers import core_worker

KINDS: Final[tuple[tuple[str, TargetKind], ...]] = (
    ("On this machine (local)", "local"),
    ("A folder on this machine (file://)", "file"),
    ("Another machine, over SSH (rsync)", "rsync"),
    ("S3, or an S3-compatible store", "s3"),
    ("Off: make no backups", "off"),
)
KIND_NAMES: Final = {kind: label for label, kind in KINDS}
# The target field's label and placeholder per kind.
TARGET_LABELS: Final[dict[str, tuple[str, str]]] = {
    "file": ("Folder (an absolute path outside STORAGE_ROOT)", "/mnt/backup-disk/box"),
    "rsync": ("User and host (user@host, or user@host:port)", "backup@backup.example.net"),
    "s3": (
        "Where: region@host/bucket/prefix (region and prefix optional)",
        "us-east-1@s3.amazonaws.com/my-bucket/box",
    ),
}
MIN_AGE_HINT: Final = (
    "Days every backup is kept at least; a full backup starts a new chain, and a chain goes "
    "once a newer one is this old."
)
SSH_HINT: Final = (
    "Add this box's key to ~/.ssh/authorized_keys of that user on that host (ctrl+y copies it):"
)


def listing_text(target: str, files: Sequence[TargetFile]) -> str:
    """What a successful test listing found."""
    ours = len(duplicity_files(files))
    if not files:
        return f"✓ Listed {target}: nothing there yet, ready for a first full backup."
    if not ours:
        return f"✓ Listed {target}: {plural(len(files), 'file')}, none of them a backup."
    return (
        f"✓ Listed {target}: {plural(len(files), 'file')}, {ours:,} of them backup files "
        "(this box's, if they were made with its encryption key)."
    )


class BackupConfigForm(FormModal[str | None]):
    """Dismissed with what to tell the admin once saved; stays open on a refusal."""

    TITLE_TEXT = "Backup settings"

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("ctrl+s", "save", "Save", tooltip="Test-list the target, then save the settings"),
        Binding("ctrl+t", "test", "Test", tooltip="List the target without saving anything"),
        Binding("ctrl+y", "copy_key", "Copy key", tooltip="Copy this box's SSH public key"),
        Binding("escape", "cancel", "Cancel", tooltip="Close without changing anything"),
        HELP_BINDING,
    ]

    DEFAULT_CSS = """
    BackupConfigForm FormField.-invalid > Select > SelectCurrent { border: tall $error; }
    BackupConfigForm #backup-kind-note { color: $text-muted; margin-bottom: 1; }
    BackupConfigForm #backup-ssh { height: auto; margin-top: 1; }
    BackupConfigForm #backup-ssh-hint { color: $text-secondary; }
    BackupConfigForm #backup-ssh-key { color: $text; background: $boost; padding: 0 1; }
    BackupConfigForm #backup-test-result { margin-top: 1; }
    BackupConfigForm #backup-test-result.-good { color: $text-success; }
    BackupConfigForm #backup-test-result.-busy { color: $text-muted; }
    """

    class KeyRead(Message):
        def __init__(self, key: str) -> None:
            super().__init__()
            self.key = key

    class Listed(Message):
        def __init__(self, text: str) -> None:
            super().__init__()
            self.text = text

    def __init__(self, config: BackupConfig) -> None:
        super().__init__(id="backup-config-form")
        self.config = config
        self.kind, self._main, self._path = split_target(config.target)
        self.ssh_key = config.ssh_pub_key or ""
        self._making_key = False

    # --- the fields ---------------------------------------------------------------------

    def fields(self) -> list[Widget]:
        kind: Select[str] = Select(
            [(label, value) for label, value in KINDS],
            value=self.kind,
            allow_blank=False,
            id="kind",
        )
        label, placeholder = TARGET_LABELS.get(self.kind, TARGET_LABELS["file"])
        saved_secret = self.config.target_pass and split_target(self.config.target)[0] == "s3"
        return [
            FormField("kind", "Back up to", kind),
            Static("", id="backup-kind-note"),
            FormField("target", label, Input(self._main, placeholder=placeholder, id="target")),
            FormField(
                "rsync_path",
                "Path on that host",
                Input(self._path, placeholder="backups/box", id="rsync-path"),
                hint="In the user's home folder, or from the root when it starts with /",
            ),
            Horizontal(
                FormField(
                    "target_user",
                    "Access key ID",
                    Input(self.config.target_user, id="target-user"),
                ),
                FormField(
                    "target_pass",
                    "Secret access key",
                    Input(password=True, id="target-pass"),
                    hint="Empty: keep the saved one" if saved_secret else "",
                ),
                id="backup-s3-keys",
                classes="form-row",
            ),
            Vertical(
                Static(SSH_HINT, id="backup-ssh-hint"),
                Static("", id="backup-ssh-key"),
                id="backup-ssh",
            ),
            FormField(
                "min_age",
                "Keep backups at least (days)",
                Input(str(self.config.min_age_in_days), id="min-age"),
                hint=MIN_AGE_HINT,
            ),
            Static("", id="backup-test-result"),
        ]

    def compose(self) -> ComposeResult:
        with DialogScroll(classes="dialog"):
            yield Label(self.TITLE_TEXT, classes="dialog-title")
            yield from self.fields()
            with Horizontal(classes="dialog-buttons"):
                yield Button("Save", variant="primary", id="form-save")
                yield Button("Test", id="backup-test")
                yield Button("Cancel", id="form-cancel")
        yield Footer()

    def on_mount(self) -> None:
        self._show_kind()
        self.query_one("#kind", Select).focus()

    def _kind_note(self) -> str:
        if self.kind == "local":
            folder = display.shown_path(self.config.file_target_directory)
            return (
                f"Encrypted backups go to {folder} on this machine: copy that folder off the "
                "box yourself (or choose another target), or a lost disk loses them too."
            )
        if self.kind == "off":
            return "No backups are made. Backups made before stay where they are."
        if self.kind == "file":
            return "The folder must exist: a disk mounted there, say."
        if self.kind == "s3":
            return (
                "The host is the S3 endpoint (s3.amazonaws.com, or your provider's); the bucket "
                "must exist."
            )
        return "Encrypted backups are copied there with rsync over SSH, logging in with this box's key."

    def _show_kind(self) -> None:
        kind = self.kind
        note = self.query_one("#backup-kind-note", Static)
        note.update(Content(self._kind_note()))
        target = self.query_one("#field-target", FormField)
        target.display = kind in TARGET_LABELS
        if kind in TARGET_LABELS:
            label, placeholder = TARGET_LABELS[kind]
            target.query_one(".form-field--label", Label).update(Content(label))
            target.query_one("#target", Input).placeholder = placeholder
        self.query_one("#field-rsync-path").display = kind == "rsync"
        self.query_one("#backup-s3-keys").display = kind == "s3"
        ssh = self.query_one("#backup-ssh")
        ssh.display = kind == "rsync"
        if kind == "rsync":
            self._show_key()

    def _show_key(self) -> None:
        shown = self.query_one("#backup-ssh-key", Static)
        if self.ssh_key:
            shown.update(Content(self.ssh_key.strip()))
        elif not self._making_key:
            self._making_key = True
            shown.update(Content("Making the key…"))
            self.make_key()

    @core_worker(doing="Making the SSH key", group="ssh-key")
    def make_key(self) -> None:
        self.post_message(self.KeyRead(self.box.backup.ensure_ssh_key(actor=TUI_ACTOR)))

    def on_backup_config_form_key_read(self, message: BackupConfigForm.KeyRead) -> None:
        self._making_key = False
        self.ssh_key = message.key
        self._show_key()

    @on(Select.Changed, "#kind")
    def kind_changed(self, event: Select.Changed) -> None:
        if not isinstance(event.value, str) or event.value == self.kind:
            return
        self.kind = event.value  # type: ignore[assignment]
        for field in self.query(FormField):
            field.clear_error()
        self._set_result("")
        self._show_kind()
        self.refresh_bindings()

    # --- values -------------------------------------------------------------------------

    def target(self) -> str:
        if self.kind in ("off", "local"):
            return self.kind
        return join_target(self.kind, self.value("target"), self.value("rsync_path"))

    def credentials(self) -> tuple[str, str]:
        if self.kind != "s3":
            return "", ""  # as the reference's form: only S3 has them
        secret = self.value("target_pass")
        if not secret and split_target(self.config.target)[0] == "s3":
            secret = self.config.target_pass
        return self.value("target_user").strip(), secret

    # --- test and save ------------------------------------------------------------------

    def _set_result(self, text: str, state: str = "") -> None:
        result = self.query_one("#backup-test-result", Static)
        result.update(Content(text))
        result.set_class(state == "good", "-good")
        result.set_class(state == "busy", "-busy")

    @on(Button.Pressed, "#backup-test")
    def action_test(self) -> None:
        for field in self.query(FormField):
            field.clear_error()
        if self.kind == "off":
            self._set_result("Nothing to test: no backups are made.")
            return
        if self.kind == "local":
            self._set_result("Nothing to test: the first backup makes the local folder.")
            return
        self.query_one("#backup-test", Button).disabled = True
        self._set_result(f"Listing {self.target()}…", "busy")
        self.test_listing(self.target(), *self.credentials())

    @core_worker(doing="The test listing", group="test")
    def test_listing(self, target: str, user: str, secret: str) -> None:
        files = self.box.backup.test_target(target, user, secret)
        self.post_message(self.Listed(listing_text(target, files)))

    def on_backup_config_form_listed(self, message: BackupConfigForm.Listed) -> None:
        self.query_one("#backup-test", Button).disabled = False
        self._set_result(message.text, "good")

    def on_change_refused(self, message: ChangeRefused) -> None:
        # (FormModal's handler runs after this one: the message beside its field.)
        self.query_one("#backup-test", Button).disabled = False
        self._set_result("")

    def submit(self) -> str:
        target = self.target()
        user, secret = self.credentials()
        min_age = self.value("min_age")
        days = parse_min_age(min_age)  # refused before any listing, in core's words
        listed = ""
        if self.kind not in ("off", "local"):
            listed = listing_text(target, self.box.backup.test_target(target, user, secret))
        self.box.backup.set_config(target, user, secret, min_age, actor=TUI_ACTOR)
        if self.kind == "off":
            return "Backups are turned off."
        where = target
        if self.kind == "local":
            where = display.shown_path(self.config.file_target_directory) + " on this machine"
        saved = f"Backups go to {where}, each kept at least {plural(days, 'day')}."
        return "\n".join([saved, listed.removeprefix("✓ ")]).strip()

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        # The key is copied only where it is shown (an rsync target).
        if action == "copy_key":
            return self.kind == "rsync"
        return True

    def action_copy_key(self) -> None:
        if self.kind != "rsync" or not self.ssh_key:
            self.notify("The SSH key is shown for rsync targets.", severity="warning")
            return
        self.app.copy_to_clipboard(self.ssh_key.strip() + "\n")
        self.notify("This box's SSH public key is on the clipboard.", title="Copied")
