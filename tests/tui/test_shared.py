"""The TUI's shared parts: the RecordBrowser, the worker edge and its log, the DNS preview
worked out only when needed, and screens that follow changes made by another face."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

from textual.app import App, ComposeResult

from core import open_box
from core.box import Box
from miab_tui.app import MiabApp
from miab_tui.screens.dns import DnsScreen
from miab_tui.screens.users import UsersScreen
from miab_tui.widgets.record_browser import RecordBrowser
from miab_tui.widgets.record_table import Column, Row
from tests.conftest import TEST_ACTOR
from tests.tui.conftest import SIZE, settle
from tests.tui.helpers import select, table_keys

ROWS = [
    Row("a@x.com", ("a@x.com", "admin")),
    Row("b@x.com", ("b@x.com", "")),
    Row("c@y.org", ("c@y.org", "")),
]


class BrowserApp(App[None]):
    def __init__(self) -> None:
        super().__init__()
        self.messages: list[RecordBrowser.Selected | RecordBrowser.FilterChanged] = []

    def compose(self) -> ComposeResult:
        yield RecordBrowser(
            (Column("Email"), Column("Admin", width=5)),
            placeholder="Filter",
            empty_text="None.",
            id="browser",
        )

    def on_mount(self) -> None:
        browser = self.query_one(RecordBrowser)
        browser.set_records(ROWS, [" ".join(r.cells).lower() for r in ROWS], "3 users")
        browser.focus_table()

    def on_record_browser_selected(self, message: RecordBrowser.Selected) -> None:
        self.messages.append(message)

    def on_record_browser_filter_changed(self, message: RecordBrowser.FilterChanged) -> None:
        self.messages.append(message)


async def test_record_browser_filters_and_reports_selection() -> None:
    app = BrowserApp()
    async with app.run_test(size=(80, 12)) as pilot:
        await pilot.pause()
        browser = app.query_one(RecordBrowser)
        assert [row.key for row in browser.table.ordered_rows] == ["a@x.com", "b@x.com", "c@y.org"]
        assert browser.summary == "3 users"
        # Typed into its filter box...
        browser.focus_filter()
        await pilot.press(*"x.com")
        await pilot.pause()
        assert browser.filter_text == "x.com"
        assert [row.key for row in browser.table.ordered_rows] == ["a@x.com", "b@x.com"]
        assert browser.summary == "2 of 3 users"
        assert isinstance(app.messages[-1], RecordBrowser.FilterChanged)
        assert app.messages[-1].text == "x.com"
        # ...Enter hands the keys to the table, Enter there selects the row.
        await pilot.press("enter", "down", "enter")
        await pilot.pause()
        assert isinstance(app.messages[-1], RecordBrowser.Selected)
        assert app.messages[-1].key == "b@x.com"
        # Set from code: the box shows it and the cursor stays on its record.
        browser.filter_text = "b@"
        await pilot.pause()
        assert browser.filter_input.value == "b@"
        assert browser.cursor_key == "b@x.com"
        # New records keep the filter and the cursor (by key).
        rows = [Row("0@x.com", ("0@x.com", "")), *ROWS]
        browser.set_records(rows, [" ".join(r.cells).lower() for r in rows], "4 users")
        await pilot.pause()
        assert browser.cursor_key == "b@x.com"
        assert browser.summary == "1 of 4 users"


async def test_keys_that_arrive_together_filter_once_and_settle() -> None:
    """Keys that reach the app in one burst (a paste, key repeat, a laggy SSH link) leave
    their Changed events queued behind each other: the stale ones must not write an older
    text back into the box (which once set off an endless back-and-forth at 100 % CPU)."""
    app = BrowserApp()
    async with app.run_test(size=(80, 12)) as pilot:
        await pilot.pause()
        browser = app.query_one(RecordBrowser)
        browser.focus_filter()
        for text in ("x", "x.", "x.c", "y"):  # no pause between: the events queue up
            browser.filter_input.value = text
        for _ in range(5):
            await pilot.pause()
        assert browser.filter_input.value == "y" and browser.filter_text == "y"
        assert [row.key for row in browser.table.ordered_rows] == ["c@y.org"]
        seen = len(app.messages)
        for _ in range(5):
            await pilot.pause()
        assert len(app.messages) == seen, "the box and the filter still set each other"
        assert browser.filter_input.value == "y"


async def test_unexpected_failure_is_logged_with_its_traceback(app: MiabApp) -> None:
    def broken(*args: object, **kwargs: object) -> object:
        raise RuntimeError("the database melted")

    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        app.box.mail.users.list_users = broken  # type: ignore[method-assign]
        await pilot.press("ctrl+r")
        await settle(pilot)
        assert app.log_path is not None
        log = app.log_path.read_text()
        assert "Reading the box failed" in log
        assert "Traceback (most recent call last)" in log
        assert "RuntimeError: the database melted" in log
        assert "in broken" in log  # the frame that raised
        toast = [n for n in app._notifications if n.title == "Failed"]
        assert len(toast) == 1
        assert toast[0].message == (
            f"Reading the box failed: RuntimeError. Details in {app.log_path}."
        )
        assert (app.log_path.stat().st_mode & 0o777) == 0o600


async def test_core_refusal_is_shown_in_cores_words(app: MiabApp) -> None:
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        assert isinstance(app.screen, UsersScreen)
        app.screen.run_change(
            lambda: app.box.mail.users.remove_user("nobody@example.com", actor=TEST_ACTOR),
            "removed",
        )
        await settle(pilot)
        refused = [n for n in app._notifications if n.title == "Refused"]
        assert len(refused) == 1 and "nobody@example.com" in refused[0].message
        assert (
            app.log_path is None
            or not app.log_path.exists()
            or "Traceback" not in app.log_path.read_text()
        )


def count_calls(box: Box) -> list[int]:
    calls = [0]
    preview: Callable[..., object] = box.dns.preview

    def counted(*args: object, **kwargs: object) -> object:
        calls[0] += 1
        return preview(*args, **kwargs)

    box.dns.preview = counted  # type: ignore[method-assign]
    return calls


async def test_dns_preview_not_worked_out_on_zone_cursor_moves(app: MiabApp) -> None:
    calls = count_calls(app.box)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("6")
        await settle(pilot)
        dns_screen = app.screen
        assert isinstance(dns_screen, DnsScreen)
        entered = calls[0]
        assert entered == 1, "worked out once on entering the screen (for the status line)"
        zones = dns_screen.zones_table
        assert zones.row_count >= 3
        for _ in range(zones.row_count - 1):
            await pilot.press("down")
            await settle(pilot)
        await pilot.press("up")
        await settle(pilot)
        assert zones.cursor_key == zones.ordered_rows[-2].key
        assert dns_screen.view is not None and dns_screen.view.zone == zones.cursor_key
        assert calls[0] == entered, "no preview while the zone cursor moves"
        # Showing the Update tab works it out.
        await pilot.press("p")
        await settle(pilot)
        assert calls[0] == entered + 1


async def wait_for(pilot: object, condition: Callable[[], bool], seconds: float) -> float:
    start = time.monotonic()
    while not condition():
        if time.monotonic() - start > seconds:
            raise AssertionError(f"not within {seconds} s")
        await asyncio.sleep(0.05)
    return time.monotonic() - start


async def test_users_screen_follows_another_face(app: MiabApp) -> None:
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("slash", *"example.com", "enter")
        await pilot.pause()
        await select(pilot, "bob@example.com")
        before = table_keys(pilot)
        assert "zoe@example.com" not in before and "bob@example.com" in before
        assert app.screen.table.cursor_row > 0
        other = open_box(app.box.config.conf_path)  # another face: its own Box, own connections
        try:
            await asyncio.to_thread(
                other.mail.users.add_user, "zoe@example.com", "a-good-password", actor=TEST_ACTOR
            )
        finally:
            other.close()
        # The watch looks every POLL_SECONDS; the margin is for a loaded machine (how soon is
        # the benchmark's to measure, not a test's).
        await wait_for(pilot, lambda: "zoe@example.com" in table_keys(pilot), 15.0)
        await pilot.pause()
        browser = app.screen.query_one(RecordBrowser)
        assert browser.filter_text == "example.com"
        assert browser.filter_input.value == "example.com"
        assert set(table_keys(pilot)) == {*before, "zoe@example.com"}
        assert browser.cursor_key == "bob@example.com"
