"""DnsSecondaryForm: the secondary nameservers that copy the box's zones."""

from __future__ import annotations

from textual.widgets import Input

from core.results import Change
from miab_tui.modals.form import FormModal
from miab_tui.screens.base import TUI_ACTOR
from miab_tui.widgets.form_field import FormField


class DnsSecondaryForm(FormModal[Change | None]):
    """Dismissed with core's Change; the names are resolved before anything is saved, which
    can take a few seconds per name (the Save button stays disabled meanwhile)."""

    TITLE_TEXT = "Secondary nameservers"
    SAVE_LABEL = "Save and update"

    def __init__(self, entries: tuple[str, ...] = ()) -> None:
        super().__init__(id="dns-secondary-form")
        self.entries = entries

    def intro(self) -> str:
        return (
            "A host name is published as a nameserver (NS) of every zone in place of "
            "the box's ns2 and may transfer the zones. xfr:IP or xfr:CIDR only allows "
            "transfers. Leave empty to use the box alone."
        )

    def fields(self) -> list[FormField]:
        hostnames = Input(
            " ".join(self.entries), placeholder="ns2.example.net xfr:203.0.113.0/24", id="hostnames"
        )
        return [
            FormField(
                "hostnames",
                "Secondary nameservers",
                hostnames,
                hint="Separated by spaces or commas",
            )
        ]

    def submit(self) -> Change:
        return self.box.dns.set_secondary_nameservers(self.value("hostnames"), actor=TUI_ACTOR)
