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
from operator import itemgetter
from typing import ClassVar, Final

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
    """A column: its header, and a fixed width or `None` to fit its cells.

    A fitted column is as wide as its widest shown cell, up to `max_width` (a longer cell
    ends in an ellipsis); when the table has room to spare, the columns cut short grow
    towards their widest cell, and when it is narrow they give way so the last column keeps
    some room (see `layout_widths`).
    """

    label: str
    width: int | None = None
    # The cell is drawn only on the first row of a run of equal values (a group heading).
    group: bool = False
    # A component class (without the `record-table--` prefix) for non-empty cells.
    badge: str | None = None
    max_width: int = 48
    # How far a fitted column gives way in a narrow table (`COLUMN_MIN` when None).
    min_width: int | None = None


@dataclass(frozen=True, slots=True)
class Row:
    """One record: a key the screens act on, the cell texts, and whether to draw it muted."""

    key: str
    cells: tuple[str, ...]
    muted: bool = False


class RowDoesNotExist(KeyError):
    """No row has that key (DataTable's name for the same error)."""


# The last column keeps at least this much of a narrow table (when its cells are as wide),
# and a fitted column gives way down to its `min_width`, else to this.
LAST_COLUMN_MIN: Final = 20
COLUMN_MIN: Final = 6


def row_lengths(columns: Sequence[Column], rows: Sequence[Row]) -> list[tuple[int, ...]]:
    """Each row's cell widths in terminal cells (0 for fixed columns): measured once (off the
    UI thread for an area's records), so the widths of any filtered subset are a `max`."""
    fitted = [index for index, column in enumerate(columns) if column.width is None]
    lengths = []
    for row in rows:
        cells = row.cells
        measured = [0] * len(columns)
        for index in fitted:
            measured[index] = cell_len(cells[index])
        lengths.append(tuple(measured))
    return lengths


def widths_of(columns: Sequence[Column], lengths: Sequence[tuple[int, ...]]) -> list[int]:
    """Each column's natural width over rows of these `row_lengths`: fixed, or the widest
    cell (at least the header).

    Runs on every filter keystroke, so it reads one column at a time and makes no object per
    row: `zip(*lengths)` made an iterator per row, 10,000 allocations per keystroke that ran
    Python's full garbage collections twice as often."""
    widths = []
    for index, column in enumerate(columns):
        if column.width is not None:
            widths.append(column.width)
        else:
            widest = max(map(itemgetter(index), lengths), default=0)
            widths.append(max(widest, cell_len(column.label)))
    return widths


def column_widths(columns: Sequence[Column], rows: Sequence[Row]) -> list[int]:
    """Each column's natural width over `rows` (fixed, or the widest cell, at least the
    header); `layout_widths` fits them to the table."""
    return widths_of(columns, row_lengths(columns, rows))


def layout_widths(columns: Sequence[Column], natural: Sequence[int], total: int) -> list[int]:
    """The drawn width of each column in a table `total` cells wide (one cell of margin, two
    between columns). The last column takes whatever is left.

    Fitted columns start at their natural width up to `max_width`. Room to spare goes, in
    equal shares, to the columns that are cut short (the last one included), up to their
    natural width; a table too narrow takes room from the widest fitted columns first, down
    to their `min_width`, so the last column keeps `LAST_COLUMN_MIN` cells where it can.
    """
    count = len(columns)
    if count == 0:
        return []
    room = total - 2 * count - 1
    widths = []
    for column, width in zip(columns, natural, strict=True):
        widths.append(width if column.width is not None else min(width, column.max_width))
    last = count - 1
    if columns[last].width is None:
        widths[last] = min(natural[last], max(LAST_COLUMN_MIN, columns[last].max_width))
    spare = room - sum(widths)
    if spare > 0:
        # Grow the columns cut short, equal shares at a time, up to what their cells need.
        while spare > 0:
            short = [i for i in range(count) if widths[i] < natural[i]]
            if not short:
                break
            share = max(1, spare // len(short))
            for index in short:
                grow = min(share, natural[index] - widths[index], spare)
                widths[index] += grow
                spare -= grow
                if spare == 0:
                    break
    elif spare < 0:
        # Too narrow: keep the last column readable, shrinking the widest fitted ones first.
        want_last = min(widths[last], LAST_COLUMN_MIN)
        floors = [
            widths[i]
            if columns[i].width is not None or i == last
            else min(widths[i], columns[i].min_width or COLUMN_MIN)
            for i in range(count)
        ]
        floors[last] = want_last
        deficit = -spare
        while deficit > 0:
            shrinkable = [i for i in range(count) if widths[i] > floors[i]]
            if not shrinkable:
                break
            widest = max(widths[i] for i in shrinkable)
            for index in shrinkable:
                if widths[index] == widest and deficit > 0:
                    widths[index] -= 1
                    deficit -= 1
    widths[last] = max(1, room - sum(widths[:last]))
    return widths


def fit_cell(cell: str, width: int) -> str:
    """The cell padded or cut to `width` cells; a cut cell ends in an ellipsis."""
    if cell_len(cell) > width:
        cell = set_cell_size(cell, max(0, width - 1)) + "…"
    return set_cell_size(cell, width)


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
        # The natural widths of the shown rows, and the layout last drawn from them.
        self._widths: list[int] = [c.width or cell_len(c.label) for c in self.columns]
        self._layout: tuple[int, list[int]] | None = None

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
        """Size the fitted columns to `rows` (the rows shown), or take their natural `widths`
        already measured (off the UI thread, or from `row_lengths`)."""
        widths = list(widths) if widths is not None else column_widths(self.columns, rows)
        if widths != self._widths:
            self._widths = widths
            self._layout = None
            self.refresh()

    @property
    def natural_widths(self) -> list[int]:
        """Each column's natural width over the rows it was last fitted to."""
        return list(self._widths)

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
        """Column widths for a table `total` cells wide (`layout_widths`), kept until the
        width or the fitted widths change."""
        if self._layout is None or self._layout[0] != total:
            self._layout = (total, layout_widths(self.columns, self._widths, total))
        return self._layout[1]

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
            segments.append(Segment(fit_cell(cell, cell_width), cell_style))
            segments.append(Segment("  ", style))
        return Strip(segments).crop_extend(0, width, style)
