"""The activity area: the audit log of changes, newest first."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import ClassVar

from textual import on

from core.audit import AuditRecord, display_target
from miab_tui.display import display_text, plural
from miab_tui.messages import ActivityLoaded
from miab_tui.modals.details import DetailsDialog
from miab_tui.screens.base import AreaScreen
from miab_tui.widgets.record_browser import RecordBrowser
from miab_tui.widgets.record_table import Column, Row

# How much of the log the screen shows; older entries stay in the box's state database.
ACTIVITY_LIMIT = 1000


def format_time(timestamp: float) -> str:
    # UTC, as the box's mail logs are, so the same moment reads the same on every terminal.
    return datetime.fromtimestamp(timestamp, UTC).strftime("%Y-%m-%d %H:%M:%S")


class ActivityScreen(AreaScreen):
    """Who changed what, from which face (tui, api, cli), and how it ended."""

    AREA = "activity"
    SUB_TITLE = "Activity"
    FILTER_PLACEHOLDER = "Filter: address, operation, face, refused"
    EMPTY_TEXT = "No changes recorded yet."
    COLUMNS = (
        Column("Time (UTC)", width=19),
        Column("Actor", max_width=24),
        Column("Face", width=5),  # tui, api, cli, setup
        Column("Operation", max_width=18),
        Column("Target", max_width=40),
        Column("Outcome"),
    )
    HELP_KEYS: ClassVar[tuple[tuple[str, str], ...]] = (
        ("enter", "The selected change in full (its whole outcome)"),
    )

    @property
    def records(self) -> tuple[AuditRecord, ...]:
        return self.context if isinstance(self.context, tuple) else ()

    def read_records(self) -> ActivityLoaded:
        rows: list[Row] = []
        search: list[str] = []
        records = self.box.audit.recent(ACTIVITY_LIMIT)
        for number, record in enumerate(records):
            # Targets are stored in IDNA; shown in Unicode (`info@bücher.example`).
            cells = (
                format_time(record.time),
                record.actor,
                record.face,
                record.operation,
                display_target(record.target),
                record.outcome,
            )
            rows.append(Row(str(number), cells, muted=record.outcome != "ok"))
            search.append(" ".join(cells).lower())
        return ActivityLoaded(rows, search, plural(len(records), "change"), records)

    @on(RecordBrowser.Selected)
    def entry_chosen(self, event: RecordBrowser.Selected) -> None:
        records = self.records
        index = int(event.key)
        if index >= len(records):
            return
        record = records[index]
        self.app.push_screen(
            DetailsDialog(
                f"{record.operation}: {display_target(record.target)}",
                [
                    ("Time", format_time(record.time) + " UTC"),
                    ("Actor", record.actor),
                    ("Face", record.face),
                    ("Operation", record.operation),
                    ("Target", display_target(record.target)),
                    ("Outcome", display_text(record.outcome)),
                ],
                id="activity-entry",
            )
        )
