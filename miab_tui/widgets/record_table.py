"""RecordTable: a read-only table that draws only the rows on screen.

Textual's DataTable measures every cell of every row when rows are added (about 1.3 s for
10,000 users on our bench), which breaks the budget for the users screen and for filtering
as the admin types. This table keeps rows as plain tuples of strings and renders a line
only when it is visible, so loading or filtering 10,000 rows costs a list assignment.

Where it does what DataTable does, it has DataTable's names: `cursor_row`, `row_count`,
`ordered_rows`, `move_cursor`, `clear`, `add_rows`, `get_row`, `get_row_at`,
`get_row_index`, `RowHighlighted`, `RowSelected` and the cursor actions. Row keys are plain
strings. `replace_rows` is its own: swap every row at once, keeping the cursor on a key.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import ClassVar

from rich.cells import cell_len, set_cell_size
from rich.segment import Segment
from rich.style import Style
from textual import events
from textual.binding import Binding, BindingType
from textual.geometry import Size
from textual.message import Message
from textual.reactive import reactive
from textual.scroll_view import ScrollView
from textual.strip import Strip


@dataclass(frozen=True, slots=True)
class Column:
    """A column: its header, and a fixed width or `None` to fit the widest cell."""

    label: str
    width: int | None = None
    # The cell is drawn only on the first row of a run of equal values (a group heading).
    group: bool = False
    # A component class (without the `record-table--` prefix) for non-empty cells.
    badge: str | None = None
    max_width: int = 48


@dataclass(frozen=True, slots=True)
class Row:
    """One record: a key the screens act on, the cell texts, and whether to draw it muted."""

    key: str
    cells: tuple[str, ...]
    muted: bool = False


class RowDoesNotExist(KeyError):
    """No row has that key (DataTable's name for the same error)."""


def column_widths(columns: Sequence[Column], rows: Sequence[Row]) -> list[int]:
    """Each column's width: fixed, or the widest cell (capped), at least the header."""
    widths = []
    for index, column in enumerate(columns):
        if column.width is not None:
            widths.append(column.width)
            continue
        widest = max((cell_len(row.cells[index]) for row in rows), default=0)
        widths.append(min(max(widest, cell_len(column.label)), column.max_width))
    return widths


class RecordTable(ScrollView, can_focus=True):
    """A header line plus virtual rows with a row cursor."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("up,k", "cursor_up", "Up", show=False),
        Binding("down,j", "cursor_down", "Down", show=False),
        Binding("pageup", "page_up", "Page up", show=False),
        Binding("pagedown", "page_down", "Page down", show=False),
        Binding("home", "scroll_top", "First", show=False),
        Binding("end", "scroll_bottom", "Last", show=False),
        Binding("enter", "select_cursor", "Select", show=False),
    ]

    COMPONENT_CLASSES: ClassVar[set[str]] = {
        "record-table--header",
        "record-table--cursor",
        "record-table--muted",
        "record-table--group",
        "record-table--badge",
        "record-table--warning",
        "record-table--empty",
    }

    DEFAULT_CSS = """
    RecordTable {
        height: 1fr;
        overflow-x: hidden;
        overflow-y: auto;
        background: $surface;
        scrollbar-gutter: stable;
    }
    RecordTable > .record-table--header { text-style: bold; color: $text-accent;
        background: $panel; }
    RecordTable > .record-table--cursor { background: $block-cursor-blurred-background;
        color: $block-cursor-blurred-foreground; }
    RecordTable:focus > .record-table--cursor { background: $block-cursor-background;
        color: $block-cursor-foreground; text-style: $block-cursor-text-style; }
    RecordTable > .record-table--muted { color: $text-muted; text-style: italic; }
    RecordTable > .record-table--group { text-style: bold; color: $text-primary; }
    RecordTable > .record-table--badge { text-style: bold; color: $text-success; }
    RecordTable > .record-table--warning { text-style: bold; color: $text-warning; }
    RecordTable > .record-table--empty { color: $text-muted; text-style: italic; }
    """

    cursor_row: reactive[int] = reactive(0, always_update=True, repaint=False, init=False)

    @dataclass
    class RowHighlighted(Message):
        """The cursor moved to a row (or the rows under it changed)."""

        data_table: RecordTable
        cursor_row: int
        row_key: str

        @property
        def control(self) -> RecordTable:
            return self.data_table

    @dataclass
    class RowSelected(Message):
        """Enter (or a double click) on a row."""

        data_table: RecordTable
        cursor_row: int
        row_key: str

        @property
        def control(self) -> RecordTable:
            return self.data_table

    def __init__(
        self,
        columns: Sequence[Column],
        *,
        empty_text: str = "Nothing here.",
        name: str | None = None,
        id: str | None = None,  # noqa: A002 - Textual's name
        classes: str | None = None,
    ) -> None:
        super().__init__(name=name, id=id, classes=classes)
        self.columns: tuple[Column, ...] = tuple(columns)
        self.empty_text = empty_text
        self._rows: Sequence[Row] = ()
        self._widths: list[int] = [c.width or cell_len(c.label) for c in self.columns]

    # --- data -------------------------------------------------------------------------

    @property
    def ordered_rows(self) -> Sequence[Row]:
        """The rows in the order they are shown."""
        return self._rows

    @property
    def row_count(self) -> int:
        return len(self._rows)

    @property
    def cursor_key(self) -> str | None:
        """The key of the row under the cursor, if there is one."""
        if 0 <= self.cursor_row < len(self._rows):
            return self._rows[self.cursor_row].key
        return None

    def get_row_index(self, row_key: str) -> int:
        """Raises: RowDoesNotExist."""
        for index, row in enumerate(self._rows):
            if row.key == row_key:
                return index
        raise RowDoesNotExist(row_key)

    def get_row(self, row_key: str) -> list[str]:
        """The cells of the row with this key. Raises: RowDoesNotExist."""
        return list(self._rows[self.get_row_index(row_key)].cells)

    def get_row_at(self, row_index: int) -> list[str]:
        """The cells of the row at this index. Raises: RowDoesNotExist."""
        if not 0 <= row_index < len(self._rows):
            raise RowDoesNotExist(f"no row at index {row_index}")
        return list(self._rows[row_index].cells)

    def fit_columns(self, rows: Sequence[Row], widths: Sequence[int] | None = None) -> None:
        """Size the auto-width columns to `rows` (all the data, so filtering keeps them
        still), or take `widths` already measured off the UI thread by `column_widths`."""
        self._widths = list(widths) if widths is not None else column_widths(self.columns, rows)

    def replace_rows(self, rows: Sequence[Row], *, keep_key: str | None = None) -> None:
        """Show `rows`; put the cursor on `keep_key` if it is among them, else clamp it."""
        self._rows = rows
        self.virtual_size = Size(self.size.width, len(rows) + 1)
        target = self.cursor_row
        if keep_key is not None:
            for index, row in enumerate(rows):
                if row.key == keep_key:
                    target = index
                    break
        self.cursor_row = max(0, min(target, len(rows) - 1))
        self.refresh()

    def clear(self) -> None:
        """Remove every row (the columns stay)."""
        self.replace_rows(())

    def add_rows(self, rows: Iterable[Row]) -> list[str]:
        """Add rows at the bottom; returns their keys."""
        added = list(rows)
        self.replace_rows([*self._rows, *added], keep_key=self.cursor_key)
        return [row.key for row in added]

    def move_cursor(
        self,
        *,
        row: int | None = None,
        column: int | None = None,
        animate: bool = False,
        scroll: bool = True,
    ) -> None:
        """Put the cursor on row `row` (clamped); there is no column cursor."""
        if row is not None:
            self.cursor_row = max(0, min(row, len(self._rows) - 1))

    # --- cursor -----------------------------------------------------------------------

    def watch_cursor_row(self, old: int, new: int) -> None:
        body = max(1, self.scrollable_content_region.height - 1)
        if new < self.scroll_y:
            self.scroll_to(y=new, animate=False, immediate=True)
        elif new >= self.scroll_y + body:
            self.scroll_to(y=new - body + 1, animate=False, immediate=True)
        self.refresh()
        key = self.cursor_key
        if key is not None:
            self.post_message(self.RowHighlighted(self, new, key))

    def _page(self) -> int:
        return max(1, self.scrollable_content_region.height - 2)

    def action_cursor_up(self) -> None:
        self.cursor_row = max(0, self.cursor_row - 1)

    def action_cursor_down(self) -> None:
        self.cursor_row = max(0, min(self.cursor_row + 1, len(self._rows) - 1))

    def action_page_up(self) -> None:
        self.cursor_row = max(0, self.cursor_row - self._page())

    def action_page_down(self) -> None:
        self.cursor_row = max(0, min(self.cursor_row + self._page(), len(self._rows) - 1))

    def action_scroll_top(self) -> None:
        self.cursor_row = 0

    def action_scroll_bottom(self) -> None:
        self.cursor_row = max(0, len(self._rows) - 1)

    def action_select_cursor(self) -> None:
        key = self.cursor_key
        if key is not None:
            self.post_message(self.RowSelected(self, self.cursor_row, key))

    def on_click(self, event: events.Click) -> None:
        index = int(self.scroll_y) + event.y - 1
        if event.y >= 1 and 0 <= index < len(self._rows):
            self.cursor_row = index
            if event.chain == 2:
                self.action_select_cursor()

    def on_resize(self, event: events.Resize) -> None:
        self.virtual_size = Size(self.scrollable_content_region.width, len(self._rows) + 1)

    # --- drawing ----------------------------------------------------------------------

    def _cell_widths(self, total: int) -> list[int]:
        """Column widths for this width: the last column takes what is left."""
        widths = list(self._widths)
        used = sum(widths[:-1]) + 2 * len(widths) + 1
        widths[-1] = max(1, total - used)
        return widths

    def render_line(self, y: int) -> Strip:
        width = self.scrollable_content_region.width
        base = self.rich_style
        if y == 0:
            header = self.get_component_rich_style("record-table--header")
            cells = [column.label for column in self.columns]
            return self._strip(cells, width, base + header, None, None)
        index = int(self.scroll_y) + y - 1
        if index >= len(self._rows):
            if index == 0 and not self._rows:
                empty = self.get_component_rich_style("record-table--empty")
                text = set_cell_size(" " + self.empty_text, width)
                return Strip([Segment(text, base + empty)], width)
            return Strip.blank(width, base)
        row = self._rows[index]
        style = base
        if row.muted:
            style += self.get_component_rich_style("record-table--muted")
        cursor = None
        if index == self.cursor_row:
            cursor = self.get_component_rich_style("record-table--cursor")
            style += cursor
        cells = list(row.cells)
        previous = self._rows[index - 1] if index > 0 else None
        for column_index, column in enumerate(self.columns):
            # A group's name heads its first visible row only; the blank below reads as a group.
            if (
                column.group
                and previous is not None
                and previous.cells[column_index] == cells[column_index]
            ):
                cells[column_index] = ""
        return self._strip(cells, width, style, row, cursor)

    def _strip(
        self, cells: list[str], width: int, style: Style, row: Row | None, cursor: Style | None
    ) -> Strip:
        segments = [Segment(" ", style)]
        for column, cell, cell_width in zip(
            self.columns, cells, self._cell_widths(width), strict=True
        ):
            cell_style = style
            if row is not None and cell:
                if column.group:
                    cell_style = style + self.get_component_rich_style("record-table--group")
                elif column.badge:
                    cell_style = style + self.get_component_rich_style(
                        "record-table--" + column.badge
                    )
                if cursor is not None:
                    cell_style += cursor
            if cell_len(cell) > cell_width:
                cell = set_cell_size(cell, max(0, cell_width - 1)) + "…"
            segments.append(Segment(set_cell_size(cell, cell_width), cell_style))
            segments.append(Segment("  ", style))
        return Strip(segments).crop_extend(0, width, style)
