"""The aliases area: aliases, catch-alls and domain aliases, grouped by domain."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import ClassVar

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.widgets import Static

from core.mail.aliases import Alias, DomainAliases, dangling_required
from miab_tui.display import plural, shown_address
from miab_tui.messages import AliasesLoaded
from miab_tui.modals.alias_form import AliasForm
from miab_tui.modals.confirm import ConfirmDialog
from miab_tui.screens.base import TUI_ACTOR, AreaScreen
from miab_tui.widgets.record_browser import RecordBrowser
from miab_tui.widgets.record_table import Column, Row


@dataclass(frozen=True, slots=True)
class AliasesView:
    """What the screen read: the aliases by address, the required ones that forward to an
    address of this box that does not exist (with those addresses), and the admins."""

    aliases: dict[str, Alias]
    dangling: dict[str, tuple[str, ...]] = field(default_factory=dict)
    admins: tuple[str, ...] = ()
    administrator: str = ""


def dangling_text(view: AliasesView) -> str:
    """The warning over the table ('' when every required alias reaches someone)."""
    if not view.dangling:
        return ""
    targets: dict[str, list[str]] = {}
    for address, missing in view.dangling.items():
        for destination in missing:
            targets.setdefault(destination, []).append(address)
    parts = []
    for destination, addresses in targets.items():
        locals_ = sorted({a.partition("@")[0] + "@" for a in addresses})
        which = ", ".join(locals_[:3]) + ("…" if len(locals_) > 3 else "")
        if len(addresses) == 1:
            subject = f"{shown_address(addresses[0])} forwards"
        else:
            subject = f"{len(addresses)} required aliases ({which}) forward"
        parts.append(
            f"{subject} to {shown_address(destination)}, neither a user nor an alias: "
            "their mail bounces."
        )
    text = "⚠ " + " ".join(parts)
    if view.administrator in targets and view.admins:
        text += (
            f" f makes {shown_address(view.administrator)} forward to "
            f"{shown_address(view.admins[0])}."
        )
    elif view.administrator in targets:
        text += " Add an administrator (Users, a), then f here."
    else:
        text += " e edits an alias to forward elsewhere."
    return text


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
        Column("Alias", max_width=36, min_width=18),
        Column("Kind", max_width=12),
        Column("Required", width=8, badge="warning"),
        Column("Permitted senders", max_width=30),
        Column("Forwards to"),
    )

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("a", "add_alias", "Add", tooltip="Add an alias, catch-all or domain alias"),
        Binding("e", "edit_alias", "Edit", tooltip="Change where the alias forwards"),
        Binding("x,delete", "remove_alias", "Remove", tooltip="Remove the selected alias"),
        Binding(
            "f",
            "fix_administrator",
            "Fix administrator@",
            tooltip="Make the missing administrator@ alias forward to an administrator",
        ),
    ]
    HELP_KEYS: ClassVar[tuple[tuple[str, str], ...]] = (("enter", "Edit the selected alias"),)

    DEFAULT_CSS = """
    #aliases-warning {
        display: none;
        height: auto;
        max-height: 4;
        padding: 0 1;
        background: $warning-muted;
        color: $text-warning;
    }
    #aliases-warning.-shown { display: block; }
    """

    @property
    def view(self) -> AliasesView:
        return self.context if isinstance(self.context, AliasesView) else AliasesView({})

    @property
    def aliases(self) -> dict[str, Alias]:
        return self.view.aliases

    def compose(self) -> ComposeResult:
        for widget in super().compose():
            if isinstance(widget, RecordBrowser):
                yield Static("", id="aliases-warning")
            yield widget

    def read_records(self) -> AliasesLoaded:
        groups = self.box.mail.aliases.list_aliases()
        rows, search, aliases = alias_rows(groups)
        required = sum(1 for alias in aliases.values() if alias.required)
        summary = (
            f"{plural(len(aliases), 'alias', 'aliases')} ({required:,} required), "
            f"{plural(len(groups), 'domain')}"
        )
        users = self.box.mail.users
        admins = tuple(
            user.email
            for group in users.list_users(with_archived=False, with_sizes=False)
            for user in group.users
            if user.is_admin
        )
        primary = self.box.config.primary_hostname
        view = AliasesView(
            aliases,
            dangling_required(aliases.values(), users.emails(), primary),
            admins,
            self.box.mail.housekeeping.administrator,
        )
        return AliasesLoaded(rows, search, summary, view)

    def records_shown(self) -> None:
        warning = self.query_one("#aliases-warning", Static)
        text = dangling_text(self.view)
        warning.update(text)
        warning.set_class(bool(text), "-shown")
        self.refresh_bindings()

    def _administrator_missing(self) -> bool:
        view = self.view
        return any(view.administrator in missing for missing in view.dangling.values())

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "fix_administrator":
            return self._administrator_missing()
        return True

    def action_fix_administrator(self) -> None:
        view = self.view
        if not self._administrator_missing():
            self.notify("Every required alias reaches someone.")
            return
        if not view.admins:
            self.notify(
                "There is no administrator to forward to: add one first (Users, a).",
                severity="warning",
            )
            return
        admin = view.admins[0]
        administrator = view.administrator
        aliases = self.box.mail.aliases

        def answered(yes: bool | None) -> None:
            if yes:
                self.run_change(
                    lambda: aliases.ensure_administrator_alias(admin, actor=TUI_ACTOR),
                    # Core names the alias it adds; nothing when another face was first.
                    f"{shown_address(administrator)} was already there",
                    shown_address(administrator),
                )

        self.app.push_screen(
            ConfirmDialog(
                f"Create {shown_address(administrator)}?",
                f"It forwards to {shown_address(admin)}, an administrator, as the box's setup "
                "does; then postmaster@, abuse@ and the other required aliases reach someone. "
                "Edit it (e) to forward elsewhere.",
                confirm_label="Create",
            ),
            answered,
        )

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
