"""The users area: every mail user, grouped by domain, and the changes made to them."""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import ClassVar

from textual import on
from textual.binding import Binding, BindingType
from textual.message import Message

from core.mail.users import DomainUsers, MailUser, human_size, last_admin_message
from miab_tui import display
from miab_tui.display import plural, shown_address
from miab_tui.messages import UsersLoaded
from miab_tui.modals.confirm import ConfirmDialog
from miab_tui.modals.user_form import PasswordForm, QuotaForm, UserForm
from miab_tui.screens.base import TUI_ACTOR, AreaScreen
from miab_tui.widgets.record_browser import RecordBrowser
from miab_tui.widgets.record_table import Column, Row
from miab_tui.workers import core_worker

Sizes = dict[str, int | None]


def quota_text(user: MailUser) -> str:
    if user.status != "active" or user.quota is None:
        return ""
    return "unlimited" if user.quota == "0" else user.quota


def size_of(user: MailUser, sizes: Sizes) -> int | None:
    """dovecot's figure (the listing's), else the measured size of the folder."""
    return user.box_size if user.box_size is not None else sizes.get(user.email)


NO_MAILBOX = "—"  # measured: no mailbox folder yet (no mail was ever delivered)


def size_text(user: MailUser, sizes: Sizes | None = None) -> str:
    sizes = sizes or {}
    size = size_of(user, sizes)
    if size is None:
        return NO_MAILBOX if user.email in sizes else ""
    return human_size(size)


def user_rows(
    groups: tuple[DomainUsers, ...], sizes: Sizes | None = None
) -> tuple[list[Row], list[str], dict[str, MailUser]]:
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
            shown = shown_address(user.email)  # IDN domains in Unicode
            rows.append(
                Row(
                    user.email,
                    (domain, shown, admin, status, quota_text(user), size_text(user, sizes)),
                    muted=archived,
                )
            )
            search.append(f"{user.email} {shown} {domain} {admin} {status}".lower())
            users[user.email] = user
    return rows, search, users


@dataclass
class SizesMeasured(Message):
    """The mailboxes' sizes, measured off the UI thread (core caches each folder's)."""

    sizes: Sizes


@dataclass
class PurgeSized(Message):
    """The size of an archived mailbox the admin asked to purge, for the confirmation."""

    email: str
    size: int | None


