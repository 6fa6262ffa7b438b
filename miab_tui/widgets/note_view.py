"""NoteView: read-only text that wraps, with spans of it styled (labels, a status in its
urgency colour), still selectable and copyable (ctrl+c) as a TextView is.

The TLS area shows a certificate's details this way: the admin copies a fingerprint, a path
or the TLSA record out of it, and long status texts wrap instead of running off the side.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar, Literal

from rich.style import Style
from rich.text import Text
from textual.widgets import TextArea

from miab_tui.widgets.text_view import TextView

SpanStyle = Literal["label", "title", "muted", "ok", "warning", "error"]


@dataclass(frozen=True, slots=True)
class Span:
    """Characters `start` to `end` (None: to the end of the line) of line `line`."""

    line: int
    start: int
    end: int | None
    style: SpanStyle


@dataclass(frozen=True, slots=True)
class Note:
    """A text and the spans of it to style."""

    text: str
    spans: tuple[Span, ...] = ()


class NoteBuilder:
    """Builds a Note line by line."""

    def __init__(self) -> None:
        self.lines: list[str] = []
        self.spans: list[Span] = []

    def line(self, text: str = "", style: SpanStyle | None = None) -> None:
        if style is not None and text:
            self.spans.append(Span(len(self.lines), 0, None, style))
        self.lines.append(text)

    def field(
        self,
        label: str,
        value: str,
        *,
        width: int = 10,
        style: SpanStyle | None = None,
        label_style: SpanStyle = "label",
    ) -> None:
        """`label` padded to `width`, then `value` (styled as `style` if given)."""
        index = len(self.lines)
        self.spans.append(Span(index, 0, len(label), label_style))
        if style is not None:
            self.spans.append(Span(index, width, None, style))
        self.lines.append(label.ljust(width) + value)

    def note(self) -> Note:
        return Note("\n".join(self.lines), tuple(self.spans))


class NoteView(TextView):
    """A read-only, soft-wrapping TextView showing a Note."""

    COMPONENT_CLASSES: ClassVar[set[str]] = TextArea.COMPONENT_CLASSES | {
        "note-view--label",
        "note-view--title",
        "note-view--muted",
        "note-view--ok",
        "note-view--warning",
        "note-view--error",
    }

    DEFAULT_CSS = """
    NoteView > .note-view--label { color: $text-secondary; }
    NoteView > .note-view--title { text-style: bold; color: $text-primary; }
    NoteView > .note-view--muted { color: $text-muted; }
    NoteView > .note-view--ok { color: $text-success; }
    NoteView > .note-view--warning { text-style: bold; color: $text-warning; }
    NoteView > .note-view--error { text-style: bold; color: $text-error; }
    """

    def __init__(
        self,
        *,
        id: str | None = None,  # noqa: A002 - Textual's name
        classes: str | None = None,
    ) -> None:
        super().__init__(id=id, classes=classes)
        self.soft_wrap = True
        self._spans: dict[int, list[Span]] = {}

    def show_note(self, note: Note) -> None:
        spans: dict[int, list[Span]] = {}
        for span in note.spans:
            spans.setdefault(span.line, []).append(span)
        changed = spans != self._spans
        self._spans = spans
        self.show_text(note.text)
        if changed:
            self.refresh()

    def _span_style(self, name: SpanStyle) -> Style:
        # The full style has translucent colours ($text-muted) blended over the background;
        # a partial one would not. Only the foreground is wanted (the cursor and the
        # selection keep their background).
        full = self.get_component_rich_style(f"note-view--{name}")
        return Style(color=full.color, bold=full.bold, italic=full.italic)

    def get_line(self, line_index: int) -> Text:
        line = super().get_line(line_index)
        for span in self._spans.get(line_index, ()):
            line.stylize(self._span_style(span.style), span.start, span.end)
        return line
