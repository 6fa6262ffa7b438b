"""The aliases area: aliases, catch-alls and domain aliases, grouped by domain."""

from __future__ import annotations

from typing import ClassVar

from textual import on
from textual.binding import Binding, BindingType

from core.mail.aliases import Alias, DomainAliases
from miab_tui.messages import AliasesLoaded
from miab_tui.modals.alias_form import AliasForm
from miab_tui.modals.confirm import ConfirmDialog
from miab_tui.screens.base import TUI_ACTOR, AreaScreen
from miab_tui.widgets.record_browser import RecordBrowser
from miab_tui.widgets.record_table import Column, Row


def alias_rows(groups: tuple[DomainAliases, ...]) -> tuple[list[Row], list[str], dict[str, Alias]]:
    """Rows in core's order (domain sort; within a domain, user-made before required)."""
    rows: list[Row] = []
    search: list[str] = []
    aliases: dict[str, Alias] = {}
    for group in groups:
        domain = group.domain_display
        for alias in group.aliases:
            forwards = ", ".join(alias.forwards_to)
            senders = ", ".join(alias.senders) if alias.senders is not None else ""
            required = "required" if alias.required else ""
            rows.append(
                Row(
                    alias.address,
                    (domain, alias.address_display, alias.kind, required, senders, forwards),
                )
            )
            search.append(
                f"{alias.address_display} {alias.address} {alias.kind} {required} "
                f"{senders} {forwards} {domain}".lower()
            )
            aliases[alias.address] = alias
    return rows, search, aliases


class AliasesScreen(AreaScreen):
    """Mail aliases: add, edit, remove; required aliases are marked and kept."""

    AREA = "aliases"
    SUB_TITLE = "Aliases"
    FILTER_PLACEHOLDER = "Filter: address, destination, catch-all, required"
    EMPTY_TEXT = "No aliases match."
    COLUMNS = (
        Column("Domain", group=True, max_width=28),
        Column("Alias", max_width=36),
        Column("Kind", width=12),
        Column("Required", width=8, badge="warning"),
        Column("Permitted senders", max_width=30),
        Column("Forwards to"),
    )

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("a", "add_alias", "Add", tooltip="Add an alias, catch-all or domain alias"),
        Binding("e", "edit_alias", "Edit", tooltip="Change where the alias forwards"),
        Binding("x,delete", "remove_alias", "Remove", tooltip="Remove the selected alias"),
    ]

    @property
    def aliases(self) -> dict[str, Alias]:
        return self.context if isinstance(self.context, dict) else {}

    def read_records(self) -> AliasesLoaded:
        groups = self.box.mail.aliases.list_aliases()
        rows, search, aliases = alias_rows(groups)
        required = sum(1 for alias in aliases.values() if alias.required)
        summary = f"{len(aliases):,} aliases ({required:,} required), {len(groups):,} domains"
        return AliasesLoaded(rows, search, summary, aliases)

    def _selected_alias(self) -> Alias | None:
        key = self.selected_key()
        return self.aliases.get(key) if key is not None else None

    def action_add_alias(self) -> None:
        self.app.push_screen(AliasForm(), self.report_result)

    def action_edit_alias(self) -> None:
        alias = self._selected_alias()
        if alias is None:
            return
        if alias.auto:
            self.notify(
                f"{alias.address_display} is kept by the box itself (an automatic "
                "alias): it cannot be edited.",
                severity="warning",
            )
            return
        self.app.push_screen(AliasForm(alias), self.report_result)

    @on(RecordBrowser.Selected)
    def row_selected(self) -> None:
        self.action_edit_alias()

    def action_remove_alias(self) -> None:
        alias = self._selected_alias()
        if alias is None:
            return
        if alias.required:
            # The reference's panel hides Remove for these; the box re-creates them at once.
            self.notify(
                f"{alias.address_display} is a required alias: the box re-creates "
                "it after every change, so it cannot be removed. Edit it to "
                "forward elsewhere.",
                title="Required alias",
                severity="warning",
            )
            return
        address = alias.address

        def answered(remove: bool | None) -> None:
            if remove:
                aliases = self.box.mail.aliases
                self.run_change(
                    lambda: aliases.remove_alias(address, actor=TUI_ACTOR),
                    f"alias removed: {alias.address_display}",
                    alias.address_display,
                )

        self.app.push_screen(
            ConfirmDialog(
                f"Remove {alias.address_display}?",
                f"Mail to {alias.address_display} will no longer be forwarded to "
                f"{', '.join(alias.forwards_to) or 'anyone'}.",
                confirm_label="Remove",
            ),
            answered,
        )
