"""What a new admin meets first in the TUI (issue "The first hour of a new admin"): help on
every area, confirmations, passwords typed twice with the rules shown, required aliases that
reach nobody, small and large terminals, column widths, activity entries, addresses in
Unicode, screenshots, mailbox sizes and purging, the master API key, and the wording."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest
from textual.widgets import Button, Footer, Input, Label, Static
from textual.widgets._footer import FooterKey

from core.errors import MiabError
from core.mail.aliases import dangling_required
from miab_tui.app import MiabApp
from miab_tui.areas import AREAS
from miab_tui.display import display_text, plural
from miab_tui.modals.api_key import ApiKeyDialog
from miab_tui.modals.confirm import ConfirmDialog
from miab_tui.modals.details import DetailsDialog
from miab_tui.modals.form import FormModal
from miab_tui.modals.help import HelpDialog
from miab_tui.modals.user_form import PasswordForm, UserForm
from miab_tui.screens.aliases import AliasesScreen
from miab_tui.screens.base import TUI_ACTOR, AreaScreen
from miab_tui.screens.dns import DnsScreen
from miab_tui.screens.users import UsersScreen
from miab_tui.widgets.form_field import FormField
from miab_tui.widgets.level_table import LevelRow, LevelTable
from miab_tui.widgets.record_browser import RecordBrowser
from miab_tui.widgets.record_table import Column, Row, layout_widths
from tests.conftest import TEST_ACTOR
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

ADMINISTRATOR = "administrator@box.example.com"


def help_text(pilot) -> str:  # noqa: ANN001 - a Pilot
    screen = pilot.app.screen
    assert isinstance(screen, HelpDialog)
    lines = [section.title for section in screen.sections]
    lines += [f"{keys} {text}" for section in screen.sections for keys, text in section.keys]
    return "\n".join(lines)


def visible(pilot, widget) -> bool:  # noqa: ANN001 - a Pilot and a widget
    """Wholly on screen (not scrolled away, not cut by the terminal)."""
    region = widget.region
    screen = pilot.app.screen.region
    return bool(region.area) and screen.contains_region(region)


# --- help -------------------------------------------------------------------------------


async def test_f1_and_question_mark_show_every_areas_keys(app: MiabApp) -> None:
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        for number, area in enumerate(a for a in AREAS if a.mode in app.MODES):
            await app.switch_mode(area.mode)
            await settle(pilot)
            screen = app.screen
            if not isinstance(screen, AreaScreen):
                continue  # (an area of another kind: its own tests)
            await pilot.press("f1" if number % 2 else "question_mark")
            await pilot.pause()
            text = help_text(pilot)
            assert app.screen.title_text == f"Keys: {area.title}"
            # Every key the area binds, in the words of its tooltip.
            for cls in type(screen).__mro__:
                if not (isinstance(cls, type) and issubclass(cls, AreaScreen)):
                    continue
                for binding in cls.__dict__.get("BINDINGS", ()):
                    if getattr(binding, "description", ""):
                        assert (binding.tooltip or binding.description) in text, binding
            assert "The master API key: show, copy, rotate" in text
            await pilot.press("f1")  # F1 again closes it
            await pilot.pause()
            assert app.screen is screen


async def test_help_in_a_dialog_lists_the_dialogs_keys(app: MiabApp) -> None:
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("a", "f1")
        await pilot.pause()
        text = help_text(pilot)
        assert "Make the change" in text and "Close without changing anything" in text
        await pilot.press("escape")
        await pilot.pause()
        assert isinstance(app.screen, UserForm)


async def test_question_mark_in_the_filter_is_typed(app: MiabApp) -> None:
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("slash", "question_mark")
        await pilot.pause()
        assert isinstance(app.screen, UsersScreen)
        assert app.screen.browser.filter_text == "?"


async def test_dns_footer_shows_the_tab_keys(app: MiabApp) -> None:
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        await app.switch_mode("dns")
        await settle(pilot)
        footer = app.screen.query_one(Footer)
        tabs = [key for key in footer.query(FooterKey) if key.key in "rfcndp"]
        assert [key.key for key in tabs] == ["r", "f", "c", "n", "d", "p"]
        assert all(visible(pilot, key) for key in tabs)
        assert "Tabs" in [str(label.render()) for label in footer.query(Label)]


# --- confirmations ------------------------------------------------------------------------


async def test_the_last_admin_keeps_the_privilege_and_the_account(app: MiabApp) -> None:
    users = app.box.mail.users
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await select(pilot, "me@example.com")
        for key in ("t", "x"):
            await pilot.press(key)
            await settle(pilot)
            assert isinstance(app.screen, UsersScreen)
            assert "me@example.com is the only administrator" in notifications(pilot)[-1]
        # With a second admin, the first may go.
        await select(pilot, "bob@example.com")
        await pilot.press("t", "y")
        await settle(pilot)
        await select(pilot, "me@example.com")
        await pilot.press("t")
        assert isinstance(app.screen, ConfirmDialog)
        await pilot.press("y")
        await settle(pilot)
    assert users.get_privileges("me@example.com") == ()
    assert users.get_privileges("bob@example.com") == ("admin",)


async def test_remove_user_dialog_promises_an_archive_only_when_there_is_a_mailbox(
    app: MiabApp,
) -> None:
    mailbox = app.box.config.mailboxes_dir / "example.org" / "carol" / "cur"
    mailbox.mkdir(parents=True)
    (mailbox / "1").write_bytes(b"x" * 3000)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await select(pilot, "dave@example.org")
        await pilot.press("x")
        text = dialog_text(pilot)
        assert "no mailbox on disk" in text and "archived" not in text
        await pilot.press("n")
        await settle(pilot)
        await select(pilot, "carol@example.org")
        await pilot.press("x")
        assert "its mailbox (2.9K) stays on disk as an archived mailbox" in dialog_text(pilot)


# --- passwords ----------------------------------------------------------------------------


async def test_password_is_asked_twice_with_the_rules_shown_as_typed(app: MiabApp) -> None:
    before = app.box.mail.users.password_hash("bob@example.com")
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await select(pilot, "bob@example.com")
        await pilot.press("p")
        form = app.screen
        assert isinstance(form, PasswordForm)
        first = form.query_one("#field-password", FormField)
        second = form.query_one("#field-password-again", FormField)
        assert first.hint == "Passwords must be at least eight characters."
        await fill(pilot, "password", "short")
        assert first.hint == "✗ Passwords must be at least eight characters."
        await fill(pilot, "password", "long-enough")
        assert first.hint == "✓ Passwords must be at least eight characters."
        await fill(pilot, "password_again", "long-enouhg")
        assert second.hint == "✗ The two passwords are not the same."
        await save(pilot)
        assert isinstance(app.screen, PasswordForm), "not saved"
        assert field_error(pilot, "password_again") == "The two passwords are not the same."
        assert app.box.mail.users.password_hash("bob@example.com") == before
        await fill(pilot, "password_again", "long-enough")
        assert second.hint == "✓ The same password."
        await save(pilot)
        assert isinstance(app.screen, UsersScreen)
        assert notifications(pilot)[-1] == "password changed: bob@example.com"
    assert app.box.mail.users.password_hash("bob@example.com") != before


# --- required aliases ---------------------------------------------------------------------


def test_dangling_required_aliases(demo_box) -> None:  # noqa: ANN001 - a Box
    aliases = demo_box.mail.aliases
    users = demo_box.mail.users
    everything = [a for g in aliases.list_aliases() for a in g.aliases]
    assert dangling_required(everything, users.emails(), "box.example.com") == {}
    aliases.remove_alias(ADMINISTRATOR, actor=TEST_ACTOR)
    everything = [a for g in aliases.list_aliases() for a in g.aliases]
    found = dangling_required(everything, users.emails(), "box.example.com")
    assert found["postmaster@example.com"] == (ADMINISTRATOR,)
    assert found.keys() == {a.address for a in everything if a.required}
    # A user's +tag address, and an address elsewhere, reach someone.
    aliases.add_alias(ADMINISTRATOR, "me+admin@example.com", actor=TEST_ACTOR)
    aliases.add_alias(
        "postmaster@example.org",
        "abuse@elsewhere.example",
        actor=TEST_ACTOR,
        update_if_exists=True,
    )
    everything = [a for g in aliases.list_aliases() for a in g.aliases]
    assert dangling_required(everything, users.emails(), "box.example.com") == {}
    # A catch-all of the destination's domain catches it.
    aliases.add_alias(
        "postmaster@example.org", "webmaster@example.org", actor=TEST_ACTOR, update_if_exists=True
    )
    everything = [a for g in aliases.list_aliases() for a in g.aliases]
    assert dangling_required(everything, users.emails(), "box.example.com") == {}
    aliases.remove_alias("@example.org", actor=TEST_ACTOR)
    everything = [a for g in aliases.list_aliases() for a in g.aliases]
    found = dangling_required(everything, users.emails(), "box.example.com")
    assert found == {"postmaster@example.org": ("webmaster@example.org",)}


async def test_aliases_warn_when_administrator_is_missing_and_fix_it(app: MiabApp) -> None:
    aliases = app.box.mail.aliases
    aliases.remove_alias(ADMINISTRATOR, actor=TEST_ACTOR)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await app.switch_mode("aliases")
        await settle(pilot)
        screen = app.screen
        assert isinstance(screen, AliasesScreen)
        warning = screen.query_one("#aliases-warning", Static)
        text = str(warning.render())
        assert warning.display and visible(pilot, warning)
        assert "required aliases (abuse@, admin@, hostmaster@…) forward to" in text
        assert f"f makes {ADMINISTRATOR} forward to me@example.com." in text
        assert "f" in [key.key for key in screen.query_one(Footer).query(FooterKey)]
        await pilot.press("f")
        assert isinstance(app.screen, ConfirmDialog)
        assert f"Create {ADMINISTRATOR}?" in dialog_text(pilot)
        await pilot.press("y")
        await settle(pilot)
        assert not screen.query_one("#aliases-warning", Static).display
        assert "f" not in [key.key for key in screen.query_one(Footer).query(FooterKey)]
        assert notifications(pilot)[-1].startswith("added alias administrator@box.example.com")
    alias = aliases.get_alias(ADMINISTRATOR)
    assert alias is not None and alias.destination == "me@example.com"
    record = app.box.audit.recent(1)[0]
    assert (record.actor, record.operation, record.target) == (
        TUI_ACTOR.name,
        "add alias",
        ADMINISTRATOR,
    )


# --- terminal sizes -----------------------------------------------------------------------


async def test_every_dialog_fits_or_scrolls_at_80x24(app: MiabApp) -> None:
    """Its buttons stay in sight; what does not fit scrolls (the Add-user form fits whole,
    its quota hint included)."""
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        await pilot.press("a")
        await pilot.pause()
        form = app.screen
        assert isinstance(form, UserForm)
        quota = form.query_one("#field-quota", FormField)
        assert visible(pilot, quota.query_one(".form-field--hint"))
        for button in form.query(Button):
            assert visible(pilot, button)
        # Core's refusals add lines: the buttons stay, the fields scroll.
        await fill(pilot, "email", "Zoe@example.com")
        await fill_password(pilot, "short")
        await save(pilot)
        for button in form.query(Button):
            assert visible(pilot, button)
        await pilot.press("escape")
        for mode, keys in (
            ("users", ("f1",)),
            ("users", ("ctrl+k",)),
            ("activity", ("enter",)),
            ("aliases", ("e",)),
            ("dns", ("s",)),
            ("dns", ("g",)),
        ):
            await app.switch_mode(mode)
            await settle(pilot)
            await pilot.press(*keys)
            await settle(pilot)
            dialog = app.screen
            assert not isinstance(dialog, AreaScreen), keys
            for button in dialog.query(Button):
                assert visible(pilot, button), (keys, button)
            await pilot.press("escape")
            await settle(pilot)


async def test_dns_at_80x24_keeps_the_explanation_and_the_count(app: MiabApp) -> None:
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        await app.switch_mode("dns")
        await settle(pilot)
        screen = app.screen
        assert isinstance(screen, DnsScreen)
        table = screen.table
        widths = table._cell_widths(table.scrollable_content_region.width)
        assert widths[-1] >= 20  # Explanation
        summary = screen.query_one(".record-browser--summary", Label)
        assert visible(pilot, summary) and "records in" in screen.browser.summary


@pytest.mark.parametrize("mode", [area.mode for area in AREAS])
async def test_the_filter_stays_usable_at_60x15(app: MiabApp, mode: str) -> None:
    async with app.run_test(size=(60, 15)) as pilot:
        await settle(pilot)
        await app.switch_mode(mode)
        await settle(pilot)
        browsers = app.screen.query(RecordBrowser)
        if not browsers:
            pytest.skip("no filter in this area")
        browser = browsers.first()
        assert browser.filter_input.region.width >= 16
        assert visible(pilot, browser.filter_input)
        browser.focus_filter()
        await pilot.press(*"ex")
        await pilot.pause()
        assert browser.filter_text == "ex"
        assert visible(pilot, browser.table)


async def test_large_terminal_shows_the_whole_dkim_key_and_wider_columns(app: MiabApp) -> None:
    async with app.run_test(size=(200, 70)) as pilot:
        await settle(pilot)
        await app.switch_mode("dns")
        await settle(pilot)
        screen = app.screen
        assert isinstance(screen, DnsScreen)
        table = screen.table
        dkim = next(i for i, r in enumerate(table.ordered_rows) if "DKIM1" in r.cells[2])
        table.focus()
        table.move_cursor(row=dkim)
        await settle(pilot)
        detail = screen.query_one("#dns-record-detail", Static)
        box = screen.query_one("#dns-record-detail-box")
        value = screen.view.records[int(table.cursor_key)].value
        assert value.replace(" ", "") in str(detail.render()).replace("\n", "").replace(" ", "")
        assert box.max_scroll_y == 0 and box.region.height > 5  # nothing cut off
        widths = table._cell_widths(table.scrollable_content_region.width)
        assert widths[2] > 40  # Value grows with the terminal (28 at 120 columns)


# --- column widths ------------------------------------------------------------------------

COLUMNS = (Column("Name", max_width=20), Column("Kind", width=5), Column("Value"))


def test_layout_caps_fitted_columns_and_gives_spare_room_to_those_cut_short() -> None:
    # Name's cells are 60 wide, its cap 20: spare room goes to it...
    assert layout_widths(COLUMNS, [60, 5, 10], 50) == [28, 5, 10]
    assert layout_widths(COLUMNS, [60, 5, 10], 100) == [60, 5, 28]
    # ...shared with the last column when that is cut short too...
    assert layout_widths(COLUMNS, [60, 5, 100], 100) == [30, 5, 58]
    # ...and a table too narrow takes from the widest, so the last keeps 20 cells.
    assert layout_widths(COLUMNS, [20, 5, 40], 40) == [8, 5, 20]


async def test_columns_follow_the_visible_rows_with_an_ellipsis() -> None:
    from textual.app import App, ComposeResult

    rows = [
        Row("a", ("alpha", "A", "short")),
        Row("b", ("b" * 40, "B", "x")),
        Row("c", ("gamma", "C", "also short")),
    ]

    class BrowserApp(App[None]):
        def compose(self) -> ComposeResult:
            yield RecordBrowser(COLUMNS, id="browser")

        def on_mount(self) -> None:
            browser = self.query_one(RecordBrowser)
            browser.set_records(rows, [" ".join(r.cells) for r in rows], "3 things")

    app = BrowserApp()
    async with app.run_test(size=(40, 12)) as pilot:
        await pilot.pause()
        browser = app.query_one(RecordBrowser)
        table = browser.table
        assert table.natural_widths[0] == 40
        # The long name is cut (the last column keeps its room), with an ellipsis.
        line = "".join(segment.text for segment in table.render_line(2))
        assert " " + "b" * 15 + "…  B" in line
        browser.filter_text = "a"  # hides the long row
        await pilot.pause()
        assert [r.key for r in table.ordered_rows] == ["a", "c"]
        assert table.natural_widths[0] == len("alpha")
        header = "".join(segment.text for segment in table.render_line(0))
        assert header.startswith(" Name   Kind   Value")


async def test_level_table_draws_with_the_same_layout() -> None:
    from textual.app import App, ComposeResult

    class LevelApp(App[None]):
        def compose(self) -> ComposeResult:
            yield LevelTable((Column("Domain", max_width=8), Column("Status")))

        def on_mount(self) -> None:
            table = self.query_one(LevelTable)
            rows = [LevelRow("x", ("a-very-long-domain.example", "valid"), level="ok")]
            table.fit_columns(rows)
            table.replace_rows(rows)

    app = LevelApp()
    async with app.run_test(size=(24, 5)) as pilot:
        await pilot.pause()
        line = "".join(segment.text for segment in app.query_one(LevelTable).render_line(1))
        assert line.startswith(" a-very-lon…  valid")


# --- activity -----------------------------------------------------------------------------


async def test_enter_on_an_activity_entry_shows_it_whole(app: MiabApp) -> None:
    with pytest.raises(MiabError) as refused:
        app.box.mail.aliases.add_alias(
            "abuse@example.net", "someone@elsewhere.example", actor=TEST_ACTOR
        )
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        await app.switch_mode("activity")
        await settle(pilot)
        row = app.screen.table.ordered_rows[0]
        assert "…" not in row.cells[5] and len(row.cells[5]) > 60  # drawn cut short
        await pilot.press("enter")
        await pilot.pause()
        assert isinstance(app.screen, DetailsDialog)
        fields = dict(app.screen.fields)
        assert fields["Outcome"] == "refused: " + refused.value.message
        assert fields["Target"] == "abuse@example.net" and fields["Actor"] == "tester"
        await pilot.press("enter")  # closes
        await pilot.pause()
        assert not isinstance(app.screen, DetailsDialog)


# --- addresses in Unicode -----------------------------------------------------------------


async def test_user_form_takes_unicode_and_upper_case_domains(app: MiabApp) -> None:
    users = app.box.mail.users
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("a")
        await fill(pilot, "email", "hans@münchen.example")
        await fill_password(pilot, "a-good-password")
        await save(pilot)
        assert isinstance(app.screen, UsersScreen)
        toast = notifications(pilot)[-1]
        assert toast.startswith("mail user added: hans@münchen.example")
        assert "xn--" not in toast
        row = app.screen.table.get_row("hans@xn--mnchen-3ya.example")
        assert row[1] == "hans@münchen.example"
        await pilot.press("a")
        await fill(pilot, "email", "alice2@Example.COM")
        await fill_password(pilot, "a-good-password")
        await save(pilot)
        assert isinstance(app.screen, UsersScreen)
        # A refusal that names an IDNA address names it in Unicode.
        await select(pilot, "erin@xn--bcher-kva.example")
        await pilot.press("x", "y")
        await settle(pilot)
        assert notifications(pilot)[-1].startswith("mail user removed: erin@bücher.example")
    assert users.exists("hans@xn--mnchen-3ya.example")
    assert users.exists("alice2@example.com")


def test_display_text_words_core_lines_for_the_tui() -> None:
    assert (
        display_text(
            "added alias postmaster@xn--bcher-kva.example (=> administrator@box.example.com)"
        )
        == "added alias postmaster@bücher.example (=> administrator@box.example.com)"
    )
    assert display_text("That's not a user (erin@xn--bcher-kva.example).") == (
        "That's not a user (erin@bücher.example)."
    )
    assert display_text("updated DNS: DNS configuration") == (
        "updated DNS: the nameserver's list of zones (zones.conf)"
    )
    assert display_text("updated DNS: example.com,xn--bcher-kva.example") == (
        "updated DNS: example.com, bücher.example"
    )
    assert display_text("updated DNS: OpenDKIM configuration\nnsd reloaded") == (
        "updated DNS: OpenDKIM's signing tables\nnsd reloaded"
    )


async def test_secondary_nameserver_change_is_worded(app: MiabApp) -> None:
    """Only nsd's zone list changes: the reference says `DNS configuration`."""
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await app.switch_mode("dns")
        await settle(pilot)
        await pilot.press("s")
        await fill(pilot, "hostnames", "xfr:198.51.100.7")
        await save(pilot)
        await settle(pilot)
        toast = notifications(pilot)[-1]
        assert "updated DNS: the nameserver's list of zones (zones.conf)" in toast
        assert "DNS configuration" not in toast