class UsersScreen(AreaScreen):
    """Mail users: add, set password, toggle admin, set quota, remove; archived mailboxes
    can be brought back (enter) or purged (x)."""

    AREA = "users"
    SUB_TITLE = "Users"
    FILTER_PLACEHOLDER = "Filter: address, domain, admin, archived"
    EMPTY_TEXT = "No mail users match."
    COLUMNS = (
        Column("Domain", group=True, max_width=28),
        Column("Email", max_width=48, min_width=16),
        Column("Admin", width=5, badge="badge"),
        Column("Status", width=8),
        Column("Quota", width=9),
        Column("Size", width=8),
    )

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("a", "add_user", "Add", tooltip="Add a mail user"),
        Binding("p", "set_password", "Password", tooltip="Set the selected user's password"),
        Binding(
            "t",
            "toggle_admin",
            "Admin",
            tooltip="Give or take the selected user's admin privilege (asks first)",
        ),
        Binding("q", "set_quota", "Quota", tooltip="Set the selected user's mailbox quota"),
        Binding(
            "x,delete",
            "remove_user",
            "Remove",
            tooltip="Remove the selected user, or purge the selected archived mailbox (asks first)",
        ),
    ]
    HELP_KEYS: ClassVar[tuple[tuple[str, str], ...]] = (
        ("enter", "On an archived mailbox: add its user again"),
    )

    def __init__(self) -> None:
        super().__init__()
        # Every mailbox's size as last measured (maildirsize, else the folder's), by address.
        self._sizes: Sizes = {}

    @property
    def users(self) -> dict[str, MailUser]:
        return self.context if isinstance(self.context, dict) else {}

    def read_records(self) -> UsersLoaded:
        groups = self.box.mail.users.list_users()
        rows, search, users = user_rows(groups, dict(self._sizes))
        active = sum(1 for user in users.values() if user.status == "active")
        summary = (
            f"{plural(active, 'user')}, {len(users) - active:,} archived, "
            f"{plural(len(groups), 'domain')}"
        )
        return UsersLoaded(rows, search, summary, users)

    @on(UsersLoaded)
    def users_loaded(self, message: UsersLoaded) -> None:
        # (The base class shows the rows.) Then the sizes dovecot does not keep.
        users = message.context
        if isinstance(users, dict):
            # Once the rows are painted: the first frame of a big list comes first.
            self.call_after_refresh(self.measure_sizes, list(users.values()))

    @core_worker(doing="Measuring the mailboxes", group="sizes")
    def measure_sizes(self, users: list[MailUser]) -> None:
        """The size of each mailbox dovecot keeps no maildirsize for (its folder's); posts
        the ones that changed since the rows were made."""
        wanted = [user.email for user in users if user.box_size is None]
        sizes = self.box.mail.users.mailbox_sizes(wanted)
        known = self._sizes
        changed = {
            email: size
            for email, size in sizes.items()
            if email not in known or known[email] != size
        }
        if changed:
            self.post_message(SizesMeasured(changed))

    @on(SizesMeasured)
    def sizes_measured(self, message: SizesMeasured) -> None:
        """Redraw only the rows whose size changed (the Size column has a fixed width)."""
        self._sizes = {**self._sizes, **message.sizes}
        rows = {}
        for row in self.browser.all_rows:
            user = self.users.get(row.key)
            if row.key in message.sizes and user is not None:
                cells = (*row.cells[:-1], size_text(user, self._sizes))
                rows[row.key] = Row(row.key, cells, row.muted)
        self.browser.update_rows(rows)

    # --- actions ----------------------------------------------------------------------

    def _refuse_last_admin(self, user: MailUser, doing: str) -> bool:
        """Keep someone able to use the admin panel and the API (the reference's panel
        guards the same way; the API itself does not). Asked of the database, not of the
        table: another process may have changed the admins; core checks again on the write."""
        if user.is_admin and self.box.mail.users.is_last_admin(user.email):
            self.notify(
                last_admin_message(user.email, doing).removesuffix(".") + " (t on that user).",
                title="The last administrator",
                severity="warning",
            )
            return True
        return False

    def _selected_account(self) -> MailUser | None:
        """The selected user, if it is a live account (archived mailboxes have none)."""
        key = self.selected_key()
        if key is None:
            return None
        user = self.users.get(key)
        if user is None or user.status != "active":
            self.notify(
                f"{shown_address(key)} is an archived mailbox without an account: enter adds "
                "the user again, x purges the mailbox.",
                severity="warning",
            )
            return None
        return user

    def action_add_user(self, email: str = "") -> None:
        self.app.push_screen(UserForm(shown_address(email) if email else ""), self.report_result)

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
        shown = shown_address(email)
        if user.is_admin:
            if self._refuse_last_admin(user, "taking the privilege"):
                return
            dialog = ConfirmDialog(
                f"Take the admin privilege from {shown}?",
                f"{shown} keeps the mailbox and the login, but may no longer use the admin "
                "panel or the admin API.",
                confirm_label="Take admin",
            )

            def change() -> None:
                users.remove_privilege(email, "admin", actor=TUI_ACTOR, keep_an_admin=True)

            done = f"admin privilege removed: {shown}"
        else:
            dialog = ConfirmDialog(
                f"Make {shown} an administrator?",
                f"{shown} may then change anything on the box through the admin panel and "
                "the API: users and their passwords, aliases, DNS, certificates.",
                confirm_label="Make admin",
            )

            def change() -> None:
                users.add_privilege(email, "admin", actor=TUI_ACTOR)

            done = f"admin privilege added: {shown}"

        def answered(yes: bool | None) -> None:
            if yes:
                self.run_change(change, done, shown)

        self.app.push_screen(dialog, answered)

    def action_remove_user(self) -> None:
        key = self.selected_key()
        user = self.users.get(key) if key is not None else None
        if user is None:
            return
        if user.status != "active":
            self.size_for_purge(user.email)
            return
        if self._refuse_last_admin(user, "removing the user"):
            return
        email = user.email
        shown = shown_address(email)
        if os.path.isdir(user.mailbox):
            size = size_of(user, self._sizes)
            held = f" ({human_size(size)})" if size is not None else ""
            body = (
                f"The account goes; its mailbox{held} stays on disk as an archived mailbox, "
                "listed here until you purge it (x on it)."
            )
        else:
            body = (
                "The account goes. It has no mailbox on disk (no mail was ever delivered to "
                "it), so nothing stays behind."
            )

        def answered(remove: bool | None) -> None:
            if remove:
                users = self.box.mail.users
                self.run_change(
                    lambda: users.remove_user(email, actor=TUI_ACTOR, keep_an_admin=True),
                    f"mail user removed: {shown}",
                    shown,
                )

        self.app.push_screen(
            ConfirmDialog(f"Remove {shown}?", body, confirm_label="Remove"), answered
        )

    @core_worker(doing="Measuring the mailbox", group="purge")
    def size_for_purge(self, email: str) -> None:
        size = self.box.mail.users.mailbox_sizes([email])[email]
        self.post_message(PurgeSized(email, size))

    @on(PurgeSized)
    def confirm_purge(self, message: PurgeSized) -> None:
        email = message.email
        shown = shown_address(email)
        user = self.users.get(email)
        if message.size is None or user is None:
            self.notify(f"There is no archived mailbox of {shown} any more.", severity="warning")
            self.load()
            return
        size = human_size(message.size)
        users = self.box.mail.users

        def answered(yes: bool | None) -> None:
            if yes:
                self.run_change(
                    lambda: users.purge_archived_mailbox(email, actor=TUI_ACTOR),
                    f"archived mailbox purged: {shown}",
                    shown,
                )

        self.app.push_screen(
            ConfirmDialog(
                f"Purge the archived mailbox of {shown}?",
                f"Its mail ({size}) is deleted from disk for good: "
                f"{display.shown_path(user.mailbox)}\n\n"
                "Nothing here can bring it back (a backup may still hold it).",
                confirm_label=f"Purge {size}",
            ),
            answered,
        )
