"""RecordBrowser: a filter box, a summary of the counts and a RecordTable, as one widget.

Every area shows its records this way. The screen hands the browser all its records (rows,
one lower-cased search text per row, and the summary) with `set_records`; the browser
filters them as the admin types, keeps the cursor on the same record across reloads and
filters, and tells the screen what happened with its own messages:

- `RecordBrowser.Selected`: Enter (or a double click) on a record.
- `RecordBrowser.FilterChanged`: the filter text changed and the table shows its matches.

`filter_text` is reactive: set it to filter from code (another screen opening this one on a
domain), read it to know what is shown.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from textual import on
from textual.app import ComposeResult
from textual.containers import Horizontal
from textual.message import Message
from textual.reactive import reactive
from textual.widget import Widget
from textual.widgets import Input, Label

from miab_tui.widgets.record_table import Column, RecordTable, Row, row_lengths, widths_of


class RecordBrowser(Widget):
    """Filter + summary + table of one area's records."""

    DEFAULT_CSS = """
    RecordBrowser {
        height: 1fr;
        layout: vertical;
    }
    RecordBrowser > .record-browser--bar {
        height: 3;
        padding: 0 1;
        background: $surface;
    }
    RecordBrowser .record-browser--filter {
        width: 1fr;
    }
    /* A fixed width: the count changes on every keystroke and must not re-flow the row;
       in a narrow terminal it gives way to the filter (and ends in an ellipsis). */
    RecordBrowser .record-browser--summary {
        width: 52;
        max-width: 45%;
        height: 3;
        text-wrap: nowrap;
        text-overflow: ellipsis;
        content-align: right middle;
        padding: 0 1;
        color: $text-muted;
    }
    """

    filter_text: reactive[str] = reactive("", init=False)

    @dataclass
    class Selected(Message):
        """Enter (or a double click) on the record with key `key`."""

        browser: RecordBrowser
        key: str

        @property
        def control(self) -> RecordBrowser:
            return self.browser

    @dataclass
    class FilterChanged(Message):
        """The filter is now `text` and the table shows the records that match it."""

        browser: RecordBrowser
        text: str

        @property
        def control(self) -> RecordBrowser:
            return self.browser

    def __init__(
        self,
        columns: Sequence[Column],
        *,
        placeholder: str = "Filter",
        empty_text: str = "Nothing here.",
        table_id: str | None = None,
        name: str | None = None,
        id: str | None = None,  # noqa: A002 - Textual's name
        classes: str | None = None,
    ) -> None:
        super().__init__(name=name, id=id, classes=classes)
        self._columns = tuple(columns)
        self._placeholder = placeholder
        self._empty_text = empty_text
        self._table_id = table_id
        self._all_rows: Sequence[Row] = ()
        self._search: Sequence[str] = ()
        self._lengths: Sequence[tuple[int, ...]] = ()
        self._all_widths: list[int] = []
        self._summary = ""

    def compose(self) -> ComposeResult:
        with Horizontal(classes="record-browser--bar"):
            yield Input(placeholder=self._placeholder, classes="record-browser--filter")
            yield Label("", classes="record-browser--summary")
        yield RecordTable(self._columns, empty_text=self._empty_text, id=self._table_id)

    def on_mount(self) -> None:
        self.filter_input.cursor_blink = getattr(self.app, "cursor_blink", True)

    # --- parts ------------------------------------------------------------------------

    @property
    def table(self) -> RecordTable:
        return self.query_one(RecordTable)

    @property
    def filter_input(self) -> Input:
        return self.query_one(".record-browser--filter", Input)

    @property
    def summary(self) -> str:
        """The summary as shown (`3 of 7 users…` while a filter is on)."""
        return str(self.query_one(".record-browser--summary", Label).render())

    @property
    def cursor_key(self) -> str | None:
        return self.table.cursor_key

    @property
    def filter_has_focus(self) -> bool:
        return self.filter_input.has_focus

    def focus_filter(self) -> None:
        self.filter_input.focus()

    def focus_table(self) -> None:
        self.table.focus()

    # --- records ----------------------------------------------------------------------

    def set_records(
        self,
        rows: Sequence[Row],
        search: Sequence[str],
        summary: str,
        widths: Sequence[int] | None = None,
        lengths: Sequence[tuple[int, ...]] | None = None,
    ) -> None:
        """Take every record; show those the filter matches with the cursor still on the
        record it was on. `lengths` (`row_lengths`) and `widths` (their `widths_of`) may come
        measured off the UI thread; the columns fit the rows shown."""
        keep = self.table.cursor_key
        self._all_rows = rows
        self._search = search
        self._summary = summary
        self._lengths = lengths if lengths is not None else row_lengths(self._columns, rows)
        self._all_widths = (
            list(widths) if widths is not None else widths_of(self._columns, self._lengths)
        )
        self._show(keep)

    @property
    def all_rows(self) -> Sequence[Row]:
        """Every record, the filter aside."""
        return self._all_rows

    def update_rows(self, changed: Mapping[str, Row]) -> None:
        """Replace the records with these keys (their search texts stay), keeping the
        filter and the cursor."""
        if not changed:
            return
        rows = list(self._all_rows)
        lengths = list(self._lengths)
        for index, row in enumerate(rows):
            new = changed.get(row.key)
            if new is not None:
                rows[index] = new
                lengths[index] = row_lengths(self._columns, [new])[0]
        self._all_rows = rows
        self._lengths = lengths
        self._all_widths = widths_of(self._columns, lengths)
        self._show(self.table.cursor_key)

    def _show(self, keep_key: str | None) -> None:
        needle = self.filter_text.strip().lower()
        if needle:
            matches = [index for index, text in enumerate(self._search) if needle in text]
            all_rows = self._all_rows
            lengths = self._lengths
            rows: Sequence[Row] = [all_rows[index] for index in matches]
            widths = widths_of(self._columns, [lengths[index] for index in matches])
            summary = f"{len(rows):,} of {self._summary}"
        else:
            rows = self._all_rows
            widths = self._all_widths
            summary = self._summary
        # The columns follow the rows shown: a long value the filter hides widens nothing.
        self.table.fit_columns(rows, widths)
        self.table.replace_rows(rows, keep_key=keep_key)
        # No layout for a new count: the summary's size is fixed in CSS (above). A layout of
        # the screen is a second one per keystroke (the Input makes one) and costs ~5 ms.
        self.query_one(".record-browser--summary", Label).update(summary, layout=False)

    def watch_filter_text(self, text: str) -> None:
        if self.filter_input.value != text:
            self.filter_input.value = text
        self._show(self.table.cursor_key)
        self.post_message(self.FilterChanged(self, text))

    # --- events -----------------------------------------------------------------------

    @on(Input.Changed, ".record-browser--filter")
    def _filter_typed(self, event: Input.Changed) -> None:
        event.stop()
        # Keys that came in one burst queue a Changed per key: only the box's text now
        # counts. Taking a stale one would write it back into the box (watch_filter_text),
        # queue another Changed, and the two would set each other back and forth forever.
        if event.value != self.filter_input.value:
            return
        self.filter_text = event.value

    @on(Input.Submitted, ".record-browser--filter")
    def _filter_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        self.table.focus()

    @on(RecordTable.RowSelected)
    def _row_selected(self, event: RecordTable.RowSelected) -> None:
        if event.data_table is self.table:
            event.stop()
            self.post_message(self.Selected(self, event.row_key))
