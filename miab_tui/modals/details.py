"""DetailsDialog: one record in full, field by field (what a table cuts short), read-only."""

from __future__ import annotations

from collections.abc import Sequence
from typing import ClassVar, Final

from rich.cells import cell_len
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, VerticalScroll
from textual.content import Content
from textual.screen import ModalScreen
from textual.widgets import Button, Footer, Label, Static

from miab_tui.modals.help import HELP_BINDING

LABEL_GAP: Final = 2


def details_content(fields: Sequence[tuple[str, str]]) -> Content:
    """`Label   value` lines; a value's later lines are indented under its first."""
    width = max((cell_len(label) for label, _ in fields), default=0) + LABEL_GAP
    parts: list[Content] = []
    for label, value in fields:
        lines = value.splitlines() or [""]
        parts.append(Content.styled(label.ljust(width), "bold $text-secondary"))
        parts.append(Content(lines[0] + "\n"))
        parts.extend(Content(" " * width + line + "\n") for line in lines[1:])
    return Content("").join(parts).rstrip()


class DetailsDialog(ModalScreen[None]):
    """Scrolls when the record does not fit; Escape or Enter closes it, and its text can be
    selected with the mouse and copied."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape,enter", "close", "Close", tooltip="Close the dialog"),
        HELP_BINDING,
    ]

    def __init__(
        self,
        title: str,
        fields: Sequence[tuple[str, str]],
        *,
        id: str | None = None,  # noqa: A002
    ) -> None:
        super().__init__(id=id or "details-dialog")
        self.title_text = title
        self.fields = tuple(fields)

    def compose(self) -> ComposeResult:
        with VerticalScroll(classes="dialog", id="details-box"):
            yield Label(self.title_text, classes="dialog-title")
            yield Static(details_content(self.fields), id="details")
            with Horizontal(classes="dialog-buttons"):
                yield Button("Close", variant="primary", id="details-close")
        yield Footer()

    def on_mount(self) -> None:
        self.query_one("#details-box").focus()

    @on(Button.Pressed, "#details-close")
    def action_close(self) -> None:
        self.dismiss(None)