# --- screenshots --------------------------------------------------------------------------


def svg_file(path: str) -> int:
    """The permissions of the SVG file at `path` (which must be one)."""
    assert Path(path).read_text(encoding="utf-8").startswith("<svg")
    return os.stat(path).st_mode & 0o777


async def test_screenshot_goes_to_the_current_folder_and_says_where(
    app: MiabApp, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    here = tmp_path / "here"
    here.mkdir()
    monkeypatch.chdir(here)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        saved = app.deliver_screenshot()
        await pilot.pause()
        assert saved is not None and Path(saved).parent == here
        assert svg_file(saved) == 0o600
        assert notifications(pilot)[-1] == f"Saved to {saved}"
        # The current folder gone: the box's own folder, made for it.
        shutil.rmtree(here)
        saved = app.deliver_screenshot()
        await pilot.pause()
        assert saved is not None
        assert Path(saved).parent == app.box.config.system_root / "screenshots"
        assert svg_file(saved) == 0o600


async def test_screenshot_from_the_palette(
    app: MiabApp, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("ctrl+p", *"screenshot")
        await pilot.pause(0.5)
        await pilot.press("enter")
        await pilot.pause(0.5)
        await settle(pilot)
        toast = notifications(pilot)[-1]
        assert toast.startswith(f"Saved to {tmp_path}")
        assert svg_file(toast.removeprefix("Saved to ")) == 0o600


# --- mailbox sizes and purging ------------------------------------------------------------


async def test_sizes_show_for_every_mailbox(app: MiabApp) -> None:
    mailboxes = app.box.config.mailboxes_dir
    (mailboxes / "example.com" / "alice" / "cur").mkdir(parents=True)
    (mailboxes / "example.com" / "alice" / "cur" / "1").write_bytes(b"x" * 2048)
    (mailboxes / "example.org" / "carol").mkdir(parents=True)
    (mailboxes / "example.org" / "carol" / "maildirsize").write_text("0S\n1048576 3\n")
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        sizes = {row.key: row.cells[5] for row in app.screen.table.ordered_rows}
        assert sizes["alice@example.com"] == "2.0K"  # the folder's size
        assert sizes["carol@example.org"] == "1.0M"  # dovecot's maildirsize
        assert sizes["frank@example.com"] == "0"  # archived, empty
        assert sizes["bob@example.com"] == "—"  # no mailbox yet
        # Mail arrives: the next read of the box shows it.
        (mailboxes / "example.com" / "alice" / "new").mkdir()
        (mailboxes / "example.com" / "alice" / "new" / "2").write_bytes(b"x" * 2048)
        await pilot.press("ctrl+r")
        await settle(pilot)
        assert app.screen.table.get_row("alice@example.com")[5] == "4.0K"


async def test_purge_an_archived_mailbox_after_a_confirmation_naming_its_size(
    app: MiabApp,
) -> None:
    frank = app.box.config.mailboxes_dir / "example.com" / "frank"
    (frank / "cur").mkdir()
    (frank / "cur" / "1").write_bytes(b"x" * 12_800)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await select(pilot, "frank@example.com")
        await pilot.press("x")
        await settle(pilot)
        assert isinstance(app.screen, ConfirmDialog)
        assert "Its mail (12.5K) is deleted from disk for good" in dialog_text(pilot)
        assert str(app.screen.query_one("#confirm-yes", Button).label) == "Purge 12.5K"
        await pilot.press("n")
        await settle(pilot)
        assert frank.is_dir()
        await pilot.press("x")
        await settle(pilot)
        await pilot.press("y")
        await settle(pilot)
        assert "frank@example.com" not in table_keys(pilot)
        assert notifications(pilot)[-1] == "archived mailbox purged: frank@example.com"
    assert not frank.exists()
    record = app.box.audit.recent(1)[0]
    assert (record.actor, record.face, record.operation, record.target) == (
        TUI_ACTOR.name,
        "tui",
        "purge mailbox",
        "frank@example.com",
    )


# --- the master API key -------------------------------------------------------------------


async def test_show_copy_and_rotate_the_master_api_key(app: MiabApp) -> None:
    auth = app.box.auth
    old = auth.master_key()
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("ctrl+k")
        await pilot.pause()
        dialog = app.screen
        assert isinstance(dialog, ApiKeyDialog)
        assert dialog.key == old
        await pilot.press("c")
        assert app.clipboard == old
        await pilot.press("r")
        assert isinstance(app.screen, ConfirmDialog)
        await pilot.press("n")
        await settle(pilot)
        assert auth.master_key() == old
        await pilot.press("r", "y")
        await settle(pilot)
        assert app.screen is dialog
        new = auth.master_key()
        assert new != old and dialog.key == new
        assert notifications(pilot)[-1] == "master API key rotated"
    record = app.box.audit.recent(1)[0]
    assert (record.actor, record.operation) == (TUI_ACTOR.name, "rotate master key")


async def test_the_api_key_is_in_the_palette(app: MiabApp) -> None:
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("ctrl+p", *"master api")
        await pilot.pause(0.5)
        await pilot.press("enter")
        await pilot.pause(0.3)
        assert isinstance(app.screen, ApiKeyDialog)


# --- wording ------------------------------------------------------------------------------


def test_plural() -> None:
    assert [plural(n, "user") for n in (0, 1, 2, 1000)] == [
        "0 users",
        "1 user",
        "2 users",
        "1,000 users",
    ]
    assert plural(1, "alias", "aliases") == "1 alias"
    assert plural(3, "alias", "aliases") == "3 aliases"


async def test_summaries_say_1_user_and_1_domain(box) -> None:  # noqa: ANN001 - a Box
    box.mail.users.add_user("me@example.com", "a-good-password", "admin", actor=TEST_ACTOR)
    app = MiabApp(box, cursor_blink=False, area="users")
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        assert app.screen.browser.summary == "1 user, 0 archived, 1 domain"


async def test_long_dialog_titles_wrap_whole(app: MiabApp) -> None:
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        app.push_screen(
            ConfirmDialog(
                "Disable #12 totp the phone in the second drawer of the desk of "
                "someone-with-a-long-name@bücher.example?",
                "Body.",
            )
        )
        await pilot.pause()
        title = app.screen.query_one(".dialog-title", Label)
        assert title.region.height == 2
        assert "bücher.example?" in str(title.render())


async def test_forms_scroll_rather_than_hide_their_buttons(app: MiabApp) -> None:
    async with app.run_test(size=(80, 16)) as pilot:
        await settle(pilot)
        await pilot.press("a")
        await pilot.pause()
        form = app.screen
        assert isinstance(form, FormModal)
        for button in form.query(Button):
            assert visible(pilot, button)
        quota = form.query_one("#quota", Input)
        quota.focus()
        await pilot.pause()
        assert visible(pilot, quota)  # scrolled into sight
