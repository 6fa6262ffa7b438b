"""TlsInstallForm: paste a certificate a CA signed for the box's key, and its intermediate
chain; core checks it as the reference does and says what is wrong beside the certificate."""

from __future__ import annotations

from typing import ClassVar

from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.widgets import Button, Footer, Label, Static, TextArea

from core.mail.addresses import prettify_domain
from core.results import Change
from miab_tui.modals.form import FormModal
from miab_tui.modals.tls_dialog import DIALOG_CSS
from miab_tui.screens.base import TUI_ACTOR
from miab_tui.widgets.form_field import FormField


def pem_area(field_id: str) -> TextArea:
    return TextArea(
        "",
        soft_wrap=False,
        show_line_numbers=False,
        tab_behavior="focus",
        highlight_cursor_line=False,
        id=field_id,
    )


class TlsInstallForm(FormModal[Change | None]):
    """Dismissed with core's Change (the post-install lines: the primary link re-pointed,
    services restarted); a refusal stays open with core's text beside the certificate."""

    SAVE_LABEL = "Install"

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("ctrl+s", "save", "Install", tooltip="Check and install the certificate"),
        Binding("escape", "cancel", "Cancel", tooltip="Close without changing anything"),
    ]

    DEFAULT_CSS = (
        DIALOG_CSS
        + """
    #tls-install-box { overflow-y: auto; }
    FormField > TextArea { height: 7; border: tall $border-blurred; }
    FormField > TextArea:focus { border: tall $border; }
    #field-chain > TextArea { height: 5; }
    FormField.-invalid > TextArea { border: tall $error; }
    """
    )

    def __init__(self, domain: str) -> None:
        super().__init__(id="tls-install-form")
        self.domain = domain
        self.TITLE_TEXT = f"Install a certificate for {prettify_domain(domain)}"

    def intro(self) -> str:
        return (
            "Paste the certificate a CA signed for the box's CSR (c), and the intermediate "
            "certificates it came with."
        )

    def fields(self) -> list[FormField]:
        return [
            FormField("cert", "Certificate (PEM)", pem_area("cert")),
            FormField(
                "chain",
                "Intermediate chain (PEM, may be empty)",
                pem_area("chain"),
            ),
        ]

    def compose(self) -> ComposeResult:
        with Vertical(id="tls-install-box", classes="tls-dialog"):
            yield Label(self.TITLE_TEXT, classes="tls-dialog-title")
            yield Static(self.intro(), classes="tls-dialog-note")
            yield from self.fields()
            with Horizontal(classes="tls-dialog-buttons"):
                yield Button(self.SAVE_LABEL, variant="primary", id="form-save")
                yield Button("Cancel", id="form-cancel")
        yield Footer()

    def on_mount(self) -> None:
        blink = getattr(self.app, "cursor_blink", True)
        for area in self.query(TextArea):
            area.cursor_blink = blink
        self.query_one("#cert", TextArea).focus()

    def text(self, field: str) -> str:
        return self.query_one(f"#{field}", TextArea).text

    def submit(self) -> Change:
        return self.box.tls.install(
            self.domain, self.text("cert"), self.text("chain"), actor=TUI_ACTOR
        )
