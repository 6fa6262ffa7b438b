"""AreaScreen: what every area shares: header, navigation, a RecordBrowser (filter, summary
and table), footer; loading through the worker edge (`miab_tui.workers`), and reloading
when the box changes under it. DetailsAreaScreen: an area with the selected row's details
in a panel under its table."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, ClassVar

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.screen import Screen
from textual.widgets import Footer, Header, Label

from core.audit import login_actor
from core.results import Change
from miab_tui.messages import ChangeMade, ChangeRefused, RecordsLoaded
from miab_tui.widgets.nav_bar import NavBar
from miab_tui.widgets.note_view import Note, NoteView
from miab_tui.widgets.record_browser import RecordBrowser
from miab_tui.widgets.record_table import Column, RecordTable, row_lengths, widths_of
from miab_tui.workers import core_worker, guarded

if TYPE_CHECKING:
    from textual.content import Content

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
    BROWSER: ClassVar[type[RecordBrowser]] = RecordBrowser
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
        return self.BROWSER(
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


class DetailsAreaScreen(AreaScreen):
    """An area with a panel under its table: a head line (a title, a hint at the right)
    above a NoteView with the selected row's details, drawn again when the cursor moves or
    the rows change. Enter moves into the details (to select and copy), escape back.

    The panel's ids are the area's: `{AREA}-details-panel`, `-details-head`,
    `-details-title` and `{AREA}-details` (the NoteView); the hint's is `HINT_ID`."""

    DETAILS_TITLE: ClassVar[str] = ""  # the title before a row is shown
    HINT_ID: ClassVar[str] = ""
    LOADING_TEXT: ClassVar[str] = ""  # the table's text until the first read is shown

    DEFAULT_CSS = """
    DetailsAreaScreen .details-panel {
        height: 40%;
        min-height: 8;
        border-top: solid $primary 50%;
        background: $surface;
    }
    DetailsAreaScreen .details-head { height: 1; padding: 0 1; }
    DetailsAreaScreen .details-title { width: 1fr; text-style: bold; color: $text-primary; }
    DetailsAreaScreen .details-hint { width: auto; color: $text-muted; }
    DetailsAreaScreen .details-view { height: 1fr; }
    DetailsAreaScreen.-tiny .details-panel { min-height: 4; }
    """

    def __init__(self) -> None:
        super().__init__()
        self._shown: tuple[str | None, Note] | None = None

    @property
    def details_view(self) -> NoteView:
        return self.query_one(f"#{self.AREA}-details", NoteView)

    def compose(self) -> ComposeResult:
        for widget in super().compose():
            if isinstance(widget, Footer):
                yield from self.compose_details()
            yield widget

    def compose_details(self) -> ComposeResult:
        area = self.AREA
        with Vertical(id=f"{area}-details-panel", classes="details-panel"):
            with Horizontal(id=f"{area}-details-head", classes="details-head"):
                yield Label(self.DETAILS_TITLE, id=f"{area}-details-title", classes="details-title")
                yield Label("", id=self.HINT_ID, classes="details-hint")
            yield NoteView(id=f"{area}-details", classes="details-view")

    def on_mount(self) -> None:
        # Textual runs AreaScreen.on_mount too (handlers run for each class in the MRO).
        self.watch(self.table, "cursor_row", self.show_details, init=False)
        if not self._loaded_once:
            # (Not `loading`: that would take the focus off the table, into the filter.)
            self.table.empty_text = self.LOADING_TEXT

    def on_change_refused(self, message: ChangeRefused) -> None:
        # AreaScreen's handler notifies (Textual runs both).
        self.change_refused()

    def change_refused(self) -> None:
        """A read or a change was refused: the table must not go on saying it is reading."""
        self.table.empty_text = self.EMPTY_TEXT
        self.table.refresh()

    # --- the details ------------------------------------------------------------------

    def records_shown(self) -> None:
        self.show_details()

    def show_hint(self, text: str | Content) -> None:
        self.query_one(f"#{self.HINT_ID}", Label).update(text)

    def details_of(self, key: str | None) -> tuple[str | Content, Note] | None:
        """The title and the details of the row `key` (None: no row selected); None while
        there is nothing to show (the box is not read yet)."""
        raise NotImplementedError

    def show_details(self, _row: int | None = None) -> None:
        """The selected row in the panel; scrolled to its top when the row is another."""
        key = self.table.cursor_key
        details = self.details_of(key)
        if details is None:
            return
        title, note = details
        self.query_one(f"#{self.AREA}-details-title", Label).update(title)
        previous = self._shown[0] if self._shown is not None else None
        if self._shown != (key, note):
            self._shown = (key, note)
            self.details_view.show_note(note)
            if key != previous:
                self.details_view.scroll_home(animate=False)

    @on(RecordBrowser.Selected)
    def details_chosen(self) -> None:
        # Enter moves into the details, where text can be selected and copied.
        self.details_view.focus()

    def key_escape(self) -> None:
        if self.focused is self.details_view:
            self.table.focus()
        else:
            super().key_escape()
