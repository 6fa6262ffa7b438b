"""NoteDialog: a modal report (a job's or a run's outcome) whose text can be selected and
copied, with a Close button. Its ids start with the subclass's `KEY` (`KEY-box`, `KEY`, the
NoteView, and `KEY-close`)."""

from __future__ import annotations

from typing import ClassVar

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.content import Content
from textual.screen import ModalScreen
from textual.widgets import Button, Footer, Label

from miab_tui.modals.help import HELP_BINDING
from miab_tui.modals.tls_dialog import DIALOG_CSS
from miab_tui.widgets.note_view import Note, NoteView


class NoteDialog(ModalScreen[None]):
    """Shows a title and a note; escape or Close dismisses it."""

    KEY: ClassVar[str] = "note"

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "close", "Close", tooltip="Close the report"),
        HELP_BINDING,
    ]

    DEFAULT_CSS = (
        DIALOG_CSS
        + """
    NoteDialog .note-dialog-box { width: 100; height: 80%; }
    NoteDialog .note-dialog-view { height: 1fr; border: round $primary 50%; }
    NoteDialog .note-dialog-view:focus { border: round $accent; }
    """
    )

    def __init__(self, title: str, note: Note) -> None:
        super().__init__(id=f"{self.KEY}-dialog")
        self.title_text = title
        self.note = note

    @property
    def view(self) -> NoteView:
        return self.query_one(f"#{self.KEY}", NoteView)

    @property
    def text(self) -> str:
        return self.view.text

    def compose(self) -> ComposeResult:
        with Vertical(id=f"{self.KEY}-box", classes="tls-dialog note-dialog-box"):
            yield Label(Content(self.title_text), classes="tls-dialog-title")
            yield NoteView(id=self.KEY, classes="note-dialog-view")
            with Horizontal(classes="tls-dialog-buttons"):
                yield Button("Close", variant="primary", id=f"{self.KEY}-close")
        yield Footer()

    def on_mount(self) -> None:
        self.view.show_note(self.note)
        self.view.focus()

    @on(Button.Pressed, ".tls-dialog-buttons Button")
    def action_close(self) -> None:
        self.dismiss(None)
