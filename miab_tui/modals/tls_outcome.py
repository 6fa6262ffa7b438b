"""TlsOutcomeDialog: what a provisioning run did, request by request (installed, skipped,
error) with each one's log, then the steps after installing."""

from __future__ import annotations

import textwrap
from typing import Final

from core.mail.addresses import prettify_domain
from core.tls.service import ProvisionOutcome
from miab_tui.modals.note_dialog import NoteDialog
from miab_tui.widgets.note_view import Note, NoteBuilder, SpanStyle

RESULT_STYLES: Final[dict[str, SpanStyle]] = {
    "installed": "ok",
    "error": "error",
    "skipped": "muted",
}
ORDER: Final = {"error": 0, "installed": 1, "skipped": 2}
INDENT: Final = 11


def outcome_title(outcome: ProvisionOutcome) -> str:
    counts = {result: 0 for result in ORDER}
    for request in outcome.requests:
        counts[request.result] = counts.get(request.result, 0) + 1
    parts = [f"{counts[r]} {r}" for r in ("installed", "error", "skipped") if counts[r]]
    return "Provisioning finished: " + (", ".join(parts) if parts else "nothing to do")


def outcome_note(outcome: ProvisionOutcome, width: int = 0) -> Note:
    """Errors first (what needs the admin), then what was installed, then what was skipped;
    each request's domains after its result, its log indented under it (wrapped at `width`
    columns, if given, so a long line stays indented)."""
    indent = " " * INDENT
    note = NoteBuilder()
    requests = sorted(outcome.requests, key=lambda r: ORDER.get(r.result, 3))
    for request in requests:
        style = RESULT_STYLES.get(request.result, "muted")
        domains = ", ".join(prettify_domain(d) for d in request.domains)
        note.field(request.result, domains, width=INDENT, label_style=style)
        for line in request.log:
            for part in line.splitlines() or [""]:
                if width > INDENT + 20:
                    wrapped = textwrap.wrap(
                        part, width, initial_indent=indent, subsequent_indent=indent
                    )
                    for piece in wrapped or [indent]:
                        note.line(piece)
                else:
                    note.line(indent + part)
        note.line()
    if outcome.messages:
        note.line("Then", "title")
        for message in outcome.messages:
            note.line(message)
    if not outcome.requests and not outcome.messages:
        note.line("No domain needed a certificate.", "muted")
    return note.note()


class TlsOutcomeDialog(NoteDialog):
    """Shows a finished provisioning run; the text can be selected and copied."""

    KEY = "tls-outcome"

    def __init__(self, outcome: ProvisionOutcome) -> None:
        super().__init__(outcome_title(outcome), outcome_note(outcome))
        self.outcome = outcome

    def on_mount(self) -> None:
        # NoteDialog.on_mount shows the note first (Textual runs both).
        self.call_after_refresh(self._fit)

    def on_resize(self) -> None:
        self.call_after_refresh(self._fit)

    def _fit(self) -> None:
        """Wrap the log lines to the width the view has, keeping them indented."""
        width = self.view.scrollable_content_region.width - 1
        if width > 0:
            self.view.show_note(outcome_note(self.outcome, width))
