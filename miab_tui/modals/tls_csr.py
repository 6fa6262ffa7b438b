"""TlsCsrDialog: make a certificate signing request for a domain with the box's key, with the
country picked from ISO 3166; the PEM is shown selected, to copy into a CA's form."""

from __future__ import annotations

from typing import ClassVar

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.widgets import Button, Footer, Label, Select, Static
from textual.widgets.text_area import Selection

from core.mail.addresses import prettify_domain
from core.tls.countries import COUNTRY_CODES
from miab_tui.modals.form import FormModal
from miab_tui.modals.tls_dialog import DIALOG_CSS
from miab_tui.widgets.form_field import FormField
from miab_tui.widgets.text_view import TextView
from miab_tui.workers import core_worker

PEM_HINT = "Choose the country, then Generate (ctrl+s)."
DONE_HINT = (
    "Selected: ctrl+c (or Copy) copies it. Give it to the CA, then install the certificate "
    "it sends back with i."
)


def country_options() -> list[tuple[str, str]]:
    """`GB  United Kingdom`, in code order; typing a code or a name finds it."""
    return [(f"{code}  {name}", code) for code, name in sorted(COUNTRY_CODES.items())]


class TlsCsrDialog(FormModal[None]):
    """Generate (in a worker) as often as wanted; nothing on the box changes."""

    TITLE_TEXT = "Certificate signing request"
    SAVE_LABEL = "Generate"

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("ctrl+s", "save", "Generate", tooltip="Make the CSR for the chosen country"),
        Binding("escape", "cancel", "Close", tooltip="Close the dialog"),
    ]

    DEFAULT_CSS = (
        DIALOG_CSS
        + """
    #tls-csr-box { height: 90%; }
    #tls-csr-choose { height: auto; }
    #field-countrycode { width: 1fr; }
    #form-save { margin: 1 0 0 2; }
    FormField.-invalid > Select > SelectCurrent { border: tall $error; }
    #tls-csr-pem { height: 1fr; min-height: 3; border: round $primary 50%; }
    #tls-csr-pem:focus { border: round $accent; }
    """
    )

    def __init__(self, domain: str) -> None:
        super().__init__(id="tls-csr-dialog")
        self.domain = domain
        self.pem = ""

    def fields(self) -> list[FormField]:
        country: Select[str] = Select(
            country_options(), prompt="Choose a country (type a code or a name)", id="countrycode"
        )
        return [FormField("countrycode", "Country (ISO 3166)", country)]

    def compose(self) -> ComposeResult:
        with Vertical(id="tls-csr-box", classes="tls-dialog"):
            yield Label(
                f"{self.TITLE_TEXT} for {prettify_domain(self.domain)}",
                classes="tls-dialog-title",
            )
            yield Static(
                "For a CA to sign; made with the box's private key. Nothing on the box changes.",
                classes="tls-dialog-note",
            )
            with Horizontal(id="tls-csr-choose"):
                yield from self.fields()
                yield Button(self.SAVE_LABEL, variant="primary", id="form-save")
            yield TextView(id="tls-csr-pem")
            yield Static(PEM_HINT, id="tls-csr-hint", classes="tls-dialog-note")
            with Horizontal(classes="tls-dialog-buttons"):
                yield Button("Copy", id="tls-csr-copy", disabled=True)
                yield Button("Close", id="form-cancel")
        yield Footer()

    def on_mount(self) -> None:
        self.query_one("#countrycode", Select).focus()

    def country(self) -> str:
        value = self.query_one("#countrycode", Select).value
        return value if isinstance(value, str) else ""

    @on(Select.Changed, "#countrycode")
    def country_changed(self) -> None:
        self.query_one("#field-countrycode", FormField).clear_error()

    @core_worker(doing="Making the CSR", group="form")
    def save(self) -> None:
        # A refusal comes back as ChangeRefused (the worker edge), shown beside the field.
        pem = self.box.tls.csr(self.domain, self.country())
        self.app.call_from_thread(self.show_csr, pem)

    def show_csr(self, pem: str) -> None:
        self.pem = pem
        self.query_one("#form-save", Button).disabled = False
        self.query_one("#tls-csr-copy", Button).disabled = False
        self.query_one("#tls-csr-hint", Static).update(DONE_HINT)
        view = self.query_one("#tls-csr-pem", TextView)
        view.show_text(pem)
        view.focus()
        # All of it selected (ctrl+c copies it), the cursor at the top so it shows the start.
        view.selection = Selection(view.document.end, (0, 0))

    @on(Button.Pressed, "#tls-csr-copy")
    def copy_pressed(self) -> None:
        self.action_copy()

    def action_copy(self) -> None:
        if not self.pem:
            self.notify("Generate the CSR first.", severity="warning")
            return
        self.app.copy_to_clipboard(self.pem)
        self.notify("The CSR is on the clipboard.", title="Copied")
