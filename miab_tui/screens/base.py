"""AreaScreen: what every area shares: header, navigation, a filtered table, footer, and
the worker edge where core's errors become notifications."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, ClassVar

from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal
from textual.screen import Screen
from textual.widgets import Footer, Header, Input, Label

from core.audit import Actor
from core.errors import MiabError
from core.results import Change
from miab_tui.messages import ChangeMade, ChangeRefused, RecordsLoaded
from miab_tui.widgets.nav_bar import NavBar
from miab_tui.widgets.record_table import Column, RecordTable, Row, column_widths

if TYPE_CHECKING:
    from core.box import Box
    from miab_tui.app import MiabApp

# Everything the TUI changes is recorded in the audit log as root on the console's TUI.
TUI_ACTOR = Actor("root", "tui")


def summarise(result: Change | str | None, fallback: str) -> str:
    """The notification text for a change: core's lines, or `fallback` when it says none."""
    if isinstance(result, Change) and result.lines:
        return "\n".join(result.lines)
    if isinstance(result, str) and result:
        return result
    return fallback


class AreaScreen(Screen[None]):
    """An area of the box: a filterable RecordTable filled by a thread worker."""

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
        self._all_rows: Sequence[Row] = ()
        self._search: Sequence[str] = ()
        self.context: object = None
        self._summary = ""
        self._loaded_once = False

    @property
    def box(self) -> Box:
        return self.miab_app.box

    @property
    def miab_app(self) -> MiabApp:
        return self.app  # type: ignore[return-value]

    @property
    def table(self) -> RecordTable:
        return self.query_one(RecordTable)

    def compose(self) -> ComposeResult:
        yield Header(icon="✉")
        yield NavBar(self.AREA)
        with Horizontal(id="filter-bar"):
            yield Input(placeholder=self.FILTER_PLACEHOLDER, id="filter")
            yield Label("", id="table-summary")
        yield RecordTable(self.COLUMNS, empty_text=self.EMPTY_TEXT, id=f"{self.AREA}-table")
        yield Footer()

    def on_mount(self) -> None:
        self.query_one("#filter", Input).cursor_blink = getattr(self.app, "cursor_blink", True)
        self.table.focus()

    def on_screen_resume(self) -> None:
        # Other areas (and the API server) change the box: read it again on every visit.
        self.load()

    # --- loading ----------------------------------------------------------------------

    def read_records(self) -> RecordsLoaded:
        """Runs in a worker thread: read the box and return the loaded message."""
        raise NotImplementedError

    @work(thread=True, exclusive=True, exit_on_error=False, group="load")
    def load(self) -> None:
        try:
            message = self.read_records()
            message.widths = column_widths(self.COLUMNS, message.rows)
        except MiabError as exc:
            self.post_message(ChangeRefused(exc.message))
            return
        except Exception as exc:  # noqa: BLE001 - the worker edge: never a traceback
            self.post_message(ChangeRefused(f"Could not read the box: {exc}"))
            return
        self.post_message(message)

    def action_reload(self) -> None:
        self.load()

    @on(RecordsLoaded)
    def show_records(self, message: RecordsLoaded) -> None:
        message.stop()
        keep = self.table.current_key
        self._all_rows = message.rows
        self._search = message.search
        self.context = message.context
        self.table.fit_columns(message.rows, message.widths)
        self._summary = message.summary
        self.apply_filter(keep_key=keep)
        self._loaded_once = True

    # --- filtering --------------------------------------------------------------------

    @on(Input.Changed, "#filter")
    def filter_changed(self, event: Input.Changed) -> None:
        self.apply_filter(keep_key=self.table.current_key)

    @on(Input.Submitted, "#filter")
    def filter_submitted(self) -> None:
        self.table.focus()

    def apply_filter(self, *, keep_key: str | None = None) -> None:
        needle = self.query_one("#filter", Input).value.strip().lower()
        if needle:
            rows: Sequence[Row] = [row for row, text in zip(self._all_rows, self._search,
                                                             strict=True) if needle in text]
            summary = f"{len(rows):,} of {self._summary}"
        else:
            rows = self._all_rows
            summary = self._summary
        self.table.set_rows(rows, keep_key=keep_key)
        self.query_one("#table-summary", Label).update(summary)

    def action_focus_filter(self) -> None:
        self.query_one("#filter", Input).focus()

    def key_escape(self) -> None:
        # Escape in the filter hands the keys back to the table (where a, p, x... work).
        if self.focused is self.query_one("#filter", Input):
            self.table.focus()

    # --- changes ----------------------------------------------------------------------

    @work(thread=True, exclusive=True, exit_on_error=False, group="change")
    def run_change(self, operation: Callable[[], Change | str | None], done: str,
                   target: str = "Done") -> None:
        """Call core off the UI thread; report the result or core's refusal."""
        self.perform_change(operation, done, target)

    def perform_change(self, operation: Callable[[], Change | str | None], done: str,
                       target: str) -> None:
        """The worker edge, on a worker thread: core's refusal or any failure becomes a
        message, never a traceback."""
        try:
            result = operation()
        except MiabError as exc:
            self.post_message(ChangeRefused(exc.message))
            return
        except Exception as exc:  # noqa: BLE001 - the worker edge: never a traceback
            self.post_message(ChangeRefused(f"The change failed: {exc}"))
            return
        self.post_message(ChangeMade(summarise(result, done), target))

    def on_change_made(self, message: ChangeMade) -> None:
        self.notify(message.summary, title=message.title)
        self.load()

    def on_change_refused(self, message: ChangeRefused) -> None:
        self.notify(message.message, title="Refused", severity="error")

    def report_result(self, result: Change | str | None) -> None:
        """Callback for a form that made the change itself and was dismissed with it."""
        if result is not None:
            self.post_message(ChangeMade(summarise(result, "Done.")))

    def selected_key(self) -> str | None:
        key = self.table.current_key
        if key is None:
            self.notify("Nothing is selected.", severity="warning")
        return key
