"""Users screen flows, checked against the box through core afterwards."""

from __future__ import annotations

from textual.widgets import Checkbox, Input

from core.mail.passwords import verify_password
from core.mail.users import USER_CHARS_MESSAGE
from miab_tui.app import MiabApp
from miab_tui.modals.confirm import ConfirmDialog
from miab_tui.modals.user_form import PasswordForm, QuotaForm, UserForm
from miab_tui.screens.base import TUI_ACTOR
from miab_tui.screens.users import UsersScreen
from tests.tui.conftest import SIZE, settle
from tests.tui.helpers import (
    dialog_text,
    field_error,
    fill,
    fill_password,
    notifications,
    save,
    select,
    table_keys,
)


async def test_lists_users_grouped_by_domain_in_core_order(app: MiabApp) -> None:
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        assert isinstance(app.screen, UsersScreen)
        assert table_keys(pilot) == [
            "alice@example.com",
            "bob@example.com",
            "me@example.com",
            "frank@example.com",
            "carol@example.org",
            "dave@example.org",
            "erin@xn--bcher-kva.example",
        ]
        frank = next(r for r in app.screen.table.ordered_rows if r.key == "frank@example.com")
        assert frank.muted and frank.cells[3] == "archived"


async def test_add_user(app: MiabApp) -> None:
    box = app.box
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("a")
        assert isinstance(app.screen, UserForm)
        await fill(pilot, "email", "zoe@example.com")
        await fill_password(pilot, "a-good-password")
        app.screen.query_one("#admin", Checkbox).value = True
        await fill(pilot, "quota", "1G")
        await save(pilot)
        assert isinstance(app.screen, UsersScreen)
        assert "zoe@example.com" in table_keys(pilot)
    assert box.mail.users.get_privileges("zoe@example.com") == ("admin",)
    assert box.mail.users.get_quota("zoe@example.com") == "1G"
    assert verify_password("a-good-password", box.mail.users.password_hash("zoe@example.com"))
    latest = box.audit.recent(1)[0]
    assert (latest.actor, latest.face, latest.operation, latest.outcome) == (
        TUI_ACTOR.name,
        "tui",
        "add user",
        "ok",
    )


async def test_add_user_refused_shows_core_message_beside_the_field(app: MiabApp) -> None:
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("a")
        await fill(pilot, "email", "Zoe@example.com")
        await fill_password(pilot, "a-good-password")
        await save(pilot)
        assert isinstance(app.screen, UserForm), "the form stays open"
        assert field_error(pilot, "email") == USER_CHARS_MESSAGE
        assert field_error(pilot, "password") == ""
        assert app.screen.query_one("#email", Input).value == "Zoe@example.com"
        assert app.focused is app.screen.query_one("#email", Input)

        await fill(pilot, "email", "zoe@example.com")
        await fill_password(pilot, "short")
        await save(pilot)
        assert field_error(pilot, "email") == ""
        assert field_error(pilot, "password") == "Passwords must be at least eight characters."

        await fill_password(pilot, "a-good-password")
        await fill(pilot, "quota", "1.5G")
        await save(pilot)
        assert field_error(pilot, "quota") == (
            "Quotas cannot contain spaces, commas, or decimal points."
        )
        await pilot.press("escape")
        await settle(pilot)
        assert isinstance(app.screen, UsersScreen)
    assert not app.box.mail.users.exists("zoe@example.com")
    assert not app.box.mail.users.exists("Zoe@example.com")


async def test_add_existing_user_is_refused_beside_email(app: MiabApp) -> None:
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("a")
        await fill(pilot, "email", "alice@example.com")
        await fill_password(pilot, "a-good-password")
        await save(pilot)
        assert field_error(pilot, "email") == "User already exists."


async def test_set_password(app: MiabApp) -> None:
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await select(pilot, "bob@example.com")
        await pilot.press("p")
        assert isinstance(app.screen, PasswordForm)
        assert app.screen.email == "bob@example.com"
        await fill(pilot, "password", "bobs-new-password")
        # Enter goes on to the second field; there, Enter saves.
        await pilot.press("enter")
        assert app.focused is app.screen.query_one("#password-again", Input)
        await pilot.press(*"bobs-new-password", "enter")
        await settle(pilot)
        assert isinstance(app.screen, UsersScreen)
    assert verify_password("bobs-new-password", app.box.mail.users.password_hash("bob@example.com"))


