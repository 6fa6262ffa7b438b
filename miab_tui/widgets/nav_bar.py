"""NavBar: the row of areas under the header, with the number key that opens each."""

from __future__ import annotations

from textual import events
from textual.app import ComposeResult
from textual.containers import Horizontal
from textual.widgets import Label

from miab_tui.areas import AREAS


class NavBar(Horizontal):
    """Shows every area; the current one is marked. Clicking a name opens that area."""

    DEFAULT_CSS = """
    NavBar { height: 1; background: $panel; padding: 0 1; }
    NavBar > Label { padding: 0 1; color: $text-muted; }
    NavBar > Label:hover { color: $text; background: $boost; }
    NavBar > Label.-current { color: $text; background: $primary-muted; text-style: bold; }
    """

    def __init__(self, current: str) -> None:
        super().__init__(id="nav-bar")
        self.current = current

    def compose(self) -> ComposeResult:
        for number, area in enumerate(AREAS, start=1):
            label = Label(f"{number} {area.title}", id=f"nav-{area.mode}")
            label.set_class(area.mode == self.current, "-current")
            yield label

    def on_click(self, event: events.Click) -> None:
        widget = event.widget
        if (
            widget is not None
            and widget.id
            and widget.id.startswith("nav-")
            and widget.id != "nav-bar"
        ):
            self.app.switch_mode(widget.id.removeprefix("nav-"))
