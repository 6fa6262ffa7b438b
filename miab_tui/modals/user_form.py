"""Forms for mail users: add a user, set a password, set a quota."""

from __future__ import annotations

from textual.widgets import Checkbox, Input

from core.results import Change
from miab_tui.modals.form import FormModal
from miab_tui.screens.base import TUI_ACTOR
from miab_tui.widgets.form_field import FormField


class UserForm(FormModal[Change | None]):
    """Add a mail user; dismissed with core's Change."""

    TITLE_TEXT = "Add mail user"
    SAVE_LABEL = "Add user"

    def __init__(self, email: str = "") -> None:
        super().__init__(id="user-form")
        self._email = email

    def fields(self) -> list[FormField]:
        fields = [
            FormField(
                "email",
                "Email address",
                Input(self._email, placeholder="user@example.com", id="email"),
            ),
            FormField(
                "password",
                "Password",
                Input(password=True, placeholder="at least eight characters", id="password"),
            ),
            FormField(
                "privileges",
                "Privileges",
                Checkbox("Administrator (may use the admin panel and API)", id="admin"),
            ),
        ]
        if self.box.schema.has_quota:
            fields.append(
                FormField(
                    "quota",
                    "Quota",
                    Input("0", placeholder="0", id="quota"),
                    hint="0 for unlimited, else a size such as 500M or 2G",
                )
            )
        return fields

    def submit(self) -> Change:
        quota = self.value("quota") if self.box.schema.has_quota else "0"
        return self.box.mail.users.add_user(
            self.value("email"),
            self.value("password"),
            "admin" if self.checked("privileges") else "",
            quota=quota,
            actor=TUI_ACTOR,
        )


class PasswordForm(FormModal[str | None]):
    """Set a user's password; dismissed with a line saying so."""

    TITLE_TEXT = "Set password"
    SAVE_LABEL = "Set password"

    def __init__(self, email: str) -> None:
        super().__init__(id="password-form")
        self.email = email

    def intro(self) -> str:
        return f"New password for {self.email}. Its API keys and login keys stop working."

    def fields(self) -> list[FormField]:
        return [
            FormField(
                "password",
                "New password",
                Input(password=True, placeholder="at least eight characters", id="password"),
            )
        ]

    def submit(self) -> str:
        self.box.mail.users.set_password(self.email, self.value("password"), actor=TUI_ACTOR)
        return f"password changed: {self.email}"


class QuotaForm(FormModal[str | None]):
    """Set a user's quota; dismissed with a line saying so."""

    TITLE_TEXT = "Set quota"
    SAVE_LABEL = "Set quota"

    def __init__(self, email: str, quota: str) -> None:
        super().__init__(id="quota-form")
        self.email = email
        self._quota = quota

    def intro(self) -> str:
        return f"Mailbox quota for {self.email}."

    def fields(self) -> list[FormField]:
        return [
            FormField(
                "quota",
                "Quota",
                Input(self._quota, id="quota"),
                hint="0 for unlimited, else a size such as 500M or 2G",
            )
        ]

    def submit(self) -> str:
        quota = self.value("quota")
        self.box.mail.users.set_quota(self.email, quota, actor=TUI_ACTOR)
        return f"quota set: {self.email} {self.box.mail.users.get_quota(self.email)}"
