"""QR codes for TOTP provisioning: the module matrix (for the terminal) and a PNG (for the API).

Core draws nothing: the TUI's `QrCode` widget turns the matrix into characters.
"""

from __future__ import annotations

import base64
import io
from dataclasses import dataclass
from typing import Final, Literal

import qrcode
from qrcode.exceptions import DataOverflowError
from qrcode.image.pure import PyPNGImage

from core.errors import ValidationError

ErrorCorrection = Literal["L", "M", "Q", "H"]

QUIET_ZONE: Final = 4  # modules of light border the QR specification asks for
# Segments of at least this many digits/upper-case characters get their own, denser mode:
# the base32 secret is one, which can save a whole version.
_OPTIMIZE_MIN_CHUNK: Final = 20
_LEVELS: Final[dict[str, int]] = {
    "L": qrcode.constants.ERROR_CORRECT_L,
    "M": qrcode.constants.ERROR_CORRECT_M,
    "Q": qrcode.constants.ERROR_CORRECT_Q,
    "H": qrcode.constants.ERROR_CORRECT_H,
}
TOO_LONG: Final = "Too much data for a QR code."


@dataclass(frozen=True, slots=True)
class QrMatrix:
    """A QR symbol as modules, quiet zone not included; True is a dark module."""

    modules: tuple[tuple[bool, ...], ...]
    version: int
    error_correction: ErrorCorrection

    @property
    def size(self) -> int:
        """Modules per side (21 for version 1, four more per version)."""
        return len(self.modules)

    def with_quiet_zone(self, width: int = QUIET_ZONE) -> tuple[tuple[bool, ...], ...]:
        """The modules framed by `width` light modules on every side."""
        side = self.size + 2 * width
        blank = (False,) * side
        edge = (False,) * width
        return (
            (blank,) * width + tuple(edge + row + edge for row in self.modules) + (blank,) * width
        )


def _build(data: str, error_correction: ErrorCorrection, **kwargs: object) -> qrcode.QRCode:
    """Raises: ValidationError: `data` does not fit the largest QR version."""
    code = qrcode.QRCode(error_correction=_LEVELS[error_correction], **kwargs)
    code.add_data(data, optimize=_OPTIMIZE_MIN_CHUNK)
    try:
        code.make(fit=True)
    except DataOverflowError:
        raise ValidationError(TOO_LONG) from None
    return code


def qr_matrix(data: str, *, error_correction: ErrorCorrection = "L") -> QrMatrix:
    """The smallest QR symbol holding `data` at the given error-correction level.

    Level L is the default because a terminal has few rows to spare and a screen, unlike
    paper, does not get smudged.

    Raises:
        ValidationError: `data` is too long for any QR version.
    """
    code = _build(data, error_correction, border=0)
    modules = tuple(tuple(bool(m) for m in row) for row in code.modules)
    return QrMatrix(modules=modules, version=code.version, error_correction=error_correction)


def png_base64(
    data: str,
    *,
    error_correction: ErrorCorrection = "M",
    box_size: int = 10,
    border: int = QUIET_ZONE,
) -> str:
    """A black-on-white PNG of the QR code, base64-encoded (the API's `qr_code_base64`).

    The defaults are the reference's (`qrcode.make`: level M, 10-pixel modules, 4-module
    border). pypng writes it, so no imaging library is needed.

    Raises:
        ValidationError: `data` is too long for any QR version.
    """
    code = _build(
        data, error_correction, box_size=box_size, border=border, image_factory=PyPNGImage
    )
    buffer = io.BytesIO()
    code.make_image().save(buffer)
    return base64.b64encode(buffer.getvalue()).decode("ascii")
