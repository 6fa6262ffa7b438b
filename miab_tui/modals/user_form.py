"""Forms for mail users: add a user, set a password, set a quota.

A password is typed twice (masked), and the reference's rule it does not meet yet shows
under it as it is typed (core's own rules and words: `unmet_password_rules`)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Final, TypeVar

from textual import on
from textual.containers import Horizontal
from textual.widget import Widget
from textual.widgets import Checkbox, Input

from core.errors import ValidationError
from core.mail.passwords import TOO_SHORT, unmet_password_rules
from core.mail.users import USER_ADDED
from core.results import Change
from miab_tui.display import shown_address
from miab_tui.modals.form import FormModal, form_row
from miab_tui.screens.base import TUI_ACTOR
from miab_tui.widgets.form_field import FormField

QUOTA_HINT: Final = "0 for unlimited, else a size such as 500M or 2G"
AGAIN_HINT: Final = "The same password, to be sure"
SAME: Final = "✓ The same password."
NOT_SAME: Final = "The two passwords are not the same."

ResultT = TypeVar("ResultT")


def password_fields(label: str) -> Horizontal:
    """The password and its repetition, side by side."""
    return form_row(
        FormField(
            "password",
            label,
            Input(password=True, id="password"),
            hint=TOO_SHORT,
            classes="password-field",
        ),
        FormField(
            "password_again",
            "Again",
            Input(password=True, id="password-again"),
            hint=AGAIN_HINT,
            classes="password-field",
        ),
    )


class PasswordChecks(FormModal[ResultT]):
    """The live rules of a form with `password_fields`."""

    @on(Input.Submitted, "#password")
    def password_entered(self, event: Input.Submitted) -> None:
        # Enter after the first password goes on to the second, unless it is typed already.
        if not self.value("password_again"):
            event.prevent_default()
            self.query_one("#password-again", Input).focus()

    def password(self) -> str:
        """The password typed, once it was typed the same twice. Raises: ValidationError
        (beside the second field) when the two differ."""
        password = self.value("password")
        if password != self.value("password_again"):
            raise ValidationError(NOT_SAME, field="password_again")
        return password

    @on(Input.Changed, "#password, #password-again")
    def password_typed(self) -> None:
        password = self.value("password")
        again = self.value("password_again")
        first = self.query_one("#field-password", FormField)
        second = self.query_one("#field-password-again", FormField)
        if not password:
            first.show_hint(TOO_SHORT)
        else:
            unmet = unmet_password_rules(password)
            if unmet:
                first.show_hint("✗ " + unmet[0], "bad")
            else:
                first.show_hint("✓ " + TOO_SHORT, "good")
        if not again:
            second.show_hint(AGAIN_HINT)
        elif again == password:
            second.show_hint(SAME, "good")
            second.clear_error()
        elif password.startswith(again):
            second.show_hint(AGAIN_HINT)
        else:
            second.show_hint("✗ " + NOT_SAME, "bad")


class UserForm(PasswordChecks[Change | None]):
    """Add a mail user; dismissed with core's Change. An address with a Unicode (or upper
    case) domain goes to core as typed: core stores the domain in IDNA."""

    TITLE_TEXT = "Add mail user"
    SAVE_LABEL = "Add user"

    def __init__(self, email: str = "") -> None:
        super().__init__(id="user-form")
        self._email = email

    def fields(self) -> Sequence[Widget]:
        fields: list[Widget] = [
            FormField(
                "email",
                "Email address",
                Input(self._email, placeholder="user@example.com", id="email"),
            ),
            password_fields("Password"),
        ]
        admin = FormField(
            "privileges",
            "Privileges",
            Checkbox("Administrator", id="admin"),
            hint="May use the admin panel and the API",
        )
        if self.box.schema.has_quota:
            quota = FormField(
                "quota", "Quota", Input("0", placeholder="0", id="quota"), hint=QUOTA_HINT
            )
            fields.append(form_row(quota, admin))
        else:
            fields.append(admin)
        return fields

    def submit(self) -> Change:
        quota = self.value("quota") if self.box.schema.has_quota else "0"
        email = self.value("email")
        change = self.box.mail.users.add_user(
            email,
            self.password(),
            "admin" if self.checked("privileges") else "",
            quota=quota,
            actor=TUI_ACTOR,
        )
        lines = change.lines
        if lines and lines[0] == USER_ADDED:
            lines = (f"{USER_ADDED}: {shown_address(email.strip())}", *lines[1:])
        return Change(lines, change.changed)


class PasswordForm(PasswordChecks[str | None]):
    """Set a user's password; dismissed with a line saying so."""

    TITLE_TEXT = "Set password"
    SAVE_LABEL = "Set password"

    def __init__(self, email: str) -> None:
        super().__init__(id="password-form")
        self.email = email

    def intro(self) -> str:
        return (
            f"New password for {shown_address(self.email)}. Its API keys and login "
            "sessions stop working."
        )

    def fields(self) -> Sequence[Widget]:
        return [password_fields("New password")]

    def submit(self) -> str:
        self.box.mail.users.set_password(self.email, self.password(), actor=TUI_ACTOR)
        return f"password changed: {shown_address(self.email)}"


class QuotaForm(FormModal[str | None]):
    """Set a user's quota; dismissed with a line saying so."""

    TITLE_TEXT = "Set quota"
    SAVE_LABEL = "Set quota"

    def __init__(self, email: str, quota: str) -> None:
        super().__init__(id="quota-form")
        self.email = email
        self._quota = quota

    def intro(self) -> str:
        return f"Mailbox quota for {shown_address(self.email)}."

    def fields(self) -> Sequence[Widget]:
        return [FormField("quota", "Quota", Input(self._quota, id="quota"), hint=QUOTA_HINT)]

    def submit(self) -> str:
        quota = self.value("quota")
        self.box.mail.users.set_quota(self.email, quota, actor=TUI_ACTOR)
        return f"quota set: {shown_address(self.email)} {self.box.mail.users.get_quota(self.email)}"
