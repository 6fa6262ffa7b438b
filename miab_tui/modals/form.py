"""FormModal: a dialog of FormFields whose Save calls core in a thread worker.

On success the dialog is dismissed with core's result; on a refusal core's message goes
beside the field it names (or into a notification) and the dialog stays open as typed.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, ClassVar, Generic, TypeVar

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal
from textual.screen import ModalScreen
from textual.widget import Widget
from textual.widgets import Button, Checkbox, Footer, Input, Label, Static

from miab_tui.display import display_text
from miab_tui.messages import ChangeRefused
from miab_tui.modals.help import HELP_BINDING
from miab_tui.widgets.dialog_scroll import DialogScroll
from miab_tui.widgets.form_field import FormField
from miab_tui.workers import core_worker

if TYPE_CHECKING:
    from core.box import Box

ResultT = TypeVar("ResultT")


def form_row(*fields: FormField) -> Horizontal:
    """Fields side by side, sharing the width (app.tcss `.form-row`)."""
    return Horizontal(*fields, classes="form-row")


class FormModal(ModalScreen[ResultT], Generic[ResultT]):
    """Subclasses give `TITLE_TEXT`, `fields()` and `submit()` (run in a worker thread)."""

    # Plain attributes, not ClassVars: a form may word them per instance (add or edit).
    TITLE_TEXT: str = ""
    SAVE_LABEL: str = "Save"

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("ctrl+s", "save", "Save", tooltip="Make the change"),
        Binding("escape", "cancel", "Cancel", tooltip="Close without changing anything"),
        HELP_BINDING,
    ]

    @property
    def box(self) -> Box:
        box: Box = self.app.box  # type: ignore[attr-defined]
        return box

    def intro(self) -> str:
        return ""

    def fields(self) -> Sequence[Widget]:
        """The FormFields, or rows of them (`form_row`), top to bottom."""
        raise NotImplementedError

    def submit(self) -> ResultT:
        """Runs in a worker thread. Raises: MiabError when core refuses."""
        raise NotImplementedError

    def compose(self) -> ComposeResult:
        # The title and the buttons stay in sight (docked, app.tcss); what is between them
        # scrolls when the terminal is too short for it (an 80x24 one).
        with DialogScroll(classes="dialog"):
            yield Label(self.TITLE_TEXT, classes="dialog-title")
            if self.intro():
                yield Static(self.intro(), classes="dialog-body")
            yield from self.fields()
            with Horizontal(classes="dialog-buttons"):
                yield Button(self.SAVE_LABEL, variant="primary", id="form-save")
                yield Button("Cancel", id="form-cancel")
        yield Footer()

    def value(self, field: str) -> str:
        control = self.query_one(f"#field-{field.replace('_', '-')}", FormField).control
        if isinstance(control, Input):
            return control.value
        raise TypeError(field)

    def checked(self, field: str) -> bool:
        control = self.query_one(f"#field-{field.replace('_', '-')}", FormField).control
        if isinstance(control, Checkbox):
            return control.value
        raise TypeError(field)

    @on(Button.Pressed, "#form-save")
    @on(Input.Submitted)
    def save_requested(self) -> None:
        self.action_save()

    @on(Button.Pressed, "#form-cancel")
    def action_cancel(self) -> None:
        self.dismiss(None)

    def action_save(self) -> None:
        for field in self.query(FormField):
            field.clear_error()
        self.query_one("#form-save", Button).disabled = True
        self.save()

    @core_worker(doing="The change", group="form")
    def save(self) -> None:
        # A refusal or failure comes back as ChangeRefused (the worker edge).
        result = self.submit()
        self.app.call_from_thread(self.dismiss, result)

    def on_change_refused(self, message: ChangeRefused) -> None:
        message.stop()
        self.show_refusal(message.message, message.field, message.title)

    def show_refusal(self, message: str, field: str | None, title: str = "Refused") -> None:
        self.query_one("#form-save", Button).disabled = False
        message = display_text(message)
        target = None
        if field is not None:
            matches = self.query(f"#field-{field.replace('_', '-')}")
            target = matches.first(FormField) if matches else None
        if target is not None:
            target.show_error(message)
            if not target.control.disabled:
                target.control.focus()
        else:
            self.notify(message, title=title, severity="error")
