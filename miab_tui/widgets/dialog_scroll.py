"""DialogScroll: the frame of a dialog (`.dialog`), scrolling what lies between its docked
title and buttons when the terminal is too short for it (app.tcss)."""

from __future__ import annotations

from textual.containers import VerticalScroll


class DialogScroll(VerticalScroll, can_focus=False):
    """Never focused itself, so a dialog's first field has the keys when it opens; focusing
    a field below the fold scrolls it into sight."""