async def test_set_password_too_short_stays_open(app: MiabApp) -> None:
    before = app.box.mail.users.password_hash("bob@example.com")
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await select(pilot, "bob@example.com")
        await pilot.press("p")
        await fill_password(pilot, "   ")
        await save(pilot)
        assert isinstance(app.screen, PasswordForm)
        assert field_error(pilot, "password") == "No password provided."
    assert app.box.mail.users.password_hash("bob@example.com") == before


async def test_toggle_admin_asks_first(app: MiabApp) -> None:
    users = app.box.mail.users
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await select(pilot, "alice@example.com")
        await pilot.press("t")
        assert isinstance(app.screen, ConfirmDialog)
        assert "Make alice@example.com an administrator?" in dialog_text(pilot)
        await pilot.press("n")
        await settle(pilot)
        assert users.get_privileges("alice@example.com") == ()
        await pilot.press("t", "y")
        await settle(pilot)
        assert users.get_privileges("alice@example.com") == ("admin",)
        table = app.screen.table
        assert table.cursor_key == "alice@example.com"
        assert table.get_row_at(table.cursor_row)[2] == "admin"
        await pilot.press("t")
        assert "Take the admin privilege from alice@example.com?" in dialog_text(pilot)
        await pilot.press("y")
        await settle(pilot)
        assert users.get_privileges("alice@example.com") == ()


async def test_set_quota(app: MiabApp) -> None:
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await select(pilot, "carol@example.org")
        await pilot.press("q")
        assert isinstance(app.screen, QuotaForm)
        assert app.screen.query_one("#quota", Input).value == "2G"
        await fill(pilot, "quota", "big")
        await save(pilot)
        assert field_error(pilot, "quota") == "Invalid quota."
        await fill(pilot, "quota", "500m")
        await save(pilot)
        assert isinstance(app.screen, UsersScreen)
    assert app.box.mail.users.get_quota("carol@example.org") == "500M"


async def test_remove_user_after_confirmation(app: MiabApp) -> None:
    users = app.box.mail.users
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await select(pilot, "dave@example.org")
        await pilot.press("x")
        assert isinstance(app.screen, ConfirmDialog)
        await pilot.press("n")
        await settle(pilot)
        assert users.exists("dave@example.org")

        await pilot.press("delete")
        assert isinstance(app.screen, ConfirmDialog)
        await pilot.press("y")
        await settle(pilot)
        assert not users.exists("dave@example.org")
        assert "dave@example.org" not in table_keys(pilot)


async def test_archived_mailbox_refuses_account_actions(app: MiabApp) -> None:
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await select(pilot, "frank@example.com")
        for key in ("p", "t", "q"):
            await pilot.press(key)
            await pilot.pause()
            assert isinstance(app.screen, UsersScreen)
        # Enter offers to add the account back, with its address filled in.
        await pilot.press("enter")
        await pilot.pause()
        assert isinstance(app.screen, UserForm)
        assert app.screen.query_one("#email", Input).value == "frank@example.com"


async def test_filter_as_you_type(app: MiabApp) -> None:
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("slash", *"example.org")
        await pilot.pause()
        assert table_keys(pilot) == ["carol@example.org", "dave@example.org"]
        summary = app.screen.browser.summary
        assert summary.startswith("2 of ")
        await pilot.press(*["backspace"] * 3, *"com")
        await pilot.pause()
        assert table_keys(pilot) == [
            "alice@example.com",
            "bob@example.com",
            "me@example.com",
            "frank@example.com",
        ]
        await pilot.press("ctrl+a", "ctrl+k", *"ADMIN")
        await pilot.pause()
        assert table_keys(pilot) == ["me@example.com"]
        await pilot.press("escape", "t")  # the keys belong to the table again
        await settle(pilot)
        # (me@ is the only admin: the TUI refuses to take the privilege.)
        assert isinstance(app.screen, UsersScreen)
        assert "me@example.com is the only administrator" in notifications(pilot)[-1]
    assert app.box.mail.users.get_privileges("me@example.com") == ("admin",)
