"""DnsAlgorithmDialog: pick the DNSSEC algorithm that signs every zone."""

from __future__ import annotations

from typing import ClassVar

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal
from textual.screen import ModalScreen
from textual.widgets import Button, Footer, Label, RadioButton, RadioSet, Static

from core.dns.dnssec import SELECTABLE
from miab_tui.modals.help import HELP_BINDING
from miab_tui.widgets.dialog_scroll import DialogScroll


class DnsAlgorithmDialog(ModalScreen[str | None]):
    """Dismissed with the chosen algorithm, or None. Nothing changes here: the screen asks
    for confirmation, since the registrar's DS records must follow."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "cancel", "Cancel", tooltip="Keep the algorithm"),
        HELP_BINDING,
    ]

    def __init__(self, current: tuple[str, ...]) -> None:
        super().__init__(id="dns-algorithm-dialog")
        self.current = current

    def compose(self) -> ComposeResult:
        in_use = ", ".join(self.current) or "none"
        with DialogScroll(classes="dialog"):
            yield Label("DNSSEC algorithm", classes="dialog-title")
            yield Static(
                f"Zones are signed with {in_use}. ECDSAP256SHA256 gives smaller "
                "signatures; RSASHA256 suits registrars that do not take "
                "algorithm 13.",
                classes="dialog-body",
            )
            with RadioSet(id="dns-algorithm"):
                for name in SELECTABLE:
                    yield RadioButton(
                        name + (" (in use)" if name in self.current else ""),
                        value=self.current == (name,),
                        name=name,
                    )
            with Horizontal(classes="dialog-buttons"):
                yield Button("Continue", variant="primary", id="algorithm-continue")
                yield Button("Cancel", id="algorithm-cancel")
        yield Footer()

    def on_mount(self) -> None:
        self.query_one(RadioSet).focus()

    @on(Button.Pressed, "#algorithm-continue")
    def continue_pressed(self) -> None:
        chosen = self.query_one(RadioSet).pressed_button
        if chosen is None or chosen.name is None:
            self.notify("Choose an algorithm.", severity="warning")
            return
        self.dismiss(chosen.name)

    @on(Button.Pressed, "#algorithm-cancel")
    def action_cancel(self) -> None:
        self.dismiss(None)
