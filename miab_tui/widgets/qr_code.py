"""QrCode: a scannable QR code drawn in the terminal with half-block characters.

A terminal cell is about twice as tall as it is wide, so each cell shows two modules stacked
vertically (`▀`, `▄`, `█` or a space): modules come out square and the code takes half as
many rows as it has modules. The matrix comes from `core.mfa.qr`; this widget only draws it.
"""

from __future__ import annotations

from collections.abc import Sequence

from rich.text import Text
from textual.geometry import Size
from textual.reactive import reactive
from textual.widget import Widget

from core.mfa.qr import QUIET_ZONE, QrMatrix, qr_matrix

# Indexed by (top dark, bottom dark); dark modules are drawn in the foreground colour.
_HALF_BLOCKS: dict[tuple[bool, bool], str] = {
    (False, False): " ",
    (True, False): "▀",
    (False, True): "▄",
    (True, True): "█",
}


def half_block_lines(rows: Sequence[Sequence[bool]]) -> list[str]:
    """Two module rows per text line; an odd last row is paired with a light one."""
    lines = []
    for top_index in range(0, len(rows), 2):
        top = rows[top_index]
        bottom = rows[top_index + 1] if top_index + 1 < len(rows) else [False] * len(top)
        lines.append(
            "".join(_HALF_BLOCKS[bool(t), bool(b)] for t, b in zip(top, bottom, strict=True))
        )
    return lines


class QrCode(Widget):
    """Shows `data` as a QR code (smallest version at level L, 4-module quiet zone).

    The colours are fixed black on white, not theme colours: scanners expect dark modules
    on a light ground, and a dark theme would otherwise invert the code (most phone scanners
    then fail) or draw its quiet zone in the background colour.
    """

    DEFAULT_CSS = """
    QrCode {
        width: auto;
        height: auto;
        background: #ffffff;
        color: #000000;
        text-style: none;
        padding: 0;
    }
    """

    data: reactive[str] = reactive("", layout=True)
    """The text to encode (an `otpauth://` URI); empty shows nothing."""

    def __init__(
        self,
        data: str = "",
        *,
        quiet_zone: int = QUIET_ZONE,
        name: str | None = None,
        id: str | None = None,
        classes: str | None = None,
    ) -> None:
        super().__init__(name=name, id=id, classes=classes)
        self._quiet_zone = quiet_zone
        self._cache: tuple[str, list[str]] | None = None
        self.set_reactive(QrCode.data, data)

    @property
    def matrix(self) -> QrMatrix | None:
        """The QR modules of `data` (None when there is no data)."""
        return qr_matrix(self.data) if self.data else None

    def text_lines(self) -> list[str]:
        """The code as drawn: one string per terminal row, quiet zone included.

        (Not `render_lines`: that name is Textual's own compositor hook.)
        """
        if self._cache is None or self._cache[0] != self.data:
            matrix = self.matrix
            lines = (
                [] if matrix is None else half_block_lines(matrix.with_quiet_zone(self._quiet_zone))
            )
            self._cache = (self.data, lines)
        return list(self._cache[1])

    def render(self) -> Text:
        return Text("\n".join(self.text_lines()), no_wrap=True, overflow="crop", end="")

    def get_content_width(self, container: Size, viewport: Size) -> int:
        lines = self.text_lines()
        return len(lines[0]) if lines else 0

    def get_content_height(self, container: Size, viewport: Size, width: int) -> int:
        return len(self.text_lines())
