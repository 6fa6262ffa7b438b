"""NavBar: the row of areas under the header, with the number key that opens each.

Ten areas with their keys take 96 columns; in a narrower terminal the bar gives up, in this
order, until it fits: the padding around each name (one space between them), then the
number keys (the help, F1, lists them; each name's tooltip says its key), then every name but
the current area's. The current area is always marked.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final

from rich.cells import cell_len
from textual import events
from textual.app import ComposeResult
from textual.containers import Horizontal
from textual.widgets import Label

from miab_tui.areas import keyed


@dataclass(frozen=True, slots=True)
class NavLayout:
    """How the bar draws: each area's text, and whether the names sit one space apart
    (`compact`) instead of padded on both sides."""

    texts: tuple[str, ...]
    compact: bool

    def width(self) -> int:
        """The cells it takes (without the bar's own padding)."""
        per_label = 1 if self.compact else 2
        return sum(cell_len(text) + per_label for text in self.texts)


# How many cells the bar keeps for itself (its padding: one each side).
BAR_PADDING: Final = 2


def nav_layouts(entries: Sequence[tuple[str, str, bool]]) -> list[NavLayout]:
    """The ways to draw `entries` (key, title, is current), widest first."""
    full = tuple(f"{key} {title}" if key else title for key, title, _ in entries)
    titles = tuple(title for _, title, _ in entries)
    current_only = tuple(
        (f"{key} {title}" if key else title) if current else (key or title[:1])
        for key, title, current in entries
    )
    return [
        NavLayout(full, compact=False),
        NavLayout(full, compact=True),
        NavLayout(titles, compact=False),
        NavLayout(titles, compact=True),
        NavLayout(current_only, compact=True),
    ]


def fit_layout(entries: Sequence[tuple[str, str, bool]], width: int) -> NavLayout:
    """The widest way to draw the bar that fits `width` cells (the last one otherwise)."""
    layouts = nav_layouts(entries)
    room = width - BAR_PADDING
    return next((layout for layout in layouts if layout.width() <= room), layouts[-1])


class NavBar(Horizontal):
    """Shows every area; the current one is marked. Clicking a name opens that area."""

    DEFAULT_CSS = """
    NavBar { height: 1; background: $panel; padding: 0 1; }
    NavBar > Label { padding: 0 1; color: $text-muted; }
    NavBar.-compact > Label { padding: 0; margin-right: 1; }
    NavBar > Label:hover { color: $text; background: $boost; }
    NavBar > Label.-current { color: $text; background: $primary-muted; text-style: bold; }
    """

    def __init__(self, current: str) -> None:
        super().__init__(id="nav-bar")
        self.current = current
        self._entries = [(key, area.title, area.mode == current) for key, area in keyed()]
        self._layout: NavLayout | None = None

    def compose(self) -> ComposeResult:
        layout = nav_layouts(self._entries)[0]
        for (key, area), text in zip(keyed(), layout.texts, strict=True):
            tooltip = f"{area.help} (key {key})" if key else area.help
            label = Label(text, id=f"nav-{area.mode}")
            label.tooltip = tooltip
            label.set_class(area.mode == self.current, "-current")
            yield label

    def on_resize(self, event: events.Resize) -> None:
        self.fit(event.size.width)

    def fit(self, width: int) -> None:
        """Draw the widest layout that fits `width` (the bar's whole width)."""
        layout = fit_layout(self._entries, width)
        if layout == self._layout:
            return
        self._layout = layout
        self.set_class(layout.compact, "-compact")
        for label, text in zip(self.query(Label), layout.texts, strict=True):
            label.update(text)

    def on_click(self, event: events.Click) -> None:
        widget = event.widget
        if (
            widget is not None
            and widget.id
            and widget.id.startswith("nav-")
            and widget.id != "nav-bar"
        ):
            self.app.switch_mode(widget.id.removeprefix("nav-"))
