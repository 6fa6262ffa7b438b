"""The MFA area: every user's second factors, enrolling an authenticator app for a user and
disabling methods (the way back in for someone who lost their phone).

The TUI runs as root without a login, so it always works on a chosen user rather than on
"me" as the web panel does.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.widgets import Footer, Label

from core.mail.users import DomainUsers
from core.mfa import MfaMethod
from miab_tui.display import plural, shown_address
from miab_tui.messages import RecordsLoaded
from miab_tui.modals.confirm import ConfirmDialog
from miab_tui.modals.mfa_enable import MfaEnableForm
from miab_tui.screens.base import TUI_ACTOR, AreaScreen
from miab_tui.widgets.record_browser import RecordBrowser
from miab_tui.widgets.record_table import Column, RecordTable, Row
from miab_tui.workers import core_worker


@dataclass(frozen=True, slots=True)
class UserMfa:
    """A user with their enabled methods, as the screen keeps them between loads."""

    email: str
    is_admin: bool
    methods: tuple[MfaMethod, ...]


class MfaLoaded(RecordsLoaded):
    """The MFA screen's rows; `context` maps each address to its `UserMfa`."""


def method_text(method: MfaMethod) -> str:
    """`#3 totp phone`: how notifications and dialogs name a method."""
    return f"#{method.id} {method.type}" + (f" {method.label}" if method.label else "")


def mfa_rows(
    groups: tuple[DomainUsers, ...], methods: dict[str, tuple[MfaMethod, ...]]
) -> tuple[list[Row], list[str], dict[str, UserMfa]]:
    """Admins first (their accounts matter most), then the others, each in core's order."""
    users = [
        UserMfa(user.email, user.is_admin, methods.get(user.email, ()))
        for group in groups
        for user in group.users
        if user.status == "active"
    ]
    users.sort(key=lambda user: not user.is_admin)  # stable: keeps core's order within
    rows: list[Row] = []
    search: list[str] = []
    for user in users:
        admin = "admin" if user.is_admin else ""
        count = str(len(user.methods)) if user.methods else ""
        labels = ", ".join(m.label or f"#{m.id}" for m in user.methods)
        shown = shown_address(user.email)  # IDN domains in Unicode
        rows.append(Row(user.email, (shown, admin, count, labels)))
        search.append(
            f"{user.email} {shown} {admin} {'mfa' if user.methods else 'none'} {labels}".lower()
        )
    return rows, search, {user.email: user for user in users}


