"""AreaScreen: what every area shares: header, navigation, a RecordBrowser (filter, summary
and table), footer; loading through the worker edge (`miab_tui.workers`), and reloading
when the box changes under it."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, ClassVar

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.screen import Screen
from textual.widgets import Footer, Header

from core.audit import login_actor
from core.results import Change
from miab_tui.messages import ChangeMade, ChangeRefused, RecordsLoaded
from miab_tui.widgets.nav_bar import NavBar
from miab_tui.widgets.record_browser import RecordBrowser
from miab_tui.widgets.record_table import Column, RecordTable, row_lengths, widths_of
from miab_tui.workers import core_worker, guarded

if TYPE_CHECKING:
    from core.box import Box
    from miab_tui.app import MiabApp

# Everything the TUI changes is recorded in the audit log as root on the console's TUI.
# Whoever runs the TUI (the sudo login, else the user), as the command line records it.
TUI_ACTOR = login_actor("tui")


def summarise(result: Change | str | None, fallback: str) -> str:
    """The notification text for a change: core's lines, or `fallback` when it says none.
    A `fallback` that says core's first line and more (`mail user removed: ADDRESS` for
    `mail user removed`) takes that line's place."""
    if isinstance(result, Change) and result.lines:
        lines = list(result.lines)
        if fallback.startswith(lines[0] + ":"):
            lines[0] = fallback
        return "\n".join(lines)
    if isinstance(result, str) and result:
        return result
    return fallback


class AreaScreen(Screen[None]):
    """An area of the box: a RecordBrowser filled by a thread worker."""

    AREA: ClassVar[str] = ""
    COLUMNS: ClassVar[tuple[Column, ...]] = ()
    FILTER_PLACEHOLDER: ClassVar[str] = "Filter"
    EMPTY_TEXT: ClassVar[str] = "Nothing here."

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("slash", "focus_filter", "Filter", tooltip="Filter the table as you type"),
        Binding("ctrl+r", "reload", "Reload", tooltip="Read the box again"),
    ]

    def __init__(self) -> None:
        super().__init__(id=f"{self.AREA}-screen")
        self.context: object = None
        self._loaded_once = False

    @property
    def box(self) -> Box:
        return self.miab_app.box

    @property
    def miab_app(self) -> MiabApp:
        return self.app  # type: ignore[return-value]

    @property
    def browser(self) -> RecordBrowser:
        return self.query_one(RecordBrowser)

    @property
    def table(self) -> RecordTable:
        return self.browser.table

    def make_browser(self) -> RecordBrowser:
        return RecordBrowser(
            self.COLUMNS,
            placeholder=self.FILTER_PLACEHOLDER,
            empty_text=self.EMPTY_TEXT,
            table_id=f"{self.AREA}-table",
            id=f"{self.AREA}-browser",
        )

    def compose(self) -> ComposeResult:
        yield Header(icon="✉")
        yield NavBar(self.AREA)
        yield self.make_browser()
        yield Footer()

    def on_mount(self) -> None:
        self.table.focus()

    def on_screen_resume(self) -> None:
        # Other areas change the box: read it again on every visit.
        self.load()

    def box_changed(self) -> None:
        """Another face (or process) changed the box: read it again, keeping the cursor
        (by key) and the filter. The app calls this while the screen is shown."""
        self.load()

    # --- loading ----------------------------------------------------------------------

    def read_records(self) -> RecordsLoaded:
        """Runs in a worker thread: read the box and return the loaded message."""
        raise NotImplementedError

    @core_worker(doing="Reading the box", group="load")
    def load(self) -> None:
        message = self.read_records()
        message.lengths = row_lengths(self.COLUMNS, message.rows)
        message.widths = widths_of(self.COLUMNS, message.lengths)
        self.post_message(message)

    def action_reload(self) -> None:
        self.load()

    @on(RecordsLoaded)
    def show_records(self, message: RecordsLoaded) -> None:
        message.stop()
        self.context = message.context
        self.browser.set_records(
            message.rows, message.search, message.summary, message.widths, message.lengths
        )
        self._loaded_once = True
        self.records_shown()

    # --- filtering --------------------------------------------------------------------

    @on(RecordBrowser.FilterChanged)
    def filter_changed(self) -> None:
        self.records_shown()

    def records_shown(self) -> None:
        """The table's rows changed (loaded or filtered): screens update what hangs off it."""

    def action_focus_filter(self) -> None:
        self.browser.focus_filter()

    def key_escape(self) -> None:
        # Escape in the filter hands the keys back to the table (where a, p, x... work).
        if self.browser.filter_has_focus:
            self.browser.focus_table()

    # --- changes ----------------------------------------------------------------------

    @core_worker(doing="The change", group="change")
    def run_change(
        self, operation: Callable[[], Change | str | None], done: str, target: str = "Done"
    ) -> None:
        """Call core off the UI thread; report the result (a refusal or failure is the
        worker edge's to report)."""
        self.post_message(ChangeMade(summarise(operation(), done), target))

    def perform_change(
        self, operation: Callable[[], Change | str | None], done: str, target: str
    ) -> None:
        """On a worker thread of the screen's own: the change, reported as `run_change`
        reports it."""
        ok, result = guarded(self, "The change", operation)
        if ok:
            self.post_message(ChangeMade(summarise(result, done), target))

    def on_change_made(self, message: ChangeMade) -> None:
        self.notify(message.summary, title=message.title)
        self.load()

    def on_change_refused(self, message: ChangeRefused) -> None:
        self.notify(message.message, title=message.title, severity="error")

    def report_result(self, result: Change | str | None) -> None:
        """Callback for a form that made the change itself and was dismissed with it."""
        if result is not None:
            self.post_message(ChangeMade(summarise(result, "Done.")))

    def selected_key(self) -> str | None:
        key = self.table.cursor_key
        if key is None:
            self.notify("Nothing is selected.", severity="warning")
        return key
