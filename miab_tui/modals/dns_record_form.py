"""DnsRecordForm: add a custom DNS record, or replace every value of one name and type."""

from __future__ import annotations

from typing import Final

from textual import on
from textual.widgets import Input, Select, Static

from core.dns.custom import RECORD_TYPES
from core.dns.records import CustomRecord
from core.results import Change
from miab_tui.modals.form import FormModal
from miab_tui.screens.base import TUI_ACTOR
from miab_tui.widgets.form_field import FormField

# What the value of each type looks like; core's refusal repeats the form when it differs.
VALUE_HINTS: Final = {
    "A": "An IPv4 address, or local for the box's own address",
    "AAAA": "An IPv6 address, or local for the box's own address",
    "CAA": 'FLAGS TAG "VALUE", e.g. 0 issue "letsencrypt.org"',
    "CNAME": "A host name, e.g. other.example.net.",
    "MX": "PRIORITY HOST., e.g. 10 mx.example.com.",
    "NS": "A name server's host name (for a subdomain, not the zone itself)",
    "SRV": "PRIORITY WEIGHT PORT TARGET., e.g. 0 0 443 box.example.com.",
    "SSHFP": "ALGORITHM TYPE FINGERPRINT, e.g. 4 2 0F3A…9C",
    "TXT": "Any text, e.g. google-site-verification=…",
}


class DnsRecordForm(FormModal[Change | None]):
    """Dismissed with core's Change. Given a record, it replaces (PUT) every value of that
    name and type with the one typed; otherwise it adds (POST) one more value."""

    def __init__(self, zone: str | None = None, record: CustomRecord | None = None) -> None:
        super().__init__(id="dns-record-form")
        self.zone = zone
        self.record = record
        self.TITLE_TEXT = "Replace custom DNS record" if record else "Add custom DNS record"
        self.SAVE_LABEL = "Replace" if record else "Add record"

    def intro(self) -> str:
        if self.record is not None:
            return (
                f"Every {self.record.rtype} value of {self.record.qname} is replaced by "
                "the one below; the DNS update runs at once."
            )
        return (
            "The record is published with the box's own; a custom record of the same "
            "name and type replaces the box's default. The DNS update runs at once."
        )

    def fields(self) -> list[FormField]:
        record = self.record
        qname = Input(
            record.qname if record else "",
            placeholder=f"www.{self.zone}" if self.zone else "www.example.com",
            id="qname",
            disabled=record is not None,
        )
        rtype: Select[str] = Select(
            [(t, t) for t in RECORD_TYPES],
            allow_blank=False,
            value=record.rtype if record else "A",
            id="rtype",
            disabled=record is not None,
        )
        value = Input(record.value if record else "", placeholder="value", id="value")
        zone_hint = (
            f"The full name, e.g. {self.zone} or www.{self.zone}"
            if self.zone
            else "The full name, e.g. www.example.com"
        )
        return [
            FormField("qname", "Name", qname, hint="" if record else zone_hint),
            FormField("rtype", "Type", rtype),
            FormField("value", "Value", value, hint=VALUE_HINTS[record.rtype if record else "A"]),
        ]

    def on_mount(self) -> None:
        if self.record is not None:
            self.query_one("#value", Input).focus()

    @on(Select.Changed, "#rtype")
    def type_changed(self, event: Select.Changed) -> None:
        hint = self.query_one("#field-value .form-field--hint", Static)
        hint.update(VALUE_HINTS.get(str(event.value), ""))

    def rtype(self) -> str:
        value = self.query_one("#rtype", Select).value
        return value if isinstance(value, str) else "A"

    def submit(self) -> Change:
        dns = self.box.dns
        if self.record is not None:
            return dns.set_custom_record(
                self.record.qname, self.record.rtype, self.value("value"), actor=TUI_ACTOR
            )
        return dns.add_custom_record(
            self.value("qname"), self.rtype(), self.value("value"), actor=TUI_ACTOR
        )
