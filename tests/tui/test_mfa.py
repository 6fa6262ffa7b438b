"""MFA screen flows, checked against the box through core afterwards; and the enrolment
dialog's QR code, which must fit an 80x24 terminal and scan back to the exact URI."""

from __future__ import annotations

import pyotp
from textual.geometry import Region
from textual.pilot import Pilot
from textual.widgets import Input, Static

from core import Box
from core.mfa import MfaMethod, totp
from core.mfa.qr import QUIET_ZONE
from miab_tui.app import MiabApp
from miab_tui.modals.confirm import ConfirmDialog
from miab_tui.modals.mfa_enable import TIGHT_QUIET_ZONE, MfaEnableForm, grouped_secret
from miab_tui.screens.base import TUI_ACTOR
from miab_tui.screens.mfa import MfaScreen
from miab_tui.widgets.qr_code import QrCode
from tests.conftest import FIXED_TIME, TEST_ACTOR
from tests.tui.conftest import SIZE, settle
from tests.tui.helpers import field_error, fill, save, select, table_keys
from tests.tui.test_qr_decode import bitmap, decode

ME = "me@example.com"
ALICE = "alice@example.com"
HOSTNAME = "box.example.com"
SECRET = "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXQ"


def code(secret: str, offset: int = 0) -> str:
    return pyotp.TOTP(secret).at(FIXED_TIME + 30 * offset)


def enrol(box: Box, email: str, label: str | None, offset: int = 0) -> MfaMethod:
    """An enabled method made through core (each needs a code not used yet)."""
    return box.mfa.enable_totp(email, SECRET, code(SECRET, offset), label, actor=TEST_ACTOR)


def notifications(pilot: Pilot) -> list[str]:
    return [n.message for n in pilot.app._notifications]


async def open_mfa(pilot: Pilot) -> MfaScreen:
    await settle(pilot)
    await pilot.press("5")
    await settle(pilot)
    screen = pilot.app.screen
    assert isinstance(screen, MfaScreen)
    return screen


async def open_enable_form(pilot: Pilot, email: str) -> MfaEnableForm:
    await open_mfa(pilot)
    await select(pilot, email)
    await pilot.press("e")
    await settle(pilot)
    form = pilot.app.screen
    assert isinstance(form, MfaEnableForm)
    return form


def shown_secret(form: MfaEnableForm) -> str:
    """The secret as the admin reads it off the dialog (groups of four, two lines)."""
    text = str(form.query_one("#mfa-secret", Static).render())
    return "".join(text.split())


# --- the list --------------------------------------------------------------------------


async def test_lists_admins_first_with_their_mfa_status(app: MiabApp) -> None:
    enrol(app.box, "bob@example.com", "phone")
    enrol(app.box, "bob@example.com", None, offset=1)
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_mfa(pilot)
        assert table_keys(pilot) == [
            ME,
            ALICE,
            "bob@example.com",
            "carol@example.org",
            "dave@example.org",
            "erin@xn--bcher-kva.example",
        ], "admins first, no archived mailboxes"
        rows = {row.key: row.cells for row in screen.table.ordered_rows}
        assert rows[ME][1] == "admin" and rows[ME][2] == ""
        assert rows["bob@example.com"][2:] == ("2", "phone, #2")
        assert "6 users, 1 with MFA" in screen.browser.summary


async def test_choosing_a_user_shows_their_methods(app: MiabApp) -> None:
    first = enrol(app.box, "bob@example.com", "phone")
    second = enrol(app.box, "bob@example.com", "laptop", offset=1)
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_mfa(pilot)
        await select(pilot, "bob@example.com")
        methods = screen.methods_table
        assert [row.cells for row in methods.ordered_rows] == [
            (f"#{first.id}", "totp", "phone"),
            (f"#{second.id}", "totp", "laptop"),
        ]
        assert "Methods of bob@example.com" in str(screen.query_one("#mfa-methods-title").render())
        await pilot.press("enter")
        assert app.focused is methods, "Enter moves to the user's methods"
        await pilot.press("escape")
        assert app.focused is screen.table
        await select(pilot, ALICE)
        assert methods.row_count == 0
        assert "alice@example.com has no MFA method" in str(
            screen.query_one("#mfa-methods-title").render()
        )


