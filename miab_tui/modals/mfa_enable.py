"""MfaEnableForm: enrol a user's authenticator app: a QR code drawn in the terminal, the
secret as text for typing in by hand, and the first code to prove the app has it."""

from __future__ import annotations

from textual import events
from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.widgets import Button, Footer, Input, Label, Static

from core.mfa import totp
from core.mfa.qr import QUIET_ZONE, qr_matrix
from miab_tui.display import shown_address
from miab_tui.modals.form import FormModal
from miab_tui.screens.base import TUI_ACTOR
from miab_tui.widgets.form_field import FormField
from miab_tui.widgets.qr_code import QrCode

# The smallest border a phone scanner still finds the code in; used when the terminal has
# no room for the full QUIET_ZONE (an 80x24 terminal has none).
TIGHT_QUIET_ZONE = 2
# Columns beside the QR code (the form's column, the gap, the dialog's border and padding)
# and rows around it (the dialog's border and the footer): must match app.tcss.
_SIDE_COLUMNS = 33 + 1 + 2 + 2
_CHROME_ROWS = 2 + 1


def grouped_secret(secret: str) -> str:
    """The secret in groups of four, four groups a line: easier to copy by eye."""
    groups = [secret[start : start + 4] for start in range(0, len(secret), 4)]
    return "\n".join(" ".join(groups[start : start + 4]) for start in range(0, len(groups), 4))


def quiet_zone_for(uri: str, width: int, height: int) -> int:
    """The full quiet zone if the dialog then still fits a `width` x `height` terminal,
    else the tight one."""
    side = qr_matrix(uri).size + 2 * QUIET_ZONE
    fits = side + _SIDE_COLUMNS <= width and (side + 1) // 2 + _CHROME_ROWS <= height
    return QUIET_ZONE if fits else TIGHT_QUIET_ZONE


class MfaEnableForm(FormModal[str | None]):
    """Enable TOTP for `email` with `secret` (from `MfaService.provision_totp`); dismissed
    with a line saying what was enabled. Nothing is stored until the first code checks out.

    The code encodes `totp.terminal_uri` (issuer = the hostname) rather than the API's longer
    URI: a smaller QR version is what lets the dialog fit an 80x24 terminal.
    """

    TITLE_TEXT = "Enable TOTP"
    SAVE_LABEL = "Enable"

    def __init__(self, email: str, secret: str, hostname: str) -> None:
        super().__init__(id="mfa-enable-form")
        self.email = email
        self.secret = secret
        self.uri = totp.terminal_uri(secret, email, hostname)
        self.quiet_zone = QUIET_ZONE  # chosen for the terminal's size in compose

    def fields(self) -> list[FormField]:
        return [
            FormField(
                "token",
                "First code from the app",
                Input(placeholder="6 digits", max_length=16, id="token"),
            ),
            FormField("label", "Label (optional)", Input(placeholder="e.g. phone", id="label")),
        ]

    def compose(self) -> ComposeResult:
        width, height = self.app.size
        self.quiet_zone = quiet_zone_for(self.uri, width, height)
        with Horizontal(classes="dialog", id="mfa-enable-dialog"):
            yield QrCode(self.uri, quiet_zone=self.quiet_zone, id="mfa-qr")
            with Vertical(id="mfa-enable-side"):
                yield Label(self.TITLE_TEXT, classes="dialog-title")
                yield Static(f"for {shown_address(self.email)}", id="mfa-enable-email")
                yield Static("Scan the code, or type this key:", id="mfa-secret-hint")
                yield Static(grouped_secret(self.secret), id="mfa-secret")
                yield from self.fields()
                with Horizontal(classes="dialog-buttons"):
                    yield Button(self.SAVE_LABEL, variant="primary", id="form-save")
                    yield Button("Cancel", id="form-cancel")
        yield Footer()

    def on_mount(self) -> None:
        self.query_one("#token", Input).focus()

    async def on_resize(self, event: events.Resize) -> None:
        # Grow or shrink the quiet zone with the terminal; what was typed stays.
        wanted = quiet_zone_for(self.uri, event.size.width, event.size.height)
        if wanted != self.quiet_zone:
            self.quiet_zone = wanted
            await self.query_one("#mfa-qr", QrCode).remove()
            await self.query_one("#mfa-enable-dialog").mount(
                QrCode(self.uri, quiet_zone=wanted, id="mfa-qr"), before=0
            )

    def submit(self) -> str:
        label = self.value("label").strip() or None
        method = self.box.mfa.enable_totp(
            self.email, self.secret, self.value("token"), label, actor=TUI_ACTOR
        )
        shown = shown_address(self.email)
        return f"TOTP enabled: {shown} #{method.id}" + (f" {label}" if label else "")
