"""TextView and DiffView: read-only text the admin scrolls, selects and copies (ctrl+c).

Zone files, DS records and update diffs are things an admin pastes elsewhere (a registrar's
form, a ticket), so they are shown in a read-only TextArea rather than a Static: the text can
be selected with the keyboard or the mouse, and long lines scroll sideways instead of wrapping
into something that no longer reads as a zone file.
"""

from __future__ import annotations

from typing import ClassVar

from rich.text import Text
from textual.widgets import TextArea


class TextView(TextArea):
    """A read-only TextArea without line numbers, sized by its container."""

    DEFAULT_CSS = """
    TextView { height: 1fr; border: none; padding: 0 1; background: $surface; }
    TextView:focus { border: none; background-tint: $foreground 3%; }
    """

    def __init__(
        self,
        text: str = "",
        *,
        id: str | None = None,  # noqa: A002 - Textual's name
        classes: str | None = None,
    ) -> None:
        super().__init__(
            text,
            read_only=True,
            soft_wrap=False,
            show_line_numbers=False,
            tab_behavior="focus",
            highlight_cursor_line=False,
            id=id,
            classes=classes,
        )

    def on_mount(self) -> None:
        # Tests and snapshots turn blinking off app-wide so frames are deterministic.
        self.cursor_blink = getattr(self.app, "cursor_blink", True)

    def show_text(self, text: str) -> None:
        """Replace the text, keeping the scroll position when it did not change."""
        if text != self.text:
            self.load_text(text)


class DiffView(TextView):
    """Unified diffs with added, removed, hunk and file-header lines coloured by the theme."""

    COMPONENT_CLASSES: ClassVar[set[str]] = TextArea.COMPONENT_CLASSES | {
        "diff-view--added",
        "diff-view--removed",
        "diff-view--hunk",
        "diff-view--file",
        "diff-view--note",
    }

    DEFAULT_CSS = """
    DiffView > .diff-view--added { color: $text-success; }
    DiffView > .diff-view--removed { color: $text-error; }
    DiffView > .diff-view--hunk { color: $text-accent; }
    DiffView > .diff-view--file { text-style: bold; color: $text-primary; }
    DiffView > .diff-view--note { color: $text-muted; text-style: italic; }
    """

    def get_line(self, line_index: int) -> Text:
        line = super().get_line(line_index)
        text = line.plain
        if text.startswith(("+++ ", "--- ")):
            kind = "file"
        elif text.startswith("+"):
            kind = "added"
        elif text.startswith("-"):
            kind = "removed"
        elif text.startswith("@@"):
            kind = "hunk"
        elif text.startswith("#"):
            kind = "note"
        else:
            return line
        line.stylize(self.get_component_rich_style(f"diff-view--{kind}", partial=True))
        return line
