"""The users area: every mail user, grouped by domain, and the changes made to them."""

from __future__ import annotations

from typing import ClassVar

from textual import on
from textual.binding import Binding, BindingType

from core.mail.addresses import prettify_idn_email_address
from core.mail.users import DomainUsers, MailUser, human_size
from miab_tui.messages import UsersLoaded
from miab_tui.modals.confirm import ConfirmDialog
from miab_tui.modals.user_form import PasswordForm, QuotaForm, UserForm
from miab_tui.screens.base import TUI_ACTOR, AreaScreen
from miab_tui.widgets.record_browser import RecordBrowser
from miab_tui.widgets.record_table import Column, Row


def quota_text(user: MailUser) -> str:
    if user.status != "active" or user.quota is None:
        return ""
    return "unlimited" if user.quota == "0" else user.quota


def size_text(user: MailUser) -> str:
    return "" if user.box_size is None else human_size(user.box_size)


def user_rows(groups: tuple[DomainUsers, ...]) -> tuple[list[Row], list[str], dict[str, MailUser]]:
    """Rows in core's order (domain sort, active first, then address), the filter's
    lower-cased texts, and the users by address."""
    rows: list[Row] = []
    search: list[str] = []
    users: dict[str, MailUser] = {}
    for group in groups:
        domain = group.domain_display
        for user in group.users:
            archived = user.status != "active"
            status = "archived" if archived else "active"
            admin = "admin" if user.is_admin else ""
            shown = prettify_idn_email_address(user.email)  # IDN domains in Unicode
            rows.append(
                Row(
                    user.email,
                    (domain, shown, admin, status, quota_text(user), size_text(user)),
                    muted=archived,
                )
            )
            search.append(f"{user.email} {shown} {domain} {admin} {status}".lower())
            users[user.email] = user
    return rows, search, users


class UsersScreen(AreaScreen):
    """Mail users: add, set password, toggle admin, set quota, remove."""

    AREA = "users"
    SUB_TITLE = "Users"
    FILTER_PLACEHOLDER = "Filter: address, domain, admin, archived"
    EMPTY_TEXT = "No mail users match."
    COLUMNS = (
        Column("Domain", group=True, max_width=28),
        Column("Email", max_width=48),
        Column("Admin", width=5, badge="badge"),
        Column("Status", width=8),
        Column("Quota", width=9),
        Column("Size", width=8),
    )

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("a", "add_user", "Add", tooltip="Add a mail user"),
        Binding("p", "set_password", "Password", tooltip="Set the selected user's password"),
        Binding("t", "toggle_admin", "Admin", tooltip="Give or take the admin privilege"),
        Binding("q", "set_quota", "Quota", tooltip="Set the selected user's mailbox quota"),
        Binding("x,delete", "remove_user", "Remove", tooltip="Remove the selected user"),
    ]

    @property
    def users(self) -> dict[str, MailUser]:
        return self.context if isinstance(self.context, dict) else {}

    def read_records(self) -> UsersLoaded:
        groups = self.box.mail.users.list_users()
        rows, search, users = user_rows(groups)
        active = sum(1 for user in users.values() if user.status == "active")
        summary = f"{active:,} users, {len(users) - active:,} archived, {len(groups):,} domains"
        return UsersLoaded(rows, search, summary, users)

    def _selected_account(self) -> MailUser | None:
        """The selected user, if it is a live account (archived mailboxes have none)."""
        key = self.selected_key()
        if key is None:
            return None
        user = self.users.get(key)
        if user is None or user.status != "active":
            self.notify(
                f"{key} is an archived mailbox without an account: add the user again to use it.",
                severity="warning",
            )
            return None
        return user

    def action_add_user(self, email: str = "") -> None:
        self.app.push_screen(UserForm(email), self.report_result)

    @on(RecordBrowser.Selected)
    def row_selected(self, event: RecordBrowser.Selected) -> None:
        # Enter on an archived mailbox offers to bring its account back.
        user = self.users.get(event.key)
        if user is not None and user.status != "active":
            self.action_add_user(user.email)

    def action_set_password(self) -> None:
        user = self._selected_account()
        if user is not None:
            self.app.push_screen(PasswordForm(user.email), self.report_result)

    def action_set_quota(self) -> None:
        user = self._selected_account()
        if user is None:
            return
        if user.quota is None:
            self.notify(
                "This box's database has no quota column (a v0.51 box).", severity="warning"
            )
            return
        self.app.push_screen(QuotaForm(user.email, user.quota), self.report_result)

    def action_toggle_admin(self) -> None:
        user = self._selected_account()
        if user is None:
            return
        users = self.box.mail.users
        email = user.email
        if user.is_admin:
            self.run_change(
                lambda: users.remove_privilege(email, "admin", actor=TUI_ACTOR),
                f"admin privilege removed: {email}",
            )
        else:
            self.run_change(
                lambda: users.add_privilege(email, "admin", actor=TUI_ACTOR),
                f"admin privilege added: {email}",
            )

    def action_remove_user(self) -> None:
        user = self._selected_account()
        if user is None:
            return
        email = user.email

        def answered(remove: bool | None) -> None:
            if remove:
                users = self.box.mail.users
                self.run_change(
                    lambda: users.remove_user(email, actor=TUI_ACTOR),
                    f"mail user removed: {email}",
                    email,
                )

        self.app.push_screen(
            ConfirmDialog(
                f"Remove {email}?",
                "The account goes; its mailbox stays on disk as an archived mailbox, listed "
                "here until it is deleted by hand.",
                confirm_label="Remove",
            ),
            answered,
        )