async def test_palette_offers_the_mfa_area_and_actions(app: MiabApp) -> None:
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_mfa(pilot)
        titles = {command.title for command in app.get_system_commands(screen)}
        assert {"Go to MFA", "Enable TOTP", "Disable", "Disable all", "Filter", "Reload"} <= titles


# --- enabling --------------------------------------------------------------------------


async def test_wrong_code_is_refused_beside_the_field(app: MiabApp) -> None:
    async with app.run_test(size=SIZE) as pilot:
        form = await open_enable_form(pilot, ALICE)
        assert app.focused is form.query_one("#token", Input)
        wrong = "000000" if code(form.secret) != "000000" else "111111"
        await fill(pilot, "label", "phone")
        await fill(pilot, "token", wrong)
        await save(pilot)
        assert isinstance(app.screen, MfaEnableForm), "the dialog stays open"
        assert field_error(pilot, "token") == "Invalid token."
        assert field_error(pilot, "label") == ""
        assert app.screen.query_one("#label", Input).value == "phone"
        await fill(pilot, "token", "12345")
        await save(pilot)
        assert field_error(pilot, "token") == "Invalid token."
        await pilot.press("escape")
        await settle(pilot)
        assert isinstance(app.screen, MfaScreen)
    assert app.box.mfa.list_methods(ALICE) == ()


async def test_code_from_the_shown_secret_enables_totp(app: MiabApp) -> None:
    async with app.run_test(size=SIZE) as pilot:
        form = await open_enable_form(pilot, ALICE)
        secret = shown_secret(form)
        assert secret == form.secret and len(secret) == 32
        await fill(pilot, "label", "phone")
        await fill(pilot, "token", code(secret))
        await save(pilot)
        assert isinstance(app.screen, MfaScreen)
        rows = {row.key: row.cells for row in app.screen.table.ordered_rows}
        assert rows[ALICE][2:] == ("1", "phone")
        assert app.screen.table.cursor_key == ALICE, "the cursor stays on the user"
        methods = app.box.mfa.list_methods(ALICE)
        assert [(m.type, m.label) for m in methods] == [("totp", "phone")]
        assert f"TOTP enabled: {ALICE} #{methods[0].id} phone" in notifications(pilot)
    latest = app.box.audit.recent(1)[0]
    assert (latest.actor, latest.face, latest.operation, latest.target, latest.outcome) == (
        TUI_ACTOR.name,
        "tui",
        "enable MFA",
        ALICE,
        "ok",
    )
    # The enabled secret is the one shown: the next code of the same app verifies.
    assert totp.verify_token(secret, code(secret, 1), FIXED_TIME + 30) is not None


async def test_blank_label_is_stored_as_none(app: MiabApp) -> None:
    async with app.run_test(size=SIZE) as pilot:
        form = await open_enable_form(pilot, ME)
        await fill(pilot, "token", code(form.secret))
        await pilot.press("enter")  # Enter in the code field submits
        await settle(pilot)
        assert isinstance(app.screen, MfaScreen)
    assert [m.label for m in app.box.mfa.list_methods(ME)] == [None]


async def test_enable_for_a_user_removed_meanwhile_is_refused(app: MiabApp) -> None:
    async with app.run_test(size=SIZE) as pilot:
        form = await open_enable_form(pilot, "dave@example.org")
        app.box.mail.users.remove_user("dave@example.org", actor=TEST_ACTOR)
        await fill(pilot, "token", code(form.secret))
        await save(pilot)
        assert isinstance(app.screen, MfaEnableForm)
        assert "User does not exist." in notifications(pilot)


# --- the dialog on an 80x24 terminal ----------------------------------------------------


