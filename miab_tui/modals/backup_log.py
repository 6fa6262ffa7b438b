"""BackupLogDialog: the logs the backup jobs keep (duplicity's own output and ours, the newest
30 of each kind, `box.backup.logs()`), newest first; `[` and `]` page through them."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import ClassVar, Final

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.content import Content
from textual.screen import ModalScreen
from textual.widgets import Button, Footer, Label

from miab_tui import display
from miab_tui.modals.help import HELP_BINDING
from miab_tui.modals.tls_dialog import DIALOG_CSS
from miab_tui.widgets.text_view import TextView

MAX_BYTES: Final = 512 * 1024  # a longer log shows its end (the outcome is there)


def read_log(path: Path) -> str:
    """The log's text (its last `MAX_BYTES` when longer), or why it cannot be read."""
    try:
        with path.open("rb") as f:
            size = f.seek(0, 2)
            f.seek(max(0, size - MAX_BYTES))
            data = f.read()
    except OSError as exc:
        return f"{display.shown_path(path)} cannot be read: {exc.strerror or exc}."
    text = data.decode("utf-8", errors="replace")
    if size > MAX_BYTES:
        text = f"… (the first {size - MAX_BYTES:,} bytes are not shown)\n" + text.partition("\n")[2]
    return text


class BackupLogDialog(ModalScreen[None]):
    """One kept log at a time, selectable and copyable; opens at its end."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "close", "Close", tooltip="Close the log"),
        Binding("left_square_bracket", "older", "Older", tooltip="The log before this one"),
        Binding("right_square_bracket", "newer", "Newer", tooltip="The log after this one"),
        HELP_BINDING,
    ]

    DEFAULT_CSS = (
        DIALOG_CSS
        + """
    #backup-log-box { width: 100%; height: 100%; }
    #backup-log { height: 1fr; border: round $primary 50%; }
    #backup-log:focus { border: round $accent; }
    """
    )

    def __init__(self, logs: Sequence[Path], index: int = 0) -> None:
        super().__init__(id="backup-log-dialog")
        self.logs = tuple(logs)
        self.index = index

    def compose(self) -> ComposeResult:
        with Vertical(id="backup-log-box", classes="tls-dialog"):
            yield Label("", id="backup-log-title", classes="tls-dialog-title")
            yield TextView(id="backup-log")
            with Horizontal(classes="tls-dialog-buttons"):
                yield Button("Older", id="backup-log-older")
                yield Button("Newer", id="backup-log-newer")
                yield Button("Close", variant="primary", id="backup-log-close")
        yield Footer()

    def on_mount(self) -> None:
        self._show()
        self.query_one("#backup-log", TextView).focus()

    def _show(self) -> None:
        path = self.logs[self.index]
        title = f"Log {self.index + 1} of {len(self.logs)}: {path.name}"
        self.query_one("#backup-log-title", Label).update(Content(title))
        view = self.query_one("#backup-log", TextView)
        view.show_text(read_log(path))
        view.move_cursor(view.document.end)
        view.scroll_end(animate=False)
        self.query_one("#backup-log-older", Button).disabled = self.index + 1 >= len(self.logs)
        self.query_one("#backup-log-newer", Button).disabled = self.index == 0

    @on(Button.Pressed, "#backup-log-older")
    def action_older(self) -> None:
        if self.index + 1 < len(self.logs):
            self.index += 1
            self._show()

    @on(Button.Pressed, "#backup-log-newer")
    def action_newer(self) -> None:
        if self.index > 0:
            self.index -= 1
            self._show()

    @on(Button.Pressed, "#backup-log-close")
    def action_close(self) -> None:
        self.dismiss(None)
