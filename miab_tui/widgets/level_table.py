"""LevelTable and LevelBrowser: a RecordTable whose rows carry an urgency level, drawn in the
level's colour in the columns marked for it (`Column(badge="level")`).

The TLS area colours each domain's status and days to expiry by how soon the admin must act:
`ok` (green), `warning` (yellow), `error` (red); a row with no level draws as RecordTable
draws it (a muted row stays muted). Under the cursor the cursor's colours win, as for badges.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import ClassVar, Final, Literal

from rich.segment import Segment
from rich.style import Style
from textual.app import ComposeResult
from textual.strip import Strip
from textual.widget import Widget

from miab_tui.widgets.record_browser import RecordBrowser
from miab_tui.widgets.record_table import RecordTable, Row, fit_cell

Level = Literal["", "ok", "warning", "error"]
LEVEL_BADGE: Final = "level"  # Column.badge of the columns drawn in the row's level colour


@dataclass(frozen=True, slots=True)
class LevelRow(Row):
    """A row with the urgency of its record ("" for none)."""

    level: Level = ""


class LevelTable(RecordTable):
    """RecordTable that colours a row's `level` columns by the row's `LevelRow.level`."""

    COMPONENT_CLASSES: ClassVar[set[str]] = RecordTable.COMPONENT_CLASSES | {
        "level-table--ok",
        "level-table--warning",
        "level-table--error",
    }

    DEFAULT_CSS = """
    LevelTable > .level-table--ok { color: $text-success; }
    LevelTable > .level-table--warning { text-style: bold; color: $text-warning; }
    LevelTable > .level-table--error { text-style: bold; color: $text-error; }
    """

    def _strip(
        self, cells: list[str], width: int, style: Style, row: Row | None, cursor: Style | None
    ) -> Strip:
        # RecordTable's drawing, with the level's colour on the `level` columns.
        level = row.level if isinstance(row, LevelRow) else ""
        level_style = self.get_component_rich_style(f"level-table--{level}") if level else None
        segments = [Segment(" ", style)]
        for column, cell, cell_width in zip(
            self.columns, cells, self._cell_widths(width), strict=True
        ):
            cell_style = style
            if cell:
                if column.badge == LEVEL_BADGE:
                    if level_style is not None:
                        cell_style = style + level_style
                elif column.group:
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


class LevelBrowser(RecordBrowser):
    """RecordBrowser over a LevelTable."""

    def compose(self) -> ComposeResult:
        yield from _with_level_table(super().compose())


def _with_level_table(widgets: ComposeResult) -> Iterator[Widget]:
    for widget in widgets:
        if type(widget) is RecordTable:
            yield LevelTable(widget.columns, empty_text=widget.empty_text, id=widget.id)
        else:
            yield widget