def screen_text(pilot: Pilot, region: Region) -> tuple[list[str], list]:
    """What the terminal shows in `region`: one string per row, and the segments."""
    strips = pilot.app.screen._compositor.render_strips()
    rows = [strip.crop(region.x, region.right) for strip in strips[region.y : region.bottom]]
    return ["".join(s.text for s in row) for row in rows], [list(row) for row in rows]


async def test_enable_dialog_fits_80x24_and_its_qr_scans(app: MiabApp) -> None:
    async with app.run_test(size=(80, 24)) as pilot:
        form = await open_enable_form(pilot, ME)
        terminal = Region(0, 0, 80, 24)
        for widget in form.query("*"):
            if widget.display and widget.region.area:
                assert terminal.contains_region(widget.region), widget
        dialog = form.query_one("#mfa-enable-dialog")
        footer = form.query_one("Footer")
        assert dialog.region.bottom <= footer.region.y
        for widget_id in ("#token", "#label", "#form-save", "#form-cancel", "#mfa-secret"):
            assert dialog.region.contains_region(form.query_one(widget_id).region), widget_id

        qr = form.query_one("#mfa-qr", QrCode)
        assert form.quiet_zone == TIGHT_QUIET_ZONE
        expected = totp.terminal_uri(form.secret, ME, HOSTNAME)
        assert (
            qr.data
            == expected
            == (
                f"otpauth://totp/{HOSTNAME}:me%40example.com?secret={form.secret}&issuer={HOSTNAME}"
            )
        )
        assert decode(bitmap(qr.text_lines())) == [expected]

        # And from the screen itself, where the dialog's border and the dimmed screen behind
        # surround it: the characters and colours the terminal is sent.
        lines, segments = screen_text(pilot, qr.region)
        assert lines == qr.text_lines()
        assert all(line[:TIGHT_QUIET_ZONE] == " " * TIGHT_QUIET_ZONE for line in lines)
        assert lines[0].strip() == ""
        for row in segments:
            for segment in row:
                assert segment.style.color.get_truecolor() == (0, 0, 0)
                assert segment.style.bgcolor.get_truecolor() == (255, 255, 255)
        assert decode(bitmap(lines)) == [expected]

        # The secret typed by hand from the same dialog works as well as the scan.
        assert "".join(str(form.query_one("#mfa-secret", Static).render()).split()) == (form.secret)
        await fill(pilot, "token", code(form.secret))
        await save(pilot)
        assert isinstance(app.screen, MfaScreen)
    assert len(app.box.mfa.list_methods(ME)) == 1


async def test_quiet_zone_grows_and_shrinks_with_the_terminal(app: MiabApp) -> None:
    async with app.run_test(size=SIZE) as pilot:
        form = await open_enable_form(pilot, ME)
        assert form.quiet_zone == QUIET_ZONE
        lines = form.query_one("#mfa-qr", QrCode).text_lines()
        assert all(line[:4] == line[-4:] == "    " for line in lines)
        await fill(pilot, "label", "phone")
        await pilot.resize_terminal(80, 24)
        await settle(pilot)
        assert form.quiet_zone == TIGHT_QUIET_ZONE
        qr = form.query_one("#mfa-qr", QrCode)
        assert Region(0, 0, 80, 24).contains_region(form.query_one("#mfa-enable-dialog").region)
        assert decode(bitmap(qr.text_lines())) == [form.uri]
        assert form.query_one("#label", Input).value == "phone", "what was typed stays"
        await pilot.resize_terminal(*SIZE)
        await settle(pilot)
        assert form.quiet_zone == QUIET_ZONE


def test_secret_is_grouped_in_fours() -> None:
    assert grouped_secret(SECRET) == "JBSW Y3DP EHPK 3PXP\nJBSW Y3DP EHPK 3PXQ"


