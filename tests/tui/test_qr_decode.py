"""The QR code drawn in the terminal scans: render it headlessly, turn the half-block text
into a bitmap, decode it with a real QR decoder (zxing-cpp) and get the exact URI back."""

from __future__ import annotations

import base64

import png
import pyotp
import pytest
import zxingcpp
from textual.app import App, ComposeResult
from textual.geometry import Region

from core import Box
from miab_tui.widgets.qr_code import QrCode, half_block_lines

ME = "me@example.com"
# Dark modules per half of a cell: (top, bottom).
_HALVES = {" ": (False, False), "▀": (True, False), "▄": (False, True), "█": (True, True)}
SCALE = 4  # pixels per module: decoders want more than one pixel per module


class QrApp(App[None]):
    def __init__(self, data: str, theme: str) -> None:
        super().__init__()
        self._data = data
        self._theme_name = theme

    def compose(self) -> ComposeResult:
        yield QrCode(self._data, id="qr")

    def on_mount(self) -> None:
        self.theme = self._theme_name


def bitmap(lines: list[str]) -> memoryview:
    """A greyscale image (0 dark, 255 light) of the half-block text, SCALE pixels a module."""
    height, width = 2 * len(lines) * SCALE, len(lines[0]) * SCALE
    pixels = bytearray()
    for line in lines:
        assert len(line) == len(lines[0])
        for half in (0, 1):
            row = b"".join((b"\x00" if _HALVES[ch][half] else b"\xff") * SCALE for ch in line)
            pixels += row * SCALE
    return memoryview(bytes(pixels)).cast("B", (height, width))


def decode(image: memoryview) -> list[str]:
    # No inverted retry: a code drawn light-on-dark must fail this test.
    return [
        result.text
        for result in zxingcpp.read_barcodes(
            image, formats=zxingcpp.BarcodeFormat.QRCode, try_invert=False
        )
    ]


async def render_headless(
    data: str, theme: str, size: tuple[int, int] = (80, 40)
) -> tuple[list[str], QrCode]:
    """The widget's exported lines, after checking they are what the screen shows."""
    app = QrApp(data, theme)
    async with app.run_test(size=size) as pilot:
        await pilot.pause()
        widget = app.query_one(QrCode)
        lines = widget.text_lines()
        assert (widget.size.width, widget.size.height) == (len(lines[0]), len(lines))
        strips = widget.render_lines(Region(0, 0, widget.size.width, widget.size.height))
        assert ["".join(segment.text for segment in strip) for strip in strips] == lines
        # Black on white whatever the theme: dark modules are the foreground colour.
        for strip in strips:
            for segment in strip:
                assert segment.style is not None
                assert segment.style.color is not None and segment.style.bgcolor is not None
                assert segment.style.color.get_truecolor() == (0, 0, 0)
                assert segment.style.bgcolor.get_truecolor() == (255, 255, 255)
                assert not segment.style.reverse
        return lines, widget


@pytest.mark.parametrize("theme", ["textual-dark", "textual-light", "solarized-dark"])
async def test_provisioning_uri_scans_from_the_terminal(demo_box: Box, theme: str) -> None:
    provisioning = demo_box.mfa.provision_totp(ME)
    lines, _ = await render_headless(provisioning.uri, theme)
    assert decode(bitmap(lines)) == [provisioning.uri]


async def test_quiet_zone_and_size(demo_box: Box) -> None:
    provisioning = demo_box.mfa.provision_totp(ME)
    matrix = provisioning.qr_matrix()
    lines, _ = await render_headless(provisioning.uri, "textual-dark")
    side = matrix.size + 8
    assert len(lines[0]) == side and len(lines) == (side + 1) // 2
    # Four light modules all round: two blank lines on top, at least two at the bottom
    # (the odd last row is paired with a light one), four blank columns either side.
    assert lines[0].strip() == lines[1].strip() == "" == lines[-1].strip() == lines[-2].strip()
    assert all(line[:4] == line[-4:] == "    " for line in lines)
    assert lines[2][4] in "▀█"


async def test_a_37_module_code_fits_an_80x24_terminal() -> None:
    # The length of an otpauth URI with a 32-character secret and a short issuer.
    uri = pyotp.TOTP("JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXQ").provisioning_uri(
        name=ME, issuer_name="box.example.com"
    )
    lines, widget = await render_headless(uri, "textual-dark", size=(80, 24))
    assert widget.matrix is not None and widget.matrix.size == 37
    assert len(lines) == 23 and len(lines[0]) == 45
    assert widget.region.bottom <= 24
    assert decode(bitmap(lines)) == [uri]


async def test_empty_data_draws_nothing_and_data_can_change() -> None:
    app = QrApp("", "textual-dark")
    async with app.run_test(size=(80, 40)) as pilot:
        widget = app.query_one(QrCode)
        assert widget.text_lines() == [] and widget.matrix is None
        widget.data = "otpauth://totp/x:y?secret=JBSWY3DPEHPK3PXP"
        await pilot.pause()
        assert widget.size.height == len(widget.text_lines()) > 0
        assert decode(bitmap(widget.text_lines())) == [widget.data]


def test_half_blocks_pair_rows_top_over_bottom() -> None:
    rows = [[True, True, False, False], [True, False, True, False], [False, True, True, False]]
    assert half_block_lines(rows) == ["█▀▄ ", " ▀▀ "]


def test_api_png_scans(demo_box: Box) -> None:
    provisioning = demo_box.mfa.provision_totp(ME)
    width, height, rows, info = png.Reader(
        bytes=base64.b64decode(provisioning.qr_code_base64)
    ).asDirect()
    assert info["greyscale"] and info["planes"] == 1
    top = 2 ** info["bitdepth"] - 1
    pixels = b"".join(bytes(255 * value // top for value in row) for row in rows)
    assert decode(memoryview(pixels).cast("B", (height, width))) == [provisioning.uri]
