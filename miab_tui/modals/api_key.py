"""ApiKeyDialog: the box's master API key, to copy, and rotating it (after a confirmation),
as `miab api-key [--rotate]` does."""

from __future__ import annotations

from typing import TYPE_CHECKING, ClassVar

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal
from textual.content import Content
from textual.screen import ModalScreen
from textual.widgets import Button, Footer, Label, Static

from miab_tui import display
from miab_tui.messages import ChangeMade, ChangeRefused
from miab_tui.modals.confirm import ConfirmDialog
from miab_tui.modals.help import HELP_BINDING
from miab_tui.screens.base import TUI_ACTOR
from miab_tui.widgets.dialog_scroll import DialogScroll
from miab_tui.workers import core_worker

if TYPE_CHECKING:
    from core.box import Box

ROTATE_BODY = (
    "A new key replaces it at once. Every client that uses the master key stops working "
    "until it is given the new one, and so does every user's API key and every login "
    "session (they are made with the master key): users log in again."
)


class ApiKeyDialog(ModalScreen[None]):
    """Shows the key; c copies it, r rotates it."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("c", "copy", "Copy", tooltip="Copy the key to the clipboard"),
        Binding("r", "rotate", "Rotate", tooltip="Replace the key with a new one"),
        Binding("escape", "close", "Close", tooltip="Close the dialog"),
        HELP_BINDING,
    ]

    def __init__(self) -> None:
        super().__init__(id="api-key-dialog")

    @property
    def box(self) -> Box:
        box: Box = self.app.box  # type: ignore[attr-defined]
        return box

    def compose(self) -> ComposeResult:
        path = self.box.config.api_key_path
        with DialogScroll(classes="dialog", id="api-key-box"):
            yield Label("Master API key", classes="dialog-title")
            yield Static(
                "API clients may use it as the user name of Basic auth (curl -u KEY: …); "
                f"it acts as an administrator. It is kept in {display.shown_path(path)}.",
                classes="dialog-body",
            )
            yield Static("", id="api-key")
            with Horizontal(classes="dialog-buttons"):
                yield Button("Copy", variant="primary", id="api-key-copy")
                yield Button("Rotate…", variant="error", id="api-key-rotate")
                yield Button("Close", id="api-key-close")
        yield Footer()

    def on_mount(self) -> None:
        self.show_key(self.box.auth.master_key())
        self.query_one("#api-key-close", Button).focus()

    @property
    def key(self) -> str:
        return str(self.query_one("#api-key", Static).content)

    def show_key(self, key: str) -> None:
        shown = self.query_one("#api-key", Static)
        if key:
            shown.update(Content.styled(key, "bold $text-accent"))
        else:
            shown.update(Content.styled("There is no master key yet: r makes one.", "italic"))

    @on(Button.Pressed, "#api-key-copy")
    def action_copy(self) -> None:
        key = self.box.auth.master_key()
        if not key:
            self.notify("There is no master key to copy.", severity="warning")
            return
        self.app.copy_to_clipboard(key)
        self.notify("Master API key copied.", title="API key")

    @on(Button.Pressed, "#api-key-rotate")
    def action_rotate(self) -> None:
        def answered(yes: bool | None) -> None:
            if yes:
                self.rotate()

        self.app.push_screen(
            ConfirmDialog("Rotate the master API key?", ROTATE_BODY, confirm_label="Rotate"),
            answered,
        )

    @core_worker(doing="Rotating the master API key", group="api-key")
    def rotate(self) -> None:
        key = self.box.auth.rotate_master_key(actor=TUI_ACTOR)
        self.app.call_from_thread(self.show_key, key)
        self.post_message(ChangeMade("master API key rotated", "API key"))

    def on_change_made(self, message: ChangeMade) -> None:
        message.stop()
        self.notify(message.summary, title=message.title)

    def on_change_refused(self, message: ChangeRefused) -> None:
        message.stop()
        self.notify(message.message, title=message.title, severity="error")

    @on(Button.Pressed, "#api-key-close")
    def action_close(self) -> None:
        self.dismiss(None)