def test_terminal_uri_differs_from_the_api_uri_only_in_the_issuer(demo_box: Box) -> None:
    provisioning = demo_box.mfa.provision_totp(ME)
    short = totp.terminal_uri(provisioning.secret, ME, HOSTNAME)
    assert provisioning.uri == (
        "otpauth://totp/box.example.com%20Mail-in-a-Box%20Control%20Panel:me%40example.com"
        f"?secret={provisioning.secret}"
        "&issuer=box.example.com%20Mail-in-a-Box%20Control%20Panel"
    )
    assert short == provisioning.uri.replace("%20Mail-in-a-Box%20Control%20Panel", "")
    parsed_short, parsed_long = pyotp.parse_uri(short), pyotp.parse_uri(provisioning.uri)
    assert parsed_short.secret == parsed_long.secret and parsed_short.name == ME
    assert parsed_short.now() == parsed_long.now()


def test_methods_by_user(demo_box: Box) -> None:
    first = enrol(demo_box, ME, "phone")
    second = enrol(demo_box, "bob@example.com", None, offset=1)
    third = enrol(demo_box, ME, "laptop", offset=-1)
    assert demo_box.mfa.methods_by_user() == {ME: (first, third), "bob@example.com": (second,)}


# --- disabling -------------------------------------------------------------------------


async def test_disable_one_method_after_confirming(app: MiabApp) -> None:
    first = enrol(app.box, ME, "phone")
    second = enrol(app.box, ME, "laptop", offset=1)
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_mfa(pilot)
        await select(pilot, ME)
        await pilot.press("enter", "down", "x")
        await pilot.pause()
        assert isinstance(app.screen, ConfirmDialog)
        assert str(app.screen.query_one(".dialog-title").render()) == (
            f"Disable #{second.id} totp laptop of {ME}?"
        )
        await pilot.press("y")
        await settle(pilot)
        assert app.screen is screen
        assert [row.cells[2] for row in screen.methods_table.ordered_rows] == ["phone"]
        assert f"MFA disabled: {ME} #{second.id} totp laptop" in notifications(pilot)
    assert app.box.mfa.list_methods(ME) == (first,)
    latest = app.box.audit.recent(1)[0]
    assert (latest.actor, latest.face, latest.operation, latest.target) == (
        TUI_ACTOR.name,
        "tui",
        "disable MFA",
        f"{ME} #{second.id}",
    )


async def test_disable_all_after_confirming(app: MiabApp) -> None:
    first = enrol(app.box, ME, "phone")
    second = enrol(app.box, ME, None, offset=1)
    kept = enrol(app.box, "bob@example.com", "phone", offset=-1)
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_mfa(pilot)
        await select(pilot, ME)
        await pilot.press("X")
        await pilot.pause()
        assert isinstance(app.screen, ConfirmDialog)
        assert str(app.screen.query_one(".dialog-title").render()) == (
            f"Disable all 2 MFA methods of {ME}?"
        )
        await pilot.press("y")
        await settle(pilot)
        assert screen.methods_table.row_count == 0
        assert (
            f"MFA disabled: {ME} #{first.id} totp phone, #{second.id} totp\n"
            f"{ME} can now log in with the password alone."
        ) in notifications(pilot)
    assert app.box.mfa.list_methods(ME) == ()
    assert app.box.mfa.list_methods("bob@example.com") == (kept,)


async def test_cancelled_confirmation_changes_nothing(app: MiabApp) -> None:
    methods = (enrol(app.box, ME, "phone"), enrol(app.box, ME, "laptop", offset=1))
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_mfa(pilot)
        await select(pilot, ME)
        for keys in (("x", "n"), ("X", "escape"), ("x", "enter")):  # Enter is on Cancel
            await pilot.press(keys[0])
            await pilot.pause()
            assert isinstance(app.screen, ConfirmDialog)
            await pilot.press(keys[1])
            await settle(pilot)
            assert app.screen is screen
        assert screen.methods_table.row_count == 2
    assert app.box.mfa.list_methods(ME) == methods
    assert all(record.operation != "disable MFA" for record in app.box.audit.recent())


async def test_disable_without_methods_only_warns(app: MiabApp) -> None:
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_mfa(pilot)
        await select(pilot, ALICE)
        for key in ("x", "X"):
            await pilot.press(key)
            await pilot.pause()
            assert app.screen is screen, "no confirmation for nothing"
        assert f"{ALICE} has no MFA method to disable." in notifications(pilot)
