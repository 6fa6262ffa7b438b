"""The frame the TLS dialogs share: the look of the app's `.dialog`, with less padding and
the whole height when needed, so a PEM stays readable in an 80x24 terminal.

(app.tcss's `.dialog` rules outrank any widget's DEFAULT_CSS, so these dialogs use classes of
their own rather than overriding it.)
"""

from __future__ import annotations

from typing import Final

DIALOG_CSS: Final = """
.tls-dialog {
    width: 84;
    max-width: 100%;
    height: auto;
    max-height: 100%;
    padding: 0 1;
    border: thick $primary 80%;
    background: $surface;
}
.tls-dialog-title { text-style: bold; color: $text-primary; }
.tls-dialog-note { color: $text-muted; }
.tls-dialog-buttons { height: auto; align-horizontal: right; }
.tls-dialog-buttons > Button { margin-left: 2; }
"""