class MfaScreen(AreaScreen):
    """Users and their second factors; below the list, the selected user's methods."""

    AREA = "mfa"
    SUB_TITLE = "MFA"
    FILTER_PLACEHOLDER = "Filter: address, admin, mfa, none, label"
    EMPTY_TEXT = "No mail users match."
    COLUMNS = (
        Column("Email", max_width=48),
        Column("Admin", width=5, badge="badge"),
        Column("Methods", width=7, badge="badge"),
        Column("Labels", max_width=40),
    )
    METHOD_COLUMNS = (
        Column("ID", width=6),
        Column("Type", width=6),
        Column("Label", max_width=48),
    )

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding(
            "e",
            "enable_totp",
            "Enable TOTP",
            tooltip="Enrol an authenticator app for the selected user",
        ),
        Binding(
            "x,delete",
            "disable_method",
            "Disable",
            tooltip="Disable the selected method of the selected user",
        ),
        Binding(
            "X", "disable_all", "Disable all", tooltip="Disable every method of the selected user"
        ),
    ]

    HELP_KEYS: ClassVar[tuple[tuple[str, str], ...]] = (
        ("enter", "Into the selected user's methods (x there disables the one selected)"),
        ("escape", "Back from the methods to the users"),
    )

    @property
    def methods_table(self) -> RecordTable:
        return self.query_one("#mfa-methods-table", RecordTable)

    @property
    def users(self) -> dict[str, UserMfa]:
        return self.context if isinstance(self.context, dict) else {}

    def compose(self) -> ComposeResult:
        for widget in super().compose():
            if isinstance(widget, Footer):
                yield from self._methods_panel()
            yield widget

    def _methods_panel(self) -> ComposeResult:
        with Vertical(id="mfa-methods-panel"):
            yield Label("", id="mfa-methods-title")
            yield RecordTable(
                self.METHOD_COLUMNS, empty_text="No method enabled.", id="mfa-methods-table"
            )

    def __init__(self) -> None:
        super().__init__()
        self._methods_of: str | None = None  # whose methods the lower table shows

    def on_mount(self) -> None:
        # Textual runs AreaScreen.on_mount too (handlers run for each class in the MRO).
        self.watch(self.table, "cursor_row", self._user_moved, init=False)

    # --- loading ----------------------------------------------------------------------

    def read_records(self) -> MfaLoaded:
        groups = self.box.mail.users.list_users(with_archived=False, with_sizes=False)
        rows, search, users = mfa_rows(groups, self.box.mfa.methods_by_user())
        enrolled = sum(1 for user in users.values() if user.methods)
        return MfaLoaded(
            rows, search, f"{plural(len(users), 'user')}, {enrolled:,} with MFA", users
        )

    def records_shown(self) -> None:
        self._user_moved()

    def _user_moved(self, _row: int | None = None) -> None:
        """Show the methods of the user under the cursor."""
        user = self.users.get(self.table.cursor_key or "")
        title = self.query_one("#mfa-methods-title", Label)
        if user is None:
            title.update("No user selected.")
            rows: list[Row] = []
        else:
            rows = [Row(str(m.id), (f"#{m.id}", m.type, m.label or "")) for m in user.methods]
            shown = shown_address(user.email)
            title.update(
                f"Methods of {shown}" if rows else f"{shown} has no MFA method: e enables TOTP."
            )
        # The method cursor stays put across reloads of the same user, else starts on top.
        same_user = user is not None and user.email == self._methods_of
        self._methods_of = user.email if user is not None else None
        methods = self.methods_table
        methods.fit_columns(rows)
        if not same_user:
            methods.cursor_row = 0
        methods.replace_rows(rows, keep_key=methods.cursor_key if same_user else None)

    @on(RecordBrowser.Selected)
    def user_chosen(self) -> None:
        # Enter on a user moves to their methods, where x disables the one under the cursor.
        if self.methods_table.row_count:
            self.methods_table.focus()

    def key_escape(self) -> None:
        if self.focused is self.methods_table:
            self.table.focus()
        else:
            super().key_escape()

    # --- changes ----------------------------------------------------------------------

    def _selected_user(self) -> UserMfa | None:
        key = self.selected_key()
        return None if key is None else self.users.get(key)

    def action_enable_totp(self) -> None:
        user = self._selected_user()
        if user is not None:
            self.provision(user.email)

    @core_worker(doing="Making a TOTP secret", group="provision")
    def provision(self, email: str) -> None:
        """A fresh secret from core (it also checks the user still exists), then the form."""
        secret = self.box.mfa.provision_totp(email).secret
        self.app.call_from_thread(self._open_enable_form, email, secret)

    def _open_enable_form(self, email: str, secret: str) -> None:
        self.app.push_screen(MfaEnableForm(email, secret, self.box.hostname), self.report_result)

    def _user_with_methods(self) -> UserMfa | None:
        user = self._selected_user()
        if user is not None and not user.methods:
            self.notify(
                f"{shown_address(user.email)} has no MFA method to disable.", severity="warning"
            )
            return None
        return user

    def action_disable_method(self) -> None:
        user = self._user_with_methods()
        if user is None:
            return
        key = self.methods_table.cursor_key
        method = next((m for m in user.methods if str(m.id) == key), user.methods[0])
        self._confirm_disable(
            user.email,
            method.id,
            f"Disable {method_text(method)} of {shown_address(user.email)}?",
            "Logging in will no longer ask for this method's codes. "
            + (
                "It is their only method: the password alone will do. "
                if len(user.methods) == 1
                else ""
            )
            + "Their API key and login sessions stop working.",
        )

    def action_disable_all(self) -> None:
        user = self._user_with_methods()
        if user is None:
            return
        count = len(user.methods)
        self._confirm_disable(
            user.email,
            None,
            (
                f"Disable all {count} MFA methods of {shown_address(user.email)}?"
                if count > 1
                else f"Disable the MFA method of {shown_address(user.email)}?"
            ),
            "The password alone will log them in, until they enrol again. Their API key "
            "and login sessions stop working.",
        )

    def _confirm_disable(self, email: str, mfa_id: int | None, title: str, body: str) -> None:
        mfa = self.box.mfa

        shown = shown_address(email)

        def disable() -> str:
            removed = mfa.disable(email, mfa_id, actor=TUI_ACTOR)
            text = f"MFA disabled: {shown} " + ", ".join(method_text(m) for m in removed)
            if not mfa.list_methods(email):
                text += f"\n{shown} can now log in with the password alone."
            return text

        def answered(yes: bool | None) -> None:
            if yes:
                self.run_change(disable, f"MFA disabled: {shown}", shown)

        self.app.push_screen(ConfirmDialog(title, body, confirm_label="Disable"), answered)
