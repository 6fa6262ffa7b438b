"""AliasForm: add or edit an alias (regular, catch-all `@domain`, domain alias `@a` → `@b`)."""

from __future__ import annotations

from textual.widgets import Input

from core.mail.aliases import Alias
from core.results import Change
from miab_tui.modals.form import FormModal
from miab_tui.screens.base import TUI_ACTOR
from miab_tui.widgets.form_field import FormField

_KINDS_HINT = (
    "An address (sales@example.com); a catch-all (@example.com) forwarding to "
    "addresses; or a domain alias (@example.net) forwarding to @example.com."
)


class AliasForm(FormModal[Change | None]):
    """Dismissed with core's Change. Editing replaces the alias (`update_if_exists`)."""

    def __init__(self, alias: Alias | None = None) -> None:
        super().__init__(id="alias-form")
        self.alias = alias
        self.TITLE_TEXT = "Edit alias" if alias is not None else "Add alias"
        self.SAVE_LABEL = "Save alias" if alias is not None else "Add alias"

    @property
    def editing(self) -> bool:
        return self.alias is not None

    def intro(self) -> str:
        if self.alias is not None and self.alias.required:
            return "A required alias: the box keeps it, but you may change where it forwards."
        return ""

    def fields(self) -> list[FormField]:
        alias = self.alias
        address = Input(
            alias.address_display if alias else "",
            placeholder="sales@example.com or @example.com",
            id="address",
            disabled=alias is not None,
        )
        forwards = Input(
            ", ".join(alias.forwards_to) if alias else "",
            placeholder="alice@example.com, bob@example.com",
            id="forwards-to",
        )
        senders = Input(
            ", ".join(alias.senders or ()) if alias else "",
            placeholder="blank: whoever it forwards to",
            id="permitted-senders",
        )
        return [
            FormField("address", "Alias address", address, hint="" if alias else _KINDS_HINT),
            FormField(
                "forwards_to",
                "Forwards to",
                forwards,
                hint="Addresses separated by commas, or one @domain",
            ),
            FormField(
                "permitted_senders",
                "Permitted senders",
                senders,
                hint="Users who may send as this alias, separated by commas",
            ),
        ]

    def on_mount(self) -> None:
        if self.editing:
            self.query_one("#forwards-to", Input).focus()

    def submit(self) -> Change:
        address = self.alias.address if self.alias is not None else self.value("address")
        return self.box.mail.aliases.add_alias(
            address,
            self.value("forwards_to"),
            self.value("permitted_senders"),
            update_if_exists=self.editing,
            actor=TUI_ACTOR,
        )
