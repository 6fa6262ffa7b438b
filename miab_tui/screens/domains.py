"""The domains area: each mail domain with its counts of users and aliases."""

from __future__ import annotations

from typing import ClassVar

from textual import on
from textual.binding import Binding, BindingType

from core.mail.addresses import prettify_domain
from miab_tui.display import plural
from miab_tui.messages import DomainsLoaded
from miab_tui.screens.base import AreaScreen
from miab_tui.widgets.record_browser import RecordBrowser
from miab_tui.widgets.record_table import Column, Row


class DomainsScreen(AreaScreen):
    """Mail domains: those of any user or alias, in the reference's order."""

    AREA = "domains"
    SUB_TITLE = "Domains"
    FILTER_PLACEHOLDER = "Filter domains"
    EMPTY_TEXT = "No mail domains yet: add a user or an alias."
    COLUMNS = (
        Column("Domain", max_width=40),
        Column("Users", width=7),
        Column("Aliases", width=7),
        Column("IDNA form"),
    )

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("u", "show_users", "Users", tooltip="Show this domain's users"),
        Binding("l", "show_aliases", "Aliases", tooltip="Show this domain's aliases"),
    ]
    HELP_KEYS: ClassVar[tuple[tuple[str, str], ...]] = (
        ("enter", "Show the selected domain's users"),
    )

    def read_records(self) -> DomainsLoaded:
        rows: list[Row] = []
        search: list[str] = []
        summaries = self.box.mail.housekeeping.domain_summaries()
        for summary in summaries:
            display = prettify_domain(summary.domain)
            idna = summary.domain if display != summary.domain else ""
            rows.append(
                Row(
                    summary.domain,
                    (display, f"{summary.users:>5,}", f"{summary.aliases:>5,}", idna),
                )
            )
            search.append(f"{display} {summary.domain}".lower())
        return DomainsLoaded(rows, search, plural(len(summaries), "domain"))

    @on(RecordBrowser.Selected)
    def row_selected(self) -> None:
        self.action_show_users()

    def _open_filtered(self, mode: str) -> None:
        key = self.selected_key()
        if key is None:
            return
        prefix = "@" + prettify_domain(key) if mode == "users" else prettify_domain(key)

        def filter_there(_: object = None) -> None:
            self.app.screen.query_one(RecordBrowser).filter_text = prefix

        self.app.switch_mode(mode)
        self.app.call_after_refresh(filter_there)

    def action_show_users(self) -> None:
        self._open_filtered("users")

    def action_show_aliases(self) -> None:
        self._open_filtered("aliases")
